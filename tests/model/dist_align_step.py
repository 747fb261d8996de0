"""One SFT or DPO optimizer step from a checkpoint, on one process or under torchrun (FSDP2, gloo).

    python -m tests.model.dist_align_step --kind sft --init CKPT --out result.pt
    python -m torch.distributed.run --standalone --nproc_per_node=2 -m tests.model.dist_align_step --kind sft --init CKPT --out r.pt

The step sees the same global data either way: one process takes both micro-batches (gradient
accumulation), two ranks take one each. The micro-batches hold different numbers of loss tokens, so
the step is only the same if the loss is normalised by the token count of the whole step across ranks.
Rank 0 saves ``{"loss", "grad_norm" (before clipping), "params": {name: full tensor}}`` after the step (used by test_dist_align.py).
"""

from __future__ import annotations

import argparse
import os
import sys

import torch

from model.checkpoint import load_checkpoint
from model.dpo import DPOConfig, dpo_step
from model.dpo_data import TokenizedPair
from model.finetune import load_init_config
from model.sft import sft_step
from model.sft_data import IGNORE_INDEX, PackedBatch
from model.trainer import build_model, build_optimizer, setup_runtime

SEQ = 16


def sft_batches(vocab: int) -> list[PackedBatch]:
    """Two micro-batches of 2 rows: 2 segments per row, loss on 7 tokens in one batch and 19 in the other."""
    g = torch.Generator().manual_seed(1)
    batches = []
    for loss_tokens in (7, 19):
        inputs = torch.randint(3, vocab, (2, SEQ), generator=g)
        targets = torch.full((2, SEQ), IGNORE_INDEX)
        flat = targets.view(-1)
        flat[torch.randperm(2 * SEQ, generator=g)[:loss_tokens]] = torch.randint(3, vocab, (loss_tokens,), generator=g)
        segments = torch.ones(2, SEQ, dtype=torch.long)
        segments[:, SEQ // 2 :] = 2
        batches.append(PackedBatch(inputs, targets, segments))
    return batches


def dpo_micro(vocab: int) -> list[tuple[list[TokenizedPair], torch.Tensor]]:
    """Two micro-batches of 2 preference pairs each, with made-up reference log-probs."""
    g = torch.Generator().manual_seed(2)

    def ids(n: int) -> list[int]:
        return torch.randint(3, vocab, (n,), generator=g).tolist()

    pairs = [TokenizedPair(ids(5 + i), ids(3 + i), ids(6 - i)) for i in range(4)]
    ref = -10.0 - 5.0 * torch.rand(4, 2, generator=g)
    return [(pairs[0:2], ref[0:2]), (pairs[2:4], ref[2:4])]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kind", choices=["sft", "dpo"], required=True)
    parser.add_argument("--init", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rt = setup_runtime("cpu")
    cfg, _ = load_init_config(args.init)
    model = build_model(cfg, rt, bf16=False, compile_model=False)
    load_checkpoint(args.init, model)
    model.train()
    optimizer = build_optimizer(model, lr=1e-2, weight_decay=0.1, betas=(0.9, 0.95))
    if args.kind == "sft":
        micro = sft_batches(cfg.vocab_size)
        mine = micro if rt.world_size == 1 else [micro[rt.rank]]
        loss, norm, skipped = sft_step(model, optimizer, mine, rt, bf16=False, grad_clip=1.0)
    else:
        micro = dpo_micro(cfg.vocab_size)
        mine = micro if rt.world_size == 1 else [micro[rt.rank]]
        metrics, norm, skipped = dpo_step(model, optimizer, mine, DPOConfig(init="", data="", out="", beta=0.1), rt, bf16=False, pad_id=0)
        loss = metrics["loss"]
    assert not skipped
    params = {k: (v.full_tensor() if hasattr(v, "full_tensor") else v).detach().clone() for k, v in model.state_dict().items()}
    if rt.is_main:
        torch.save({"loss": loss, "grad_norm": norm, "world_size": rt.world_size, "params": params}, args.out)
    if rt.distributed:
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
    # the results are saved: skip interpreter teardown, where a native thread aborted a rank once in
    # CI ("terminate called without an active exception", exit -6, after the work was done; see
    # RELIABILITY.md "What is still weak")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
