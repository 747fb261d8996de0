"""``loss_law: offset`` end to end below the trainer: config validation, the fit, report JSON, plots and the
Prefect artifact table (the runs themselves are ordinary; tests/tasks/test_scaling_study.py trains them)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from flows.scaling_study import laws_rows
from model.scaling_fit import fit_study
from tasks.scaling_plots import write_plots
from tasks.scaling_study import StudyConfig, allocation_summary


def _rows() -> list[dict]:
    """IsoFLOP profiles at 4 budgets whose minima follow L = 4 + 30 (C/1e9)^-0.3 (a bend a pure power law misses)."""
    rng = np.random.default_rng(0)
    rows = []
    for c in (1e9, 3e9, 1e10, 3e10):
        m_opt = 0.2 * c**0.5
        for lm in np.linspace(-1.0, 1.0, 5):
            loss = (4 + 30 * (c / 1e9) ** -0.3) * (1 + 0.03 * lm**2) * (1 + 1e-4 * rng.standard_normal())
            rows.append({"id": f"v-isoflop-{c:.0e}-{lm:.1f}", "variant": "v", "kind": "isoflop", "budget": c, "model_scale": m_opt * math.exp(lm),
                         "tokens": c / (m_opt * math.exp(lm)), "loss": loss, "status": "ok"})
    return rows


def test_offset_loss_law_reaches_report_plots_and_artifact_table(tmp_path) -> None:
    with pytest.raises(ValueError, match="loss_law"):
        StudyConfig(data={"v": "x"}, loss_law="quadratic")
    rows = _rows()
    fit = fit_study(rows, bootstrap=0, loss_law="offset")
    power = fit_study(rows, bootstrap=0)
    assert fit.loss.offset == pytest.approx(4.0, abs=0.2)
    truth = 4 + 30 * (3e11 / 1e9) ** -0.3
    assert abs(fit.predict_loss(3e11)["loss"] / truth - 1) < 0.01
    assert power.predict_loss(3e11)["loss"] < truth * 0.97  # what the offset law is for
    entry = {"runs": {"ok": len(rows), "failed": 0, "diverged": 0, "skipped": 0}, "fit": fit.to_dict(),
             "predictions": [fit.predict_loss(3e11)], "holdout": {}}
    report = json.loads(json.dumps({"config": {"tolerance": 0.01}, "results": str(tmp_path / "results.jsonl"), "variants": {"v": entry},
                                    "comparison": {"v": allocation_summary(fit)}}, default=str))  # as written to report.json
    assert report["variants"]["v"]["fit"]["loss"]["form"] == "offset"
    table = {r["law"]: r for r in laws_rows(report)}
    offset_rows = [k for k in table if k.startswith("L - E")]
    assert len(offset_rows) == 1 and "E = 3.99" in offset_rows[0]
    plots = write_plots(rows, {"v": fit}, report, tmp_path / "plots")
    assert any(p.endswith("v-loss.png") for p in plots) and all((tmp_path / "plots" / p.split("/")[-1]).stat().st_size > 0 for p in plots)
