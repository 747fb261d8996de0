"""FSDP2 on two CPU processes (gloo) under torchrun, then resuming that sharded checkpoint on one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from model.checkpoint import list_checkpoints, load_model
from model.flags import from_flags
from model.pretrain import TrainConfig, main
from tests.model.token_fixtures import write_token_dataset

ROOT = Path(__file__).resolve().parents[2]

ARGS = ["--seq-len", "32", "--batch-size", "4", "--ckpt-every-steps", "2", "--eval-every", "2", "--eval-batches", "2",
        "--log-every", "1", "--no-progress", "--no-tensorboard"]


def parse(argv: list[str]) -> TrainConfig:
    return from_flags(TrainConfig, argv, prog="python -m model.pretrain")


def test_fsdp_on_two_processes_and_resharded_resume(tmp_path) -> None:
    data = write_token_dataset(tmp_path / "tok", n_train_docs=60, n_val_docs=10)
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "model.pretrain",
           "--data", data, "--out", str(out), "--steps", "4", *ARGS]
    proc = subprocess.run(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    final = list_checkpoints(out)[-1][1]
    assert sorted(p.name for p in final.glob("*.distcp")) == ["__0_0.distcp", "__1_0.distcp"]  # one shard per rank
    assert json.loads((final / "meta.json").read_text())["world_size"] == 2
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["step"] == 4 and summary["val_loss"] < 6.0
    model, cfg = load_model(out)  # resharded into one process
    assert model.output.weight.shape == (cfg.vocab_size, cfg.d_model)
    resumed = main(parse(["--data", data, "--out", str(out), "--steps", "6", *ARGS]))
    assert resumed["start_step"] == 4 and resumed["step"] == 6
