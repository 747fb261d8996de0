"""``longterm calibrate-filters`` on a small demo crawl: writes a FilterConfig override and a held-out report.

    python -m pytest -q tests/tasks/test_calibrate_filters.py
"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tasks.config import parse
from tasks.demo_crawl import generate_demo_crawl
from tasks.filter import FilterConfig
from tasks.filter_calibration import load_sample, split_halves


def test_cli_fits_on_one_half_and_reports_on_the_other(tmp_path: Path) -> None:
    from flows.cli import app

    crawl = tmp_path / "crawl"
    generate_demo_crawl(str(crawl), num_docs=600, num_dumps=1, seed=2)
    clean, junk = load_sample([f"demo:{crawl}"], "clean"), load_sample([f"demo:{crawl}"], "junk")
    assert set(clean.column("lang").to_pylist()) == {"en", "zh"} and junk.num_rows >= 30
    fit, held = split_halves(clean)
    assert fit.num_rows + held.num_rows == clean.num_rows
    assert not set(fit.column("text").to_pylist()) & set(held.column("text").to_pylist())

    out = tmp_path / "cal" / "filter.yaml"
    result = CliRunner().invoke(app, ["calibrate-filters", "--clean", f"demo:{crawl}", "--junk", f"demo:{crawl}", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "clean kept (default -> calibrated)" in result.output
    parse(FilterConfig, str(out))  # a valid override file for `longterm filter --config`
    report = json.loads(Path(str(out) + ".report.json").read_text())
    assert report["fit_documents"] + report["eval_documents"] == clean.num_rows
    for lang in ("en", "zh"):
        row = report["rates"]["calibrated"][lang]
        assert row["clean"] > 0 and 0 <= row["clean_kept_rate"] <= 1
        assert row["clean_kept_rate"] >= report["rates"]["default"][lang]["clean_kept_rate"]  # calibration only relaxes


def test_cli_refuses_bad_samples(tmp_path: Path) -> None:
    from flows.cli import app

    runner = CliRunner()
    out = ["--out", str(tmp_path / "x.yaml")]
    result = runner.invoke(app, ["calibrate-filters", "--clean", f"demo:{tmp_path}", "--junk", f"demo:{tmp_path}", *out])
    assert result.exit_code == 2 and "not a demo crawl" in result.output
    (tmp_path / "j.jsonl").write_text('{"text": "hello"}\n')
    bad = str(tmp_path / "j.jsonl")
    result = runner.invoke(app, ["calibrate-filters", "--clean", bad, "--junk", bad, *out])
    assert result.exit_code == 2 and "need a string 'text' and 'lang'" in result.output
