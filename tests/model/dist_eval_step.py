"""Pretraining's ``evaluate()`` over one pass of a val split, on one process or under torchrun (FSDP2, gloo).

    python -m torch.distributed.run --standalone --nproc_per_node=2 -m tests.model.dist_eval_step --data TOK --init CKPT --batch-size 3 --out r.json

Every rank takes the same number of batches from ``TokenLoader(infinite=False)``; with a batch size that
leaves rank 1 no rows in the last batch, rank 1 must still enter that batch's forward (FSDP all-gathers)
and count nothing. Rank 0 writes ``{"loss", "world_size", "rows_last"}`` (used by test_distributed.py).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from model.checkpoint import load_checkpoint
from model.data import TokenLoader
from model.finetune import load_init_config
from model.trainer import build_model, evaluate, setup_runtime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--init", required=True)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--seq-len", type=int, default=32)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rt = setup_runtime("cpu")
    cfg, _ = load_init_config(args.init)
    model = build_model(cfg, rt, bf16=False, compile_model=False)
    load_checkpoint(args.init, model)
    loader = TokenLoader(args.data, split="val", seq_len=args.seq_len, batch_size=args.batch_size, rank=rt.rank, world_size=rt.world_size,
                         shuffle=False, infinite=False)
    batches = list(loader)
    rows_last = torch.tensor([batches[-1][0].shape[0]])
    if rt.distributed:
        gathered = [torch.zeros(1, dtype=torch.long) for _ in range(rt.world_size)]
        torch.distributed.all_gather(gathered, rows_last)
        rows_last = torch.cat(gathered)
    loss = evaluate(model, iter(batches), rt, bf16=False)
    if rt.is_main:
        Path(args.out).write_text(json.dumps({"loss": loss, "world_size": rt.world_size, "rows_last": rows_last.tolist()}))
    if rt.distributed:
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
