"""The benchmark's CPU path, and the training graph compiling without graph breaks.

GPU figures come from ``python -m model.bench`` on a GPU machine (docs/benchmarks/pretrain.md);
here only the machinery is exercised, on the tiny shape."""

from __future__ import annotations

import json

import pytest
import torch

from model import bench
from model.flops import flops_per_token, training_flops_per_token
from model.llama import ModelConfig, Transformer


def test_bench_cpu_path_writes_rows_for_ours_and_hf(tmp_path, capsys) -> None:
    out = tmp_path / "b.json"
    bench.main(["--device", "cpu", "--shapes", "tiny", "--variants", "ours,hf", "--steps", "1", "--warmup", "1", "--out", str(out)])
    result = json.loads(out.read_text())
    rows = {r["variant"]: r for r in result["rows"]}
    assert set(rows) == {"ours", "hf"} and all("error" not in r for r in rows.values()), result["rows"]
    assert all(r["tokens_per_s"] > 0 and r["mfu"] is None for r in rows.values())
    assert rows["ours"]["params"] == rows["hf"]["params"] == ModelConfig.from_preset("tiny").num_params()
    assert "| tiny | ours |" in capsys.readouterr().out


def test_flops_per_token_is_deepseeks_m_plus_the_head_and_near_the_anchor_formula() -> None:
    cfg = ModelConfig.from_preset("1b")
    m = 72 * 16 * 2048**2 + 12 * 16 * 2048 * 4096  # DeepSeek's non-embedding M
    assert flops_per_token(16, 2048, 4096) == m
    assert training_flops_per_token(cfg, 4096) == m + 6 * 2048 * 102400
    n = 16 * (2048 * 2048 * 4 + 3 * 2048 * 5504) + 2048 * 102400  # gpu_anchor.py's exact matmul parameters for 1b
    assert training_flops_per_token(cfg, 4096) == pytest.approx(6 * n + 12 * 16 * 2048 * 4096, rel=0.004)  # FFN 5504, not 8/3 d
    small = ModelConfig.from_preset("125m")  # MHA with FFN = 8/3 d: M's 12 d^2 per layer is exact
    n = 12 * (768 * 768 * 4 + 3 * 768 * 2048) + 768 * 32000
    assert training_flops_per_token(small, 2048) == 6 * n + 12 * 12 * 768 * 2048


def test_training_forward_and_backward_compile_as_one_graph() -> None:
    """fullgraph=True fails on any graph break; aot_eager traces forward and backward without codegen."""
    torch.manual_seed(0)
    m = Transformer(ModelConfig.from_preset("tiny", n_layer=1))
    m.compile(backend="aot_eager", fullgraph=True)
    x = torch.randint(0, 512, (2, 32))
    loss = m(x, targets=x)
    loss.backward()
    assert torch.isfinite(loss) and m.output.weight.grad is not None
