"""Stage driver for pretraining (pure of Prefect): ``run_pretrain(cfg, nproc=1) -> last checkpoint path``.

One process (CPU or one GPU): ``model.pretrain.main(cfg)`` runs in this process. Several GPUs:
``torchrun --standalone --nproc_per_node N -m model.pretrain <flags>`` as a subprocess, which owns the
ranks (FSDP2); the result is read back from the run directory.

    from model.pretrain import TrainConfig
    ckpt = run_pretrain(TrainConfig(data="runs/tokens", preset="tiny", out="runs/pretrain-tiny"))

Rerunning with the same ``out`` resumes from its latest checkpoint (a finished run does nothing more).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from model.pretrain import TrainConfig, main
from tasks.launch import launch_training


def run_pretrain(cfg: TrainConfig, *, nproc: int = 1) -> str:
    return launch_training("model.pretrain", main, cfg, nproc=nproc)


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """All records of ``metrics.jsonl`` (train and val), replays after a resume included."""
    path = Path(run_dir) / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def metrics_table(run_dir: str | Path, max_rows: int = 20) -> list[dict[str, Any]]:
    """About ``max_rows`` evenly spaced train steps (last record per step) with the latest val loss so far."""
    last: dict[int, dict[str, Any]] = {}
    val: dict[int, float] = {}
    for r in read_metrics(run_dir):
        if r["kind"] == "train":
            last[r["step"]] = r
        elif r["kind"] == "val":
            val[r["step"]] = r["val_loss"]
    steps = sorted(last)
    if not steps:
        return []
    stride = max(1, len(steps) // max_rows)
    chosen = sorted(set(steps[::stride]) | {steps[-1]})
    rows = []
    for s in chosen:
        r = last[s]
        seen_val = [v for vs, v in val.items() if vs <= s]
        rows.append({
            "step": s, "tokens": r["tokens"], "loss": round(r["loss"], 4), "lr": r["lr"], "grad_norm": round(r["grad_norm"], 4),
            "tokens_per_s": round(r["tokens_per_s"]) if r.get("tokens_per_s") else None,
            "mfu": round(r["mfu"], 4) if r.get("mfu") is not None else "n/a",
            "val_loss": round(val[max(vs for vs in val if vs <= s)], 4) if seen_val else None,
        })
    return rows
