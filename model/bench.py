"""Training-throughput benchmark: our trainer vs ``transformers.LlamaForCausalLM``, same shapes, same run.

For each shape it times full optimizer steps (forward, backward, clip 1.0, fused AdamW) on random tokens,
after warm-up (compilation included in ``first_step_s``), and reports tokens/s, MFU (DeepSeek's M plus the
output head per token, ``model.flops.training_flops_per_token``, against the device's dense bf16 peak
from ``model/flops.py`` and against a measured 8192^2 bf16 matmul) and peak memory. The method mirrors ``../shared/bench/gpu_anchor.py``
(warm-up 3, 10 timed steps, ``torch.cuda.synchronize`` around the timed loop, HF with SDPA + bf16
autocast + fused AdamW, micro-batch 16 x 2048 for 125m and 4 x 4096 for 1b).

Variants: ``ours`` (the trainer's ``train_step``: whole-model ``torch.compile``, chunked cross-entropy,
bf16 autocast, fused AdamW), ``ours-autotune`` (the same with ``mode="max-autotune-no-cudagraphs"``:
Triton GEMM autotuning, slower to compile), ``ours-fullce`` (same, but all logits at once: the ablation for the loss),
``ours-eager`` (no compile), ``hf`` (when transformers is importable). Needs torch only (no Prefect/Ray).

    python -m model.bench                                   # GPU: 125m and 1b, all variants, JSON to $OUT or bench_out/
    python -m model.bench --device cpu --shapes tiny --steps 2 --warmup 1
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from model.flags import from_flags
from model.flops import device_peak_flops, training_flops_per_token
from model.llama import ModelConfig
from model.trainer import Runtime, build_model, build_optimizer, train_step


@dataclass
class Shape:
    preset: str
    seq_len: int
    micro_batch: int


SHAPES = {
    "tiny": Shape("tiny", 128, 4),
    "125m": Shape("125m", 2048, 16),
    "1b": Shape("1b", 4096, 4),
}
VARIANTS = ("ours", "ours-autotune", "ours-fullce", "ours-eager", "hf")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_steps(step: Callable[[], None], device: torch.device, warmup: int, iters: int) -> tuple[float, float]:
    """(first step seconds, mean seconds per step after warm-up)."""
    t0 = time.perf_counter()
    step()
    _sync(device)
    first = time.perf_counter() - t0
    for _ in range(max(0, warmup - 1)):
        step()
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(iters):
        step()
    _sync(device)
    return first, (time.perf_counter() - t0) / iters


def measured_peak(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    a = torch.randn(8192, 8192, device=device, dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device=device, dtype=torch.bfloat16)
    _, dt = time_steps(lambda: a @ b, device, 3, 20)
    return 2 * 8192**3 / dt


def _ours_step(cfg: ModelConfig, shape: Shape, rt: Runtime, variant: str) -> tuple[Callable[[], None], Any]:
    bf16 = rt.device.type == "cuda"
    mode = "max-autotune-no-cudagraphs" if variant == "ours-autotune" else None
    model = build_model(cfg, rt, bf16=bf16, compile_model=variant != "ours-eager" and rt.device.type == "cuda", compile_mode=mode)
    if variant == "ours-fullce":
        model.loss_chunk_size = shape.micro_batch * shape.seq_len  # one chunk = all logits at once
    opt = build_optimizer(model, lr=1e-4, weight_decay=0.1, betas=(0.9, 0.95))
    x = torch.randint(0, cfg.vocab_size, (shape.micro_batch, shape.seq_len), device=rt.device)
    return (lambda: train_step(model, opt, [(x, x)], rt, bf16=bf16, grad_clip=1.0)), (model, opt)


def _hf_step(cfg: ModelConfig, shape: Shape, rt: Runtime) -> tuple[Callable[[], None], Any]:
    from transformers import LlamaConfig, LlamaForCausalLM

    from model.hf_compat import hf_llama_config

    hf_cfg = LlamaConfig(**hf_llama_config(cfg))
    hf_cfg._attn_implementation = "sdpa"
    model = LlamaForCausalLM(hf_cfg).to(rt.device)
    fused = rt.device.type == "cuda" or None
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1, fused=fused)
    x = torch.randint(0, cfg.vocab_size, (shape.micro_batch, shape.seq_len), device=rt.device)
    autocast = rt.device.type == "cuda"

    def step() -> None:
        with torch.autocast(rt.device.type, dtype=torch.bfloat16, enabled=autocast):
            loss = model(input_ids=x, labels=x).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step, (model, opt)


def bench_one(name: str, shape: Shape, variant: str, rt: Runtime, *, warmup: int, iters: int, peak: float | None, measured: float | None) -> dict[str, Any]:
    from torch._dynamo.utils import counters

    cfg = ModelConfig.from_preset(shape.preset, max_seq_len=shape.seq_len)
    counters.clear()
    if rt.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(rt.device)
    step, keep = _hf_step(cfg, shape, rt) if variant == "hf" else _ours_step(cfg, shape, rt, variant)
    first, dt = time_steps(step, rt.device, warmup, iters)
    tokens_per_s = shape.micro_batch * shape.seq_len / dt
    fpt = training_flops_per_token(cfg, shape.seq_len)
    row = {
        "shape": name, "variant": variant, "micro_batch": shape.micro_batch, "seq_len": shape.seq_len,
        "tokens_per_s": tokens_per_s, "step_s": dt, "first_step_s": first,
        "model_tflops": tokens_per_s * fpt / 1e12,
        "mfu": tokens_per_s * fpt / peak if peak else None,
        "mfu_vs_measured": tokens_per_s * fpt / measured if measured else None,
        "peak_mem_gb": torch.cuda.max_memory_allocated(rt.device) / 2**30 if rt.device.type == "cuda" else None,
        "params": cfg.num_params(), "graph_breaks": sum(counters["graph_break"].values()),
    }
    del step, keep
    gc.collect()
    if rt.device.type == "cuda":
        torch.cuda.empty_cache()
    torch._dynamo.reset()
    return row


def format_table(rows: list[dict[str, Any]]) -> str:
    def f(v: Any, spec: str) -> str:
        return "n/a" if v is None else format(v, spec)

    lines = ["| shape | variant | tokens/s | MFU (table peak) | MFU (measured peak) | peak mem GiB | step s | first step s | vs hf |", "|---|---|---|---|---|---|---|---|---|"]
    hf = {r["shape"]: r["tokens_per_s"] for r in rows if r.get("variant") == "hf" and "tokens_per_s" in r}
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['shape']} | {r['variant']} | error: {r['error'][:80]} | | | | | | |")
            continue
        ratio = r["tokens_per_s"] / hf[r["shape"]] if r["shape"] in hf else None
        lines.append(
            f"| {r['shape']} | {r['variant']} | {r['tokens_per_s']:,.0f} | {f(r['mfu'], '.1%')} | {f(r['mfu_vs_measured'], '.1%')} | "
            f"{f(r['peak_mem_gb'], '.1f')} | {r['step_s']:.3f} | {r['first_step_s']:.1f} | {f(ratio, '.2f')}x |"
        )
    return "\n".join(lines)


def run(shapes: list[str], variants: list[str], device: str, warmup: int, iters: int) -> dict[str, Any]:
    dev = torch.device(device)
    if dev.type == "cuda":
        dev = torch.device("cuda", dev.index if dev.index is not None else torch.cuda.current_device())
        torch.cuda.set_device(dev)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    rt = Runtime(device=dev)
    try:
        import transformers

        hf_version = transformers.__version__
    except ImportError:
        hf_version = None
        variants = [v for v in variants if v != "hf"]
    peak, measured = device_peak_flops(dev), measured_peak(dev)
    rows = []
    for name in shapes:
        for variant in variants:
            try:
                rows.append(bench_one(name, SHAPES[name], variant, rt, warmup=warmup, iters=iters, peak=peak, measured=measured))
            except Exception as e:  # an OOM or compile failure of one variant must not hide the others
                rows.append({"shape": name, "variant": variant, "error": repr(e)[:500], "traceback": traceback.format_exc()[-2000:]})
                gc.collect()
                if dev.type == "cuda":
                    torch.cuda.empty_cache()
            print(json.dumps(rows[-1]), flush=True)
    return {
        "machine": {"device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"cpu ({os.cpu_count()} cores)",
                    "torch": torch.__version__, "transformers": hf_version, "peak_table_flops": peak, "peak_measured_flops": measured},
        "settings": {"warmup": warmup, "iters": iters},
        "rows": rows,
    }


@dataclass
class BenchConfig:
    shapes: str = field(default="125m,1b", metadata={"help": f"comma-separated, from {sorted(SHAPES)}"})
    variants: str = field(default=",".join(VARIANTS), metadata={"help": f"comma-separated, from {VARIANTS}"})
    device: str = "cuda" if torch.cuda.is_available() else "cpu"
    warmup: int = 3
    steps: int = field(default=10, metadata={"help": "timed steps"})
    micro_batch: int | None = field(default=None, metadata={"help": "override every shape's micro-batch (default: the anchor's)"})
    out: str | None = field(default=None, metadata={"help": "JSON output (default: $OUT/bench_pretrain.json or bench_out/bench_pretrain.json)"})


def main(argv: list[str] | None = None) -> None:
    a = from_flags(BenchConfig, argv, prog="python -m model.bench", description=__doc__)
    shapes, variants = a.shapes.split(","), a.variants.split(",")
    bad = [s for s in shapes if s not in SHAPES] + [v for v in variants if v not in VARIANTS]
    if bad:
        print(f"error: unknown shapes/variants {bad}", file=sys.stderr)
        raise SystemExit(2)
    if a.micro_batch:
        for name in shapes:
            SHAPES[name] = Shape(SHAPES[name].preset, SHAPES[name].seq_len, a.micro_batch)
    result = run(shapes, variants, a.device, a.warmup, a.steps)
    out = Path(a.out or Path(os.environ.get("OUT", "bench_out")) / "bench_pretrain.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"\n{result['machine']}\n" + format_table(result["rows"]) + f"\n\nJSON: {out}")


if __name__ == "__main__":
    main()
