"""Pretrain a LLaMA-style model on a token dataset, DeepSeek LLM style.

Batch size and peak learning rate come from the scaling-law planner (``model/scaling.py``) unless given;
the multi-step schedule (warmup, x0.316 at 80% of tokens, x0.1 at 90%), AdamW (0.9, 0.95, wd 0.1),
clipping 1.0, bf16 autocast with fp32 master weights on GPU, gradient accumulation, ``torch.compile`` on
GPU, FSDP2 when WORLD_SIZE > 1. Logs loss / lr / grad norm / tokens/s / MFU to ``OUT/metrics.jsonl`` and
TensorBoard (``OUT/tb``), validation loss every ``--eval-every`` steps, checkpoints every N steps and M
minutes into ``OUT/checkpoints`` and resumes exactly from the latest one when rerun. This module resolves
the run and holds its step and data; the loop around them is ``model.loop.run_loop`` (shared with SFT and DPO).

    python -m model.pretrain --preset tiny --data runs/tokens --out runs/pretrain-tiny
    torchrun --nproc_per_node 8 -m model.pretrain --preset 1b --data runs/tokens --out runs/pretrain-1b
    python -m model.pretrain --preset tiny --data runs/tokens --out runs/ext --extend-from runs/pretrain-tiny --tokens 4e6
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from model import scaling
from model.checkpoint import (Checkpointer, CheckpointError, check_shape, list_checkpoints, load_checkpoint, load_latest_checkpoint, read_meta,
                              set_rng_state)
from model.flops import device_peak_flops, estimate_memory, training_flops_per_token
from model.flags import run_cli
from model.llama import ModelConfig
from model.loop import Step, resolve_seq_len, run_loop, write_json
from model.schedule import LRSchedule, ScheduleConfig
from model.trainer import Runtime, build_model, build_optimizer, evaluate, setup_runtime, train_step, use_bf16

log = logging.getLogger("longterm.pretrain")


@dataclass
class TrainConfig:
    data: str = field(metadata={"help": "token dataset (output of `longterm tokenize`)"})
    preset: str = field(default="tiny", metadata={"help": "model preset: tiny, demo, 125m, 1b, deepseek-7b, deepseek-67b"})
    out: str = field(default="runs/pretrain", metadata={"help": "run directory (metrics, TensorBoard, checkpoints)"})
    model_overrides: dict[str, Any] = field(default_factory=dict, metadata={"help": "a ModelConfig field, KEY=VALUE (repeatable)", "flag": "model-arg"})
    seq_len: int | None = field(default=None, metadata={"help": "training sequence length (default: the model's max_seq_len; more is refused, see model.loop.resolve_seq_len)"})
    tokens: float | None = field(default=None, metadata={"help": "training budget in tokens (default: one pass over train)"})
    steps: int | None = field(default=None, metadata={"help": "optimizer steps (default: tokens / batch)"})
    batch_size: int | None = field(default=None, metadata={"help": "global batch in sequences (default: scaling-law B_opt)"})
    micro_batch_size: int | None = field(default=None, metadata={"help": "sequences per device per forward (default: fit memory)"})
    lr: float | None = field(default=None, metadata={"help": "peak learning rate (default: scaling-law lr_opt)"})
    schedule: str = field(default="multistep", metadata={"help": "multistep (DeepSeek) or cosine"})
    warmup_steps: int = field(default=2000, metadata={"help": "warmup steps (short runs use at most 5%% of training)"})
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    dtype: str = field(default="auto", metadata={"help": "auto (bf16 on GPU, fp32 on CPU), bf16 or fp32"})
    compile: str = field(default="auto", metadata={"help": "torch.compile: auto (on GPU), on, off"})
    compile_mode: str | None = field(default=None, metadata={"help": "torch.compile mode, e.g. max-autotune-no-cudagraphs"})
    activation_checkpointing: bool = False
    loss_chunk_size: int = field(default=8192, metadata={"help": "rows of logits per cross-entropy chunk"})
    eval_every: int = field(default=100, metadata={"help": "validation every N steps (0: never)"})
    eval_batches: int = field(default=10, metadata={"help": "micro-batches per validation"})
    eval_batch_size: int | None = field(default=None, metadata={"help": "sequences per validation micro-batch (default: micro_batch_size); fix it to compare runs on the same val windows"})
    log_every: int = 10
    ckpt_every_steps: int = field(default=500, metadata={"help": "checkpoint every N steps (0: never)"})
    ckpt_every_minutes: float = field(default=30.0, metadata={"help": "also checkpoint every M minutes (0: never)"})
    keep_last: int = field(default=3, metadata={"help": "checkpoints kept (plus the last one before the first decay)"})
    async_checkpoint: str = field(default="auto", metadata={"help": "auto (on GPU), on, off"})
    resume: bool = field(default=True, metadata={"help": "resume from OUT's latest checkpoint when there is one"})
    extend_from: str | None = field(default=None, metadata={"help": "continual training: a run dir to restart before its first decay"})
    max_bad_steps: int = field(default=5, metadata={"help": "stop after this many consecutive non-finite steps"})
    seed: int = 0
    device: str = "auto"
    progress: bool = field(default=True, metadata={"help": "tqdm progress bar"})
    tensorboard: bool = True


# ----------------------------------------------------------------------------- resolving the run


@dataclass
class TokenData:
    uri: str
    vocab_size: int
    padded_vocab_size: int
    train_tokens: int
    val_tokens: int


def inspect_tokens(uri: str) -> TokenData:
    """Open a token dataset and check it has what training needs, with messages that say how to fix it."""
    from storage import open_dataset

    ds = open_dataset(uri, kind="tokens")
    stats = ds.manifest.stats
    missing = [k for k in ("vocab_size", "padded_vocab_size") if k not in stats]
    if missing:
        raise ValueError(f"{ds.uri}: token manifest stats lack {missing}; rerun `longterm tokenize`")
    train, val = ds.shards("train"), ds.shards("val")
    if not train:
        raise ValueError(f"{ds.uri}: no 'train' token shards in the manifest; rerun `longterm tokenize`")
    return TokenData(
        uri=ds.uri,
        vocab_size=int(stats["vocab_size"]),
        padded_vocab_size=int(stats["padded_vocab_size"]),
        train_tokens=sum(s.rows for s in train),
        val_tokens=sum(s.rows for s in val),
    )


@dataclass
class ResolvedRun:
    model: ModelConfig
    seq_len: int
    batch_size: int  # global, sequences
    micro_batch_size: int
    grad_accum: int
    tokens: float
    total_steps: int
    schedule: ScheduleConfig
    plan: dict[str, Any]
    bf16: bool
    compile: bool
    async_checkpoint: bool

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def resolve(cfg: TrainConfig, data: TokenData, rt: Runtime) -> ResolvedRun:
    model_cfg = ModelConfig.from_preset(cfg.preset, **{"vocab_size": data.padded_vocab_size, **cfg.model_overrides})
    if model_cfg.vocab_size < data.vocab_size:
        raise ValueError(f"model vocab_size {model_cfg.vocab_size} < the data's vocabulary {data.vocab_size}: token ids would be out of range")
    seq_len = resolve_seq_len(cfg.seq_len, model_cfg.max_seq_len, where=f"preset {cfg.preset}",
                              fix="pass --model-arg max_seq_len={seq_len} for a model with longer positions, or a smaller --seq-len")
    if data.train_tokens < seq_len + 1:
        raise ValueError(f"{data.uri}: {data.train_tokens} train tokens cannot fill one sequence of {seq_len}")
    if cfg.eval_every and data.val_tokens < seq_len + 1:
        raise ValueError(f"{data.uri}: val split has {data.val_tokens} tokens, less than one sequence; pass --eval-every 0 to train without validation")
    tokens = float(cfg.tokens or data.train_tokens)
    p = scaling.plan(model=model_cfg, tokens=tokens, seq_len=seq_len)
    batch = cfg.batch_size or p.batch_sequences
    per_rank = max(1, math.ceil(batch / rt.world_size))
    bf16 = use_bf16(rt, cfg.dtype)
    micro = cfg.micro_batch_size or per_rank
    while cfg.micro_batch_size is None and micro > 1 and not _estimate(cfg, model_cfg, micro, seq_len, rt, bf16).fits():
        micro = math.ceil(micro / 2)
    est = _estimate(cfg, model_cfg, micro, seq_len, rt, bf16)
    if not est.fits():
        raise MemoryError(
            f"{cfg.preset} at micro-batch {micro} x {seq_len} does not fit: {est.describe()}. "
            "Use more devices (FSDP shards weights/optimizer), --activation-checkpointing, a smaller --micro-batch-size or --seq-len"
        )
    accum = max(1, math.ceil(per_rank / micro))
    batch = micro * accum * rt.world_size
    steps = cfg.steps or max(1, math.ceil(tokens / (batch * seq_len)))
    if cfg.steps and not cfg.tokens:
        tokens = float(steps * batch * seq_len)  # the budget is what the given steps consume
    sched = ScheduleConfig(peak_lr=cfg.lr or p.learning_rate, total_steps=steps, kind=cfg.schedule, warmup_steps=cfg.warmup_steps)
    on_gpu = rt.device.type == "cuda"
    flag = {"auto": on_gpu, "on": True, "off": False}
    if cfg.compile not in flag or cfg.async_checkpoint not in flag:
        raise ValueError("--compile and --async-checkpoint take auto, on or off")
    return ResolvedRun(
        model=model_cfg, seq_len=seq_len, batch_size=batch, micro_batch_size=micro, grad_accum=accum, tokens=tokens,
        total_steps=steps, schedule=sched, plan=p.to_dict(), bf16=bf16, compile=flag[cfg.compile], async_checkpoint=flag[cfg.async_checkpoint],
    )


def _estimate(cfg: TrainConfig, model_cfg: ModelConfig, micro: int, seq_len: int, rt: Runtime, bf16: bool):
    return estimate_memory(
        model_cfg, micro_batch=micro, seq_len=seq_len, world_size=rt.world_size, device=rt.device,
        low_precision=bf16, activation_checkpointing=cfg.activation_checkpointing, loss_chunk=cfg.loss_chunk_size,
    )


# ----------------------------------------------------------------------------- the loop


def _loaders(cfg: TrainConfig, run: ResolvedRun, rt: Runtime):
    from model.data import TokenLoader

    def make(split: str, batch_size: int, **kw: Any):
        return TokenLoader(cfg.data, split=split, seq_len=run.seq_len, batch_size=batch_size, rank=rt.rank, world_size=rt.world_size, **kw)

    return (make("train", run.micro_batch_size, seed=cfg.seed),
            (lambda: make("val", cfg.eval_batch_size or run.micro_batch_size, seed=0, shuffle=False, infinite=False)))


def _restore(cfg: TrainConfig, run: ResolvedRun, out: Path, model, optimizer, sched: LRSchedule, train_loader, rt: Runtime) -> int:
    """Resume from OUT, or restart from --extend-from before its first decay; return the step to start at."""
    resumed = load_latest_checkpoint(out, model, optimizer, log) if cfg.resume else None
    if resumed:
        path, meta = resumed
        saved = meta["run"]
        for key in ("batch_size", "seq_len"):
            if saved[key] != getattr(run, key):
                raise CheckpointError(f"{path}: saved with {key}={saved[key]}, this run resolves {key}={getattr(run, key)}; use a new --out or --no-resume")
        sched.load_state_dict(meta["schedule"], keep_config=cfg.extend_from is not None)
        _restore_rank_state(meta, train_loader, rt, path, same_data=True)
        log.info("resumed from %s (step %d)", path, meta["step"])
        return int(meta["step"])
    if cfg.extend_from:
        src = read_meta(cfg.extend_from)
        first_decay = ScheduleConfig(**{**src["schedule"]["config"]}).first_decay_step
        before = [(s, p) for s, p in list_checkpoints(cfg.extend_from) if s <= first_decay]
        if not before:
            raise CheckpointError(f"{cfg.extend_from}: no checkpoint at or before the first decay (step {first_decay}); cannot extend")
        step, path = before[-1]
        meta = load_checkpoint(path, model, optimizer)
        sched.last_step = step - 1
        _restore_rank_state(meta, train_loader, rt, path, same_data=meta["train_config"]["data"] == cfg.data)
        log.info("extending %s from step %d (before its first decay at %d) to %d steps", cfg.extend_from, step, first_decay, run.total_steps)
        return step
    return 0


def _restore_rank_state(meta: dict[str, Any], train_loader, rt: Runtime, path: Path, *, same_data: bool) -> None:
    """RNG states per rank (same world size only); the loader's state is global, so any rank's file continues it."""
    rank_state = meta["rank_state"]
    if meta["world_size"] == rt.world_size and rank_state is not None:
        set_rng_state(rank_state["rng"])
    else:
        log.warning("%s: saved by %d ranks, resumed on %d: RNG states not restored (the data order continues exactly)", path, meta["world_size"], rt.world_size)
        rank_state = json.loads((path / "rank-00000.json").read_text())
    if same_data:
        train_loader.load_state_dict(rank_state["loader"])


def _extension_run(cfg: TrainConfig, run: ResolvedRun) -> ResolvedRun:
    """Continual training keeps the source run's shape, batch, peak lr and warmup; only the budget grows."""
    src = read_meta(cfg.extend_from)
    check_shape(src["model_config"], run.model, f"--extend-from {cfg.extend_from}")
    old = src["run"]
    if cfg.tokens is None or cfg.tokens <= old["tokens"]:
        raise ValueError(f"--extend-from needs --tokens larger than the source run's {old['tokens']:.3g}")
    s = src["schedule"]["config"]
    warm = ScheduleConfig(**{**s, "decay_points": tuple(s["decay_points"]), "decay_factors": tuple(s["decay_factors"])}).effective_warmup
    steps = math.ceil(cfg.tokens / (old["batch_size"] * old["seq_len"]))
    sched = ScheduleConfig(peak_lr=s["peak_lr"], total_steps=steps, kind=s["kind"], warmup_steps=warm, warmup_fraction=1.0)
    return dataclasses.replace(run, batch_size=old["batch_size"], seq_len=old["seq_len"], micro_batch_size=old["micro_batch_size"],
                               grad_accum=old["grad_accum"], tokens=cfg.tokens, total_steps=steps, schedule=sched)


