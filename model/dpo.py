"""Direct Preference Optimization (Rafailov et al., 2023) as DeepSeek LLM ran it: lr 5e-6, one epoch,
warmup then cosine.

    python -m model.dpo --init runs/sft --data ../shared/data/pref_hh_rlhf/harmless-base_test.jsonl.gz --tokenizer runs/tok --out runs/dpo
    python -m model.dpo --init runs/sft --data prefs.jsonl --tokenizer runs/tok --out runs/dpo --beta 0.1 --lr 5e-6 --batch-size 4 --grad-accum 16
    longterm dpo ...                                   # the same through Prefect

Loss (sigmoid DPO, with optional label smoothing as in "conservative DPO")::

    r_c = beta * (log pi(y_c|x) - log ref(y_c|x))      r_r = beta * (log pi(y_r|x) - log ref(y_r|x))
    loss = -(1 - eps) * log sigmoid(r_c - r_r) - eps * log sigmoid(r_r - r_c)

The reference model is the initial policy. Its log-probabilities of every pair are computed **once before
training**, under the policy's precision (``model.trainer.precision``: the same bf16 autocast, so the
implicit rewards are 0 and the loss log 2 at step 0), and stored (``OUT/reference_logps.pt``, keyed by a
digest of the data, tokenizer, init checkpoint and precision; on several ranks rank 0 alone writes it and
the others read it after a barrier), so only one model is ever in memory. Metrics per step (``OUT/metrics.jsonl``): loss, reward
accuracy (share of pairs with r_c > r_r), reward margin (mean r_c - r_r), rewards and log-probs of
chosen and rejected responses. A held-out slice (``eval_fraction``) is evaluated every ``eval_every``
steps. Data layouts, counted skips and the truncation rule: ``model/dpo_data.py``.

Memory: each micro-batch holds ``batch_size`` pairs (2 x batch_size rows) through one forward and
backward; use gradient accumulation for DeepSeek's batch of 512 pairs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import logging
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F

from model.checkpoint import Checkpointer, load_checkpoint, load_latest_checkpoint
from model.flags import run_cli
from model.finetune import check_vocab, load_init_config, tokenizer_for
from model.dpo_data import TokenizedPair, collate_pairs, load_preference_pairs
from model.llama import Transformer
from model.loop import Step, resolve_seq_len, run_loop, write_json
from model.logprobs import token_logprobs_from_logits
from model.schedule import LRSchedule, ScheduleConfig
from model.tokenizer import Tokenizer
from model.trainer import Runtime, build_model, build_optimizer, precision, release, setup_runtime, use_bf16
from storage import write_bytes_atomic

log = logging.getLogger("model.dpo")


@dataclass
class DPOConfig:
    init: str  # SFT checkpoint (or run dir): the initial policy and the reference
    data: str  # preference JSONL (prompt|messages, chosen, rejected) or HH-RLHF
    out: str
    tokenizer: str = ""  # "" = the tokenizer the init checkpoint was trained with
    beta: float = 0.1
    label_smoothing: float = 0.0
    seq_len: int | None = None  # model input length; a pair holds <= seq_len + 1 prompt + response tokens; None = the model's max_seq_len
    batch_size: int = 4  # pairs per micro-batch (per rank)
    grad_accum: int = 1
    epochs: float = 1.0
    max_steps: int = 0  # > 0 overrides epochs
    lr: float = 5e-6
    min_lr_ratio: float = 0.0
    warmup_steps: int = 100  # capped at 5% of the steps
    weight_decay: float = 0.0
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    eval_fraction: float = 0.02
    eval_every: int = 100
    ref_batch_size: int = 8  # pairs per forward when computing the reference log-probs
    ckpt_every_steps: int = 0
    keep_last: int = 2
    max_bad_steps: int = 5
    seed: int = 0
    device: str = "auto"
    dtype: str = "auto"
    compile: bool = False
    log_every: int = 10


# ----------------------------------------------------------------------------- the math


def dpo_loss(
    policy_chosen: torch.Tensor,  # [N] summed log-probs of the chosen responses under the policy
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,  # [N] the same under the reference (constants)
    ref_rejected: torch.Tensor,
    beta: float,
    label_smoothing: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-pair losses [N] and the implicit rewards of chosen and rejected responses (detached)."""
    logits = (policy_chosen - ref_chosen) - (policy_rejected - ref_rejected)
    losses = -(1 - label_smoothing) * F.logsigmoid(beta * logits) - label_smoothing * F.logsigmoid(-beta * logits)
    return losses, (beta * (policy_chosen - ref_chosen)).detach(), (beta * (policy_rejected - ref_rejected)).detach()


