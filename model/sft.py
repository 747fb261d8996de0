"""Supervised fine-tuning on chat conversations (DeepSeek LLM: 4 epochs at lr 1e-5 for 7B).

    python -m model.sft --init runs/pretrain --data data/chat.jsonl --tokenizer runs/tokenizer --out runs/sft
    python -m model.sft --init runs/pretrain --data d.jsonl --tokenizer runs/tok --out runs/sft --epochs 4 --lr 1e-5 --batch-size 16
    torchrun --nproc_per_node=8 -m model.sft ...            # FSDP2 across GPUs, as pretraining
    longterm sft ...                                         # the same through Prefect

Data and template: ``model/sft_data.py`` and ``model/chat.py`` (loss on assistant tokens only; several
conversations packed per row with segment ids, so nothing leaks across them; too-long conversations
truncated by the documented rule and counted; conversations without an assistant turn skipped and
counted). The counts go to ``OUT/data_stats.json`` and into every checkpoint's meta.

Loop: AdamW (``model.trainer.build_optimizer``), linear warmup then cosine (``model.schedule``), gradient
accumulation with the loss averaged over all assistant tokens of the step (not per micro-batch),
clipping, non-finite steps skipped; the loop itself is ``model.loop.run_loop``; checkpoints in the pretraining format
(``model.checkpoint``), resumable from OUT. A held-out slice of the conversations (``eval_fraction``) gives
the validation loss and the prompts for DeepSeek's repetition ratio of greedy generations
(``model/repetition.py``) at every evaluation; all of it goes to ``OUT/metrics.jsonl``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from model.checkpoint import Checkpointer, load_checkpoint, load_latest_checkpoint
from model.flags import run_cli
from model.finetune import check_vocab, load_init_config, tokenizer_for
from model.generate import greedy_generate
from model.llama import Transformer
from model.loop import Step, resolve_seq_len, run_loop, write_json
from model.repetition import repetition_report
from model.schedule import LRSchedule, ScheduleConfig
from model.sft_data import Example, PackedBatch, PackedSFTLoader, collate_packed, load_sft_examples, pack_rows
from model.tokenizer import Tokenizer
from model.trainer import Runtime, build_model, build_optimizer, precision, release, setup_runtime, use_bf16

log = logging.getLogger("model.sft")


@dataclass
class SFTConfig:
    init: str  # checkpoint (or run dir) to start from
    data: str  # conversations JSONL
    out: str  # run directory: checkpoints/, metrics.jsonl, data_stats.json, summary.json
    tokenizer: str = ""  # tokenizer directory; "" = the one the init checkpoint was trained with
    seq_len: int | None = None  # packed row length; None = the model's max_seq_len (model.loop.resolve_seq_len)
    batch_size: int = 8  # packed rows per micro-batch (per rank)
    grad_accum: int = 1
    epochs: float = 2.0
    max_steps: int = 0  # > 0 overrides epochs
    lr: float = 1e-5
    min_lr_ratio: float = 0.0  # cosine floor as a fraction of lr
    warmup_steps: int = 100  # capped at 5% of the steps
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    eval_every: int = 100  # steps; also after the last step
    eval_fraction: float = 0.02  # conversations held out for val loss and repetition prompts
    num_eval_prompts: int = 16
    eval_max_new_tokens: int = 128
    ckpt_every_steps: int = 0  # 0 = only the final checkpoint
    keep_last: int = 2
    max_bad_steps: int = 5
    seed: int = 0
    device: str = "auto"
    dtype: str = "auto"  # auto (bf16 on GPUs that have it) | bf16 | fp32
    compile: bool = False
    log_every: int = 10


def held_out(ex: Example, fraction: float, seed: int) -> bool:
    """Deterministic, content-based split: the same conversation is held out in every run."""
    h = hashlib.sha1(f"{seed}:{ex.ids}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64 < fraction


def split_examples(examples: list[Example], cfg: SFTConfig) -> tuple[list[Example], list[Example]]:
    val = [e for e in examples if held_out(e, cfg.eval_fraction, cfg.seed)] if cfg.eval_fraction > 0 else []
    if cfg.eval_fraction > 0 and not val and len(examples) > 1:
        val = [examples[-1]]  # tiny data: hold out one conversation so evaluation still runs
    val_ids = {id(e) for e in val}
    return [e for e in examples if id(e) not in val_ids], val


def eval_prompt(ex: Example, assistant_id: int) -> list[int]:
    """The conversation up to and including the assistant marker of its first reply."""
    first = ex.ids.index(assistant_id) if assistant_id in ex.ids else len(ex.ids)
    return ex.ids[: first + 1]


def sft_step(model: Transformer, optimizer: torch.optim.Optimizer, batches: list[PackedBatch], rt: Runtime, *, bf16: bool, grad_clip: float) -> tuple[float, float, bool]:
    """One optimizer step over micro-batches; loss = mean over every assistant token of the step (all ranks)."""
    n_local = sum(b.num_loss_tokens for b in batches)
    n_total = torch.tensor(float(n_local), device=rt.device)
    if rt.distributed:
        dist.all_reduce(n_total)
    n_total = n_total.clamp(min=1)
    loss_sum = torch.zeros((), device=rt.device)
    for i, b in enumerate(batches):
        if rt.distributed:
            model.set_requires_gradient_sync(i == len(batches) - 1)
        with precision(rt, bf16):  # every rank runs every micro-batch (FSDP collectives), even one without loss tokens
            mean = model(b.inputs.to(rt.device), segment_ids=b.segment_ids.to(rt.device), targets=b.targets.to(rt.device))
        weighted = mean * b.num_loss_tokens
        # FSDP averages gradients over ranks, hence the world-size factor: the result is sum / n_total
        (weighted * rt.world_size / n_total).backward()
        loss_sum += weighted.detach()
    if rt.distributed:
        dist.all_reduce(loss_sum)
    loss = (loss_sum / n_total).item()
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    if hasattr(grad_norm, "full_tensor"):
        grad_norm = grad_norm.full_tensor()
    norm = grad_norm.item()
    ok = math.isfinite(loss) and math.isfinite(norm)
    if ok:
        optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss, norm, not ok


@torch.no_grad()
def validation_loss(model: Transformer, val: list[Example], seq_len: int, pad_id: int, batch_size: int, rt: Runtime, *,
                    bf16: bool = False) -> float | None:
    """Mean loss per assistant token over the held-out conversations (every rank evaluates all of them)."""
    if not val:
        return None
    model.eval()
    rows = pack_rows(val, seq_len)
    total, n = 0.0, 0
    for k in range(0, len(rows), batch_size):
        b = collate_packed(val, rows[k : k + batch_size], seq_len, pad_id)
        with precision(rt, bf16):
            mean = model(b.inputs.to(rt.device), segment_ids=b.segment_ids.to(rt.device), targets=b.targets.to(rt.device))
        total += float(mean) * b.num_loss_tokens
        n += b.num_loss_tokens
    release(model)
    model.train()
    return total / max(1, n)


def repetition_eval(model: Transformer, tok: Tokenizer, prompts: list[list[int]], cfg: SFTConfig) -> dict[str, Any]:
    end = tok.special_ids["<|end|>"]
    gens = greedy_generate(model, prompts, max_new_tokens=cfg.eval_max_new_tokens, pad_id=tok.pad_id,
                           stop_ids={end, tok.eos_id}, batch_size=cfg.batch_size)
    report = repetition_report([[t for t in g.tokens if t != end] for g in gens], [g.stopped for g in gens])
    report["sample"] = tok.decode(t for t in gens[0].tokens if t != end)[:200] if gens else ""
    return report


def main(cfg: SFTConfig) -> dict[str, Any]:
    rt = setup_runtime(cfg.device)
    logging.basicConfig(level=logging.INFO if rt.is_main else logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    torch.manual_seed(cfg.seed)
    model_cfg, init_meta = load_init_config(cfg.init)
    tok = Tokenizer.load(tokenizer_for(cfg.tokenizer, init_meta, cfg.init))
    check_vocab(tok, model_cfg, cfg.init)
    seq_len = resolve_seq_len(cfg.seq_len, model_cfg.max_seq_len, where=cfg.init, fix="SFT keeps the init checkpoint's; pass a smaller --seq-len")
    examples, stats = load_sft_examples(cfg.data, tok, max_tokens=seq_len + 1)
    train, val = split_examples(examples, cfg)
    out = Path(cfg.out)
    if rt.is_main:
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "data_stats.json", {**stats.to_dict(), "train": len(train), "held_out": len(val)})
    log.info("SFT data: %s; %d train / %d held out", stats.to_dict(), len(train), len(val))
    loader = PackedSFTLoader(train, seq_len, cfg.batch_size, tok.pad_id, seed=cfg.seed, rank=rt.rank, world_size=rt.world_size)
    steps_per_epoch = max(1, math.ceil(loader.batches_per_epoch / cfg.grad_accum))
    total_steps = cfg.max_steps or max(1, math.ceil(cfg.epochs * steps_per_epoch))

    bf16 = use_bf16(rt, cfg.dtype)
    model = build_model(model_cfg, rt, bf16=bf16, compile_model=cfg.compile, seed=cfg.seed)
    optimizer = build_optimizer(model, lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(cfg.beta1, cfg.beta2))
    sched = LRSchedule(ScheduleConfig(peak_lr=cfg.lr, total_steps=total_steps, kind="cosine", warmup_steps=cfg.warmup_steps,
                                      min_lr_ratio=cfg.min_lr_ratio))
    start = 0
    resumed = load_latest_checkpoint(out, model, optimizer, log)
    if resumed:  # resume this run (a corrupt newest checkpoint falls back to the one before it)
        path, meta = resumed
        sched.load_state_dict(meta["schedule"])
        loader.load_state_dict(meta["rank_state"]["loader"])
        start = int(meta["step"])
        log.info("resumed from %s at step %d", path, start)
    else:
        load_checkpoint(cfg.init, model)
    model.train()
    prompts = [eval_prompt(e, tok.special_ids["<|assistant|>"]) for e in val[: cfg.num_eval_prompts]]
    ckpt = Checkpointer(out, keep_last=cfg.keep_last)

    def save(step: int) -> Path:
        meta = {"model_config": model_cfg.to_dict(), "train_config": dataclasses.asdict(cfg), "stage": "sft",
                "tokenizer": tok.location, "init": cfg.init, "init_step": init_meta.get("step"), "data_stats": stats.to_dict(),
                "schedule": sched.state_dict()}
        return ckpt.save(step, model, optimizer, meta=meta, rank_state={"loader": loader.state_dict()})

    def step(i: int) -> Step:
        batches = [loader.next_batch() for _ in range(cfg.grad_accum)]
        loss, norm, skipped = sft_step(model, optimizer, batches, rt, bf16=bf16, grad_clip=cfg.grad_clip)
        return Step(loss, norm, skipped, record={"epoch": loader.epoch, "loss_tokens": sum(b.num_loss_tokens for b in batches)},
                    tokens=sum(b.inputs.numel() for b in batches) * rt.world_size)

    def validate(done: int) -> dict[str, Any]:
        val_loss = validation_loss(model, val, seq_len, tok.pad_id, cfg.batch_size, rt, bf16=bf16)
        rep = repetition_eval(model, tok, prompts, cfg) if prompts else {}
        model.train()
        return {"val_loss": val_loss, **rep}

    return run_loop(out=out, rt=rt, optimizer=optimizer, sched=sched, start=start, total_steps=total_steps, step=step, evaluate=validate,
                    eval_every=cfg.eval_every, save=save, ckpt=ckpt, ckpt_every_steps=cfg.ckpt_every_steps, max_bad_steps=cfg.max_bad_steps,
                    log_every=cfg.log_every, summary={"data": stats.to_dict()}, name="sft")

def cli(argv: list[str] | None = None) -> int:
    return run_cli(SFTConfig, main, argv, prog="python -m model.sft", description=__doc__.split("\n")[0])


if __name__ == "__main__":
    sys.exit(cli())
