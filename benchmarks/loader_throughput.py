"""TokenLoader throughput: tokens/s from memory-mapped Arrow shards to (pinned) LongTensors, one process.

    python -m benchmarks.loader_throughput                                 # 100M synthetic tokens in /tmp
    python -m benchmarks.loader_throughput --tokens 20000000 --seq-len 4096 --batch-size 8
    python -m benchmarks.loader_throughput --data runs/tokens              # an existing token dataset

Writes a synthetic uint16 token dataset (random ids, ``--shards`` shards) unless ``--data`` is given,
then times ``next_batch()`` with shuffling on (random window order: the worst case for locality).
The shards were just written, so they sit in the page cache: this measures the loader, not the
disk. Pinned memory is used when CUDA is available (``pin_memory=None``).
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time

import numpy as np
import pyarrow as pa
import torch

from model.data import TokenLoader
from storage import Counts, DatasetWriter, write_shard


def write_synthetic(root: str, num_tokens: int, shards: int, vocab: int = 32000, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    w = DatasetWriter(root, kind="tokens", stage="bench_tokens", config={"n": num_tokens, "shards": shards})
    infos = []
    per = num_tokens // shards
    for k in range(shards):
        tokens = rng.integers(0, vocab, size=per, dtype=np.uint16)
        infos.append(write_shard(w.location, "train", k, pa.table({"tokens": pa.array(tokens)}), fmt="arrow"))
    stats = {"vocab_size": vocab, "padded_vocab_size": vocab, "dtype": "uint16", "eos_id": 2, "bos_id": 1,
             "tokenizer_digest": "synthetic"}
    w.commit(infos, Counts(input=shards, kept=shards), stats)
    return w.location


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="existing token dataset (default: synthetic)")
    ap.add_argument("--tokens", type=int, default=100_000_000)
    ap.add_argument("--shards", type=int, default=8)
    ap.add_argument("--seq-len", type=int, default=2048)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        uri = args.data or write_synthetic(f"{tmp}/tokens", args.tokens, args.shards)
        t_write = time.perf_counter() - t0
        t0 = time.perf_counter()
        loader = TokenLoader(uri, seq_len=args.seq_len, batch_size=args.batch_size, seed=0)
        t_open = time.perf_counter() - t0
        t0 = time.perf_counter()
        TokenLoader(uri, seq_len=args.seq_len, batch_size=args.batch_size, verify="size")
        t_size = time.perf_counter() - t0
        loader.next_batch()  # first permutation
        batches, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < args.seconds:
            loader.next_batch()
            batches += 1
        elapsed = time.perf_counter() - t0
    tokens = batches * args.batch_size * args.seq_len
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"cuda {torch.cuda.is_available()} (pinned: {loader.pin_memory})")
    print(f"data: {loader.num_tokens:,} tokens in {len(loader.segments)} mmapped chunks"
          + (f" (written in {t_write:.1f} s)" if not args.data else ""))
    print(f"open (sha256 of every shard, the default): {t_open:.2f} s; open with the size check only: {t_size * 1e3:.1f} ms")
    print(f"seq_len {args.seq_len}, batch {args.batch_size}, shuffled: {batches} batches in {elapsed:.1f} s = "
          f"{tokens / elapsed / 1e6:.1f}M tokens/s ({batches / elapsed:.0f} batches/s)")


if __name__ == "__main__":
    main()