def sequence_logps(model: Transformer, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Summed log-probs of the response tokens per row [R]. Goes through ``forward`` so FSDP's hooks run."""
    return token_logprobs_from_logits(model(inputs).float(), targets).sum(-1)


def pair_metrics(losses: torch.Tensor, r_c: torch.Tensor, r_r: torch.Tensor, pc: torch.Tensor, pr: torch.Tensor) -> dict[str, float]:
    return {
        "loss": float(losses.mean()),
        "reward_accuracy": float((r_c > r_r).float().mean()),
        "reward_margin": float((r_c - r_r).mean()),
        "rewards_chosen": float(r_c.mean()),
        "rewards_rejected": float(r_r.mean()),
        "logps_chosen": float(pc.detach().mean()),
        "logps_rejected": float(pr.detach().mean()),
    }


# ----------------------------------------------------------------------------- reference log-probs


@torch.no_grad()
def reference_logps(model: Transformer, pairs: list[TokenizedPair], pad_id: int, batch_size: int, device: torch.device,
                    precision: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext) -> torch.Tensor:
    """[N, 2] (chosen, rejected) summed log-probs under ``model`` in eval mode, each forward under
    ``precision()``: pass the policy's (``model.trainer.precision``) so that policy and reference agree
    exactly at step 0 (implicit rewards 0, loss log 2)."""
    was_training = model.training
    model.eval()
    out = []
    for k in range(0, len(pairs), batch_size):
        chunk = pairs[k : k + batch_size]
        inputs, targets = collate_pairs(chunk, pad_id)
        with precision():
            lp = sequence_logps(model, inputs.to(device), targets.to(device)).float().cpu()
        out.append(torch.stack([lp[: len(chunk)], lp[len(chunk) :]], dim=1))
    release(model)
    model.train(was_training)
    return torch.cat(out) if out else torch.zeros(0, 2)


def pairs_digest(pairs: list[TokenizedPair], *extra: str) -> str:
    h = hashlib.sha256()
    for p in pairs:
        h.update(json.dumps([p.prompt, p.chosen, p.rejected]).encode())
    for e in extra:
        h.update(e.encode())
    return h.hexdigest()


def _read_reference(path: Path, digest: str) -> torch.Tensor | None:
    if not path.is_file():
        return None
    saved = torch.load(path, weights_only=True)
    if saved.get("digest") != digest:
        log.warning("%s was computed for other data or another init checkpoint; recomputing", path)
        return None
    return saved["logps"]


def load_or_compute_reference(path: Path, digest: str, compute: Callable[[], torch.Tensor], rt: Runtime | None = None) -> torch.Tensor:
    """The reference log-probs cached in ``path`` when its digest matches, else ``compute()``d and cached.

    Several ranks: rank 0 alone decides whether the cache fits and tells the others; when it does not,
    every rank computes (under FSDP the forwards are collectives), rank 0 alone writes the file
    (temporary file in the same directory, fsync, rename), and after a barrier the other ranks read
    what rank 0 wrote, so every rank trains against the same bits and no two ranks write one file.
    """
    rt = rt or Runtime(device=torch.device("cpu"))
    cached = _read_reference(path, digest) if rt.is_main else None
    flag = torch.tensor(int(cached is not None), device=rt.device)
    if rt.distributed:
        dist.broadcast(flag, src=0)
    if not flag.item():
        logps = compute()
        if rt.is_main:
            buf = io.BytesIO()
            torch.save({"digest": digest, "logps": logps}, buf)
            write_bytes_atomic(str(path), buf.getvalue())
        if rt.distributed:
            dist.barrier()
    if rt.is_main:
        return cached if cached is not None else logps
    got = _read_reference(path, digest)
    if got is None:
        raise RuntimeError(f"rank {rt.rank}: {path} is missing or has another digest after rank 0 wrote it; is OUT shared by all ranks?")
    return got


# ----------------------------------------------------------------------------- the step


def dpo_step(
    model: Transformer,
    optimizer: torch.optim.Optimizer,
    micro: list[tuple[list[TokenizedPair], torch.Tensor]],
    cfg: DPOConfig,
    rt: Runtime,
    *,
    bf16: bool,
    pad_id: int,
) -> tuple[dict[str, float], float, bool]:
    """Accumulate over micro-batches of (pairs, reference logps [n, 2]); mean loss over all pairs of the step."""
    n_total = sum(len(p) for p, _ in micro) * rt.world_size
    parts = []
    for i, (pairs, ref) in enumerate(micro):
        if rt.distributed:
            model.set_requires_gradient_sync(i == len(micro) - 1)
        inputs, targets = collate_pairs(pairs, pad_id)
        with precision(rt, bf16):
            lp = sequence_logps(model, inputs.to(rt.device), targets.to(rt.device))
        n = len(pairs)
        ref = ref.to(rt.device)
        losses, r_c, r_r = dpo_loss(lp[:n], lp[n:], ref[:, 0], ref[:, 1], cfg.beta, cfg.label_smoothing)
        (losses.sum() * rt.world_size / n_total).backward()
        parts.append((losses.detach(), r_c, r_r, lp[:n].detach(), lp[n:].detach()))
    cat = [torch.cat(x) for x in zip(*parts)]
    metrics = pair_metrics(*cat)
    if rt.distributed:
        vec = torch.tensor(list(metrics.values()), device=rt.device)
        dist.all_reduce(vec, op=dist.ReduceOp.AVG)
        metrics = dict(zip(metrics, vec.tolist()))
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
    if hasattr(grad_norm, "full_tensor"):
        grad_norm = grad_norm.full_tensor()
    norm = grad_norm.item()
    ok = math.isfinite(metrics["loss"]) and math.isfinite(norm)
    if ok:
        optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return metrics, norm, not ok


@torch.no_grad()
def dpo_eval(model: Transformer, pairs: list[TokenizedPair], ref: torch.Tensor, cfg: DPOConfig, rt: Runtime, pad_id: int, *,
             bf16: bool = False) -> dict[str, float]:
    """Metrics over the held-out pairs (every rank evaluates all of them)."""
    model.eval()
    parts = []
    for k in range(0, len(pairs), cfg.batch_size):
        chunk, r = pairs[k : k + cfg.batch_size], ref[k : k + cfg.batch_size].to(rt.device)
        inputs, targets = collate_pairs(chunk, pad_id)
        with precision(rt, bf16):
            lp = sequence_logps(model, inputs.to(rt.device), targets.to(rt.device))
        n = len(chunk)
        losses, r_c, r_r = dpo_loss(lp[:n], lp[n:], r[:, 0], r[:, 1], cfg.beta, cfg.label_smoothing)
        parts.append((losses, r_c, r_r, lp[:n], lp[n:]))
    release(model)
    model.train()
    return {f"val_{k}": v for k, v in pair_metrics(*[torch.cat(x) for x in zip(*parts)]).items()}


# ----------------------------------------------------------------------------- main


def split_pairs(pairs: list[TokenizedPair], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(pairs), generator=g).tolist()
    n_val = min(len(pairs) - 1, round(fraction * len(pairs))) if fraction > 0 else 0
    return sorted(order[n_val:]), sorted(order[:n_val])


def main(cfg: DPOConfig) -> dict[str, Any]:
    rt = setup_runtime(cfg.device)
    logging.basicConfig(level=logging.INFO if rt.is_main else logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    torch.manual_seed(cfg.seed)
    model_cfg, init_meta = load_init_config(cfg.init)
    tok = Tokenizer.load(tokenizer_for(cfg.tokenizer, init_meta, cfg.init))
    check_vocab(tok, model_cfg, cfg.init)
    seq_len = resolve_seq_len(cfg.seq_len, model_cfg.max_seq_len, where=cfg.init, fix="DPO keeps the init checkpoint's; pass a smaller --seq-len")
    pairs, stats = load_preference_pairs(cfg.data, tok, seq_len + 1)  # prompt + response: seq_len inputs, targets shifted by one
    if not pairs:
        raise ValueError(f"{cfg.data}: no usable preference pairs ({stats.to_dict()})")
    train_idx, val_idx = split_pairs(pairs, cfg.eval_fraction, cfg.seed)
    out = Path(cfg.out)
    if rt.is_main:
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "data_stats.json", {**stats.to_dict(), "train": len(train_idx), "held_out": len(val_idx)})
    log.info("DPO data: %s", stats.to_dict())

    bf16 = use_bf16(rt, cfg.dtype)
    model = build_model(model_cfg, rt, bf16=bf16, compile_model=cfg.compile, seed=cfg.seed)
    optimizer = build_optimizer(model, lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(cfg.beta1, cfg.beta2))
    load_checkpoint(cfg.init, model)
    digest = pairs_digest(pairs, tok.digest, str(init_meta.get("step")), json.dumps(init_meta.get("model_config")), str(Path(cfg.init).resolve()),
                          f"bf16={bf16}")
    ref_path = out / "reference_logps.pt"
    ref = load_or_compute_reference(ref_path, digest, lambda: reference_logps(model, pairs, tok.pad_id, cfg.ref_batch_size, rt.device,
                                                                              precision=lambda: precision(rt, bf16)), rt)
    pairs_per_step = cfg.batch_size * cfg.grad_accum * rt.world_size
    total_steps = cfg.max_steps or max(1, math.ceil(cfg.epochs * len(train_idx) / pairs_per_step))
    sched = LRSchedule(ScheduleConfig(peak_lr=cfg.lr, total_steps=total_steps, kind="cosine", warmup_steps=cfg.warmup_steps,
                                      min_lr_ratio=cfg.min_lr_ratio))
    start = 0
    resumed = load_latest_checkpoint(out, model, optimizer, log)
    if resumed:  # a corrupt newest checkpoint falls back to the one before it
        meta = resumed[1]
        sched.load_state_dict(meta["schedule"])
        start = int(meta["step"])
    model.train()
    ckpt = Checkpointer(out, keep_last=cfg.keep_last)
    g = torch.Generator().manual_seed(cfg.seed)
    epoch_orders: dict[int, list[int]] = {}

    def order_of(epoch: int) -> list[int]:
        if epoch not in epoch_orders:
            g.manual_seed(cfg.seed * 1000003 + epoch)
            epoch_orders[epoch] = [train_idx[i] for i in torch.randperm(len(train_idx), generator=g).tolist()]
        return epoch_orders[epoch]

    def micro_batches(step: int) -> list[tuple[list[TokenizedPair], torch.Tensor]]:
        # position of this rank's pairs in the (epoch-wise shuffled, repeated) training order
        micro = []
        for a in range(cfg.grad_accum):
            first = (step * cfg.grad_accum + a) * cfg.batch_size * rt.world_size + rt.rank * cfg.batch_size
            idx = [order_of((first + j) // len(train_idx))[(first + j) % len(train_idx)] for j in range(cfg.batch_size)]
            micro.append(([pairs[i] for i in idx], ref[idx]))
        return micro

    def save(step: int) -> Path:
        meta = {"model_config": model_cfg.to_dict(), "train_config": dataclasses.asdict(cfg), "stage": "dpo", "tokenizer": tok.location,
                "init": cfg.init, "data_stats": stats.to_dict(), "schedule": sched.state_dict(), "reference_digest": digest}
        return ckpt.save(step, model, optimizer, meta=meta, rank_state={})

    def step(i: int) -> Step:
        micro = micro_batches(i)
        m, norm, skipped = dpo_step(model, optimizer, micro, cfg, rt, bf16=bf16, pad_id=tok.pad_id)
        rewards = {k: v for k, v in m.items() if k != "loss"}
        # tokens read by the step: prompt + chosen and prompt + rejected of every pair, on every rank
        tokens = sum(2 * len(p.prompt) + len(p.chosen) + len(p.rejected) for pairs, _ in micro for p in pairs) * rt.world_size
        return Step(m["loss"], norm, skipped, record=rewards, summary=rewards, tokens=tokens)

    val_pairs, val_ref = [pairs[i] for i in val_idx], ref[val_idx]
    validate = (lambda done: dpo_eval(model, val_pairs, val_ref, cfg, rt, tok.pad_id, bf16=bf16)) if val_pairs else None
    return run_loop(out=out, rt=rt, optimizer=optimizer, sched=sched, start=start, total_steps=total_steps, step=step, evaluate=validate,
                    eval_every=cfg.eval_every, save=save, ckpt=ckpt, ckpt_every_steps=cfg.ckpt_every_steps, max_bad_steps=cfg.max_bad_steps,
                    log_every=cfg.log_every, summary={"data": stats.to_dict()}, name="dpo")

def cli(argv: list[str] | None = None) -> int:
    return run_cli(DPOConfig, main, argv, prog="python -m model.dpo", description=__doc__.split("\n")[0])


if __name__ == "__main__":
    sys.exit(cli())
