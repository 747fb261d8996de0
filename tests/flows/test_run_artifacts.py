"""Training and eval artifact rows built from metrics.jsonl / results.json."""

from __future__ import annotations

import json
from pathlib import Path

from flows.run_artifacts import curve_rows, eval_rows, read_metrics, training_summary


def test_training_summary_and_curve(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    lines = [json.dumps({"step": s, "loss": 10 - s / 100, "lr": 1e-3, "tokens_per_s": 100.0 + s, "mfu": 0.1,
                         **({"val_loss": 9.5 - s / 100} if s % 100 == 0 else {})}) for s in range(0, 500, 5)]
    path.write_text("\n".join(lines) + '\n{"step": 500, "lo')
    rows = read_metrics(path)
    assert len(rows) == 100
    s = training_summary(rows)
    assert s["steps"] == 495 and s["best_val_loss"] == 9.5 - 4 and s["final_lr"] == 1e-3
    assert abs(s["mean_tokens_per_s"] - (100 + 247.5)) < 1e-9
    curve = curve_rows(rows, max_rows=10)
    assert len(curve) == 10 and curve[0]["step"] == 0 and curve[-1]["step"] == 495
    assert set(curve[0]) == {"step", "loss", "val_loss", "lr", "tokens_per_s", "mfu"}
    assert training_summary([]) == {}


def test_eval_rows() -> None:
    rows = eval_rows({"tasks": {"b": {"acc": 0.5}, "a": {"acc": 0.25, "acc_norm": 0.3}}})
    assert rows == [{"task": "a", "acc": 0.25, "acc_norm": 0.3}, {"task": "b", "acc": 0.5}]