def main(cfg: TrainConfig) -> dict[str, Any]:
    """Train; return a summary (final step, losses, tokens/s, MFU, last checkpoint, run dir)."""
    rt = setup_runtime(cfg.device)
    logging.basicConfig(level=logging.INFO if rt.is_main else logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    data = inspect_tokens(cfg.data)
    run = resolve(cfg, data, rt)
    if cfg.extend_from:
        run = _extension_run(cfg, run)
    out = Path(cfg.out)
    log.info("model %s: %.1fM params; batch %d x %d (micro %d, accum %d, %d ranks); %d steps; peak lr %.3g",
             cfg.preset, run.model.num_params() / 1e6, run.batch_size, run.seq_len, run.micro_batch_size, run.grad_accum, rt.world_size, run.total_steps, run.schedule.peak_lr)

    model = build_model(run.model, rt, bf16=run.bf16, compile_model=run.compile, activation_checkpointing=cfg.activation_checkpointing,
                        loss_chunk_size=cfg.loss_chunk_size, seed=cfg.seed, compile_mode=cfg.compile_mode)
    optimizer = build_optimizer(model, lr=run.schedule.peak_lr, weight_decay=cfg.weight_decay, betas=(cfg.beta1, cfg.beta2))
    sched = LRSchedule(run.schedule)
    train_loader, val_loader = _loaders(cfg, run, rt)
    start = _restore(cfg, run, out, model, optimizer, sched, train_loader, rt)
    if rt.is_main:  # after _restore, which refuses checkpoints of another shape or batch
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "config.json", {"train_config": dataclasses.asdict(cfg), "run": run.to_dict()})
    ckpt = Checkpointer(out, keep_last=cfg.keep_last, async_save=run.async_checkpoint,
                        protect_before_step=run.schedule.first_decay_step if run.schedule.kind == "multistep" else None)
    fpt, peak = training_flops_per_token(run.model, run.seq_len), device_peak_flops(rt.device)
    tokens_per_step = run.batch_size * run.seq_len
    timer = {"since": time.perf_counter(), "steps": 0}  # for tokens/s over the steps since the last log line

    def save(step: int) -> Path:
        meta = {"model_config": run.model.to_dict(), "train_config": dataclasses.asdict(cfg), "run": run.to_dict(),
                "schedule": sched.state_dict(), "tokens_seen": step * tokens_per_step}
        ckpt.save(step, model, optimizer, meta=meta, rank_state={"loader": train_loader.state_dict()})
        timer["since"] = time.perf_counter()  # do not count the save's staging in tokens/s
        return ckpt.root / f"step-{step:08d}"

    def step(i: int) -> Step:
        batches = [train_loader.next_batch() for _ in range(run.grad_accum)]
        res = train_step(model, optimizer, batches, rt, bf16=run.bf16, grad_clip=cfg.grad_clip)
        done = i + 1
        timer["steps"] += 1
        record: dict[str, Any] = {"tokens": done * tokens_per_step}
        if done % cfg.log_every == 0 or done == run.total_steps or done == start + 1:
            if rt.device.type == "cuda":
                torch.cuda.synchronize()
            tps = timer["steps"] * tokens_per_step / (time.perf_counter() - timer["since"])
            record.update(tokens_per_s=tps, mfu=(tps * fpt / (peak * rt.world_size)) if peak else None,
                          mem_gb=torch.cuda.max_memory_allocated() / 2**30 if rt.device.type == "cuda" else None)
            timer.update(since=time.perf_counter(), steps=0)
        return Step(res.loss, res.grad_norm, res.skipped, record=record, summary={k: record[k] for k in ("tokens_per_s", "mfu") if k in record})

    def validate(done: int) -> dict[str, Any]:
        # the first eval_batches micro-batches of the val split in file order, the same every time
        return {"val_loss": evaluate(model, (b for _, b in zip(range(cfg.eval_batches), iter(val_loader()))), rt, bf16=run.bf16)}

    return run_loop(out=out, rt=rt, optimizer=optimizer, sched=sched, start=start, total_steps=run.total_steps, step=step,
                    evaluate=validate, eval_every=cfg.eval_every, save=save, ckpt=ckpt, ckpt_every_steps=cfg.ckpt_every_steps,
                    ckpt_every_minutes=cfg.ckpt_every_minutes, final_save=bool(cfg.ckpt_every_steps or cfg.ckpt_every_minutes),
                    max_bad_steps=cfg.max_bad_steps, log_every=cfg.log_every, summary={"val_loss": None}, progress=cfg.progress,
                    tensorboard=cfg.tensorboard, name="pretrain")


# ----------------------------------------------------------------------------- CLI


def cli(argv: list[str] | None = None) -> int:
    return run_cli(TrainConfig, main, argv, prog="python -m model.pretrain", description=__doc__)


if __name__ == "__main__":
    sys.exit(cli())
