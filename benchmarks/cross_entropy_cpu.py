"""Output layer + cross-entropy on one CPU core: ``model.loss.chunked_cross_entropy`` vs torch's
``F.cross_entropy`` over materialised logits, forward + backward, side by side in one run.

    python -m benchmarks.cross_entropy_cpu                       # N=1024 tokens, d=16, V=3072 (the real-text study's shapes)
    python -m benchmarks.cross_entropy_cpu --tokens 4096 --d-model 64
"""

from __future__ import annotations

import argparse
import json
import time

import torch
import torch.nn.functional as F

from model.loss import chunked_cross_entropy


def _time(fn, repeats: int) -> float:
    for _ in range(3):
        fn()
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t0) / repeats * 1e3


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tokens", type=int, default=1024)
    p.add_argument("--d-model", type=int, default=16)
    p.add_argument("--vocab", type=int, default=3072)
    p.add_argument("--repeats", type=int, default=50)
    a = p.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    h = torch.randn(a.tokens, a.d_model, requires_grad=True)
    w = (torch.randn(a.vocab, a.d_model) * 0.1).requires_grad_()
    t = torch.randint(0, a.vocab, (a.tokens,))

    def ours() -> None:
        chunked_cross_entropy(h, w, t).backward()

    def torch_ce() -> None:
        F.cross_entropy(h @ w.t(), t).backward()

    ms = {"chunked_cross_entropy": _time(ours, a.repeats), "F.cross_entropy": _time(torch_ce, a.repeats)}
    with torch.no_grad():
        ms_eval = {"chunked_cross_entropy": _time(lambda: chunked_cross_entropy(h, w, t), a.repeats),
                   "F.cross_entropy": _time(lambda: F.cross_entropy(h @ w.t(), t), a.repeats)}
    print(json.dumps({"shape": vars(a), "train_ms": ms, "eval_ms": ms_eval,
                      "train_ratio": ms["F.cross_entropy"] / ms["chunked_cross_entropy"],
                      "eval_ratio": ms_eval["F.cross_entropy"] / ms_eval["chunked_cross_entropy"]}, indent=1))


if __name__ == "__main__":
    main()
