"""SFT and DPO steps under FSDP2 on two CPU processes equal the same step on one process.

Both losses normalise by the whole step (SFT: assistant tokens of every rank; DPO: pairs of every
rank) and pre-multiply by the world size because FSDP averages gradients over ranks. The two ranks get
micro-batches with different loss-token counts (7 and 19), so a per-rank mean would give another step.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.model.align_fixtures import tiny_model, write_tiny_checkpoint

ROOT = Path(__file__).resolve().parents[2]


def _run(kind: str, init: str, out: Path, nproc: int) -> dict:
    launcher = [sys.executable] if nproc == 1 else [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
    cmd = [*launcher, "-m", "tests.model.dist_align_step", "--kind", kind, "--init", init, "--out", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return torch.load(out, weights_only=True)


@pytest.fixture(scope="module")
def init(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, torch.Tensor]]:
    model = tiny_model(vocab_size=128, n_layer=2)
    start = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return write_tiny_checkpoint(tmp_path_factory.mktemp("init"), model, tokenizer_dir=""), start


@pytest.mark.parametrize("kind", ["sft", "dpo"])
def test_two_rank_fsdp_step_equals_the_one_process_step(kind: str, init: tuple[str, dict], tmp_path: Path) -> None:
    ckpt, start = init
    one = _run(kind, ckpt, tmp_path / "one.pt", 1)
    two = _run(kind, ckpt, tmp_path / "two.pt", 2)
    assert (one["world_size"], two["world_size"]) == (1, 2)
    assert two["loss"] == pytest.approx(one["loss"], rel=1e-5)
    # Adam's first update ignores the gradient's scale, so the norm (before clipping) checks the scale
    assert two["grad_norm"] == pytest.approx(one["grad_norm"], rel=1e-4)
    assert one["params"].keys() == two["params"].keys() == start.keys()
    for name, p1 in one["params"].items():
        torch.testing.assert_close(two["params"][name], p1, rtol=1e-4, atol=1e-6, msg=name)
    assert all(not torch.equal(one["params"][k], start[k]) for k in start if k.endswith("weight") and "norm" not in k)  # the step moved them
