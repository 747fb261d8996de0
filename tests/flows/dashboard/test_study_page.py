"""A scaling study on the dashboard: its own run page with the comparison table and the PNG plots.

The study's grid is answered from a results table filled with losses of a known law
(L = E + A/M^0.3 + B/D^0.3), so ``run_scaling_study`` fits and plots without training.
"""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

from flows.dashboard.collect import find_runs
from flows.dashboard.page import run_page
from flows.dashboard.server import DashboardServer
from tasks.scaling_study import Shape, StudyConfig, grid_points, run_scaling_study


def _known_law_study(out: Path) -> StudyConfig:
    cfg = StudyConfig(
        data={"curated": "unused-a", "raw": "unused-b"}, out=str(out), budgets=[1e12, 3e12, 1e13, 3e13],
        lr_grid=[1e-3, 3e-3], batch_grid=[8, 16],
        shapes=[Shape(1, 32, 2), Shape(2, 64, 4), Shape(4, 128, 4), Shape(6, 192, 6), Shape(8, 256, 8)],
        seq_len=128, bootstrap=20,
    )
    rows = []
    for p in grid_points(cfg):
        e = 1.5 if p["variant"] == "curated" else 2.0
        loss = e + 400 / p["model_scale"] ** 0.3 + 600 / p["tokens"] ** 0.3
        loss *= 1 + 0.02 * abs(p["lr"] - 2e-3) / 1e-3 + 0.01 * abs(p["batch_size"] - 12) / 4
        rows.append({**p, "status": "ok", "loss": loss, "seconds": 0.0})
    out.mkdir(parents=True)
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return cfg


def test_study_gets_a_page_with_comparison_and_plots(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    report = run_scaling_study(_known_law_study(root / "study"), executor="local")
    assert report["plots"] and all(Path(p).is_file() for p in report["plots"])
    # a grid run's metrics.jsonl inside the study must not become a run of its own
    (root / "study" / "curated" / "runs" / "x").mkdir(parents=True)
    (root / "study" / "curated" / "runs" / "x" / "metrics.jsonl").write_text('{"step": 1, "loss": 3.0}\n')

    runs = find_runs(root)
    assert [r.name for r in runs] == ["study"]
    study = runs[0].study
    assert study is not None and study.results == len(grid_points(_known_law_study(tmp_path / "again")))
    assert {p.name for p in study.plots} == {Path(p).name for p in report["plots"]}

    html = run_page(runs[0])
    assert "Data-quality comparison" in html
    rows = re.findall(r"<tr><td class=\"l\">(curated|raw)</td>(.*?)</tr>", html)
    assert [v for v, _ in rows] == ["curated", "raw"]
    a = report["comparison"]["curated"]["a"]
    assert f"{a:.3f}" in dict(rows)["curated"]  # the fitted allocation exponent is shown
    assert html.count('src="data:image/png;base64,') == len(report["plots"])

    server = DashboardServer(root, port=0).start()
    try:
        body = urllib.request.urlopen(server.url + "/", timeout=10).read().decode()
        assert "Scaling study study" in body and "data:image/png;base64," in body
    finally:
        server.stop()
