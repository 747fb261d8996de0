"""The one training loop of ``model/``: pretrain, SFT and DPO are their data and step code around it.

``run_loop`` takes a step function (one optimizer step: data, forward, backward, clip; returns a
``Step``) and an evaluation function, and owns the rest: the lr schedule, the bad-step guard
(``BadStepGuard``), metrics (``MetricsLog``: ``metrics.jsonl``, TensorBoard, tqdm on rank 0), the eval
and checkpoint cadence (every N steps and/or M minutes, ``checkpoint_due``), the final save and the
run summary.

``resolve_seq_len``: the one rule for sequence length (below).

``write_json``: run files that other stages read (``summary.json`` is a stage's done-marker), written
atomically: a temporary file in the same directory, fsynced, then renamed over the old one
(``storage.write_bytes_atomic``), so a reader or a crash sees the old file or the new one, never a part.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from model.checkpoint import Checkpointer, list_checkpoints
from model.schedule import LRSchedule
from model.trainer import Runtime
from storage import write_bytes_atomic

log = logging.getLogger("longterm.loop")


def resolve_seq_len(requested: int | None, max_seq_len: int, *, where: str, fix: str) -> int:
    """The sequence length of a run, by the one rule of ``model/``.

    ``seq_len`` is the length of the rows the model reads (targets are the same rows shifted by one, so a
    row is cut from ``seq_len + 1`` tokens). Unset (``None`` or 0) it is the model's ``max_seq_len``. It
    may not exceed ``max_seq_len``: that is refused, never grown silently, because RoPE tables, the KV
    cache, evaluation, generation and the HF export all trust the ``max_seq_len`` a checkpoint records.
    A longer context is asked for explicitly (``fix`` says how: for pretraining ``--model-arg
    max_seq_len=N``; SFT and DPO keep their init checkpoint's).
    """
    seq_len = requested or max_seq_len
    if seq_len < 1:
        raise ValueError(f"{where}: seq_len must be positive, got {seq_len}")
    if seq_len > max_seq_len:
        raise ValueError(f"{where}: seq_len {seq_len} exceeds the model's max_seq_len {max_seq_len}; {fix.format(seq_len=seq_len)}")
    return seq_len


def write_json(path: str | Path, obj: Any) -> None:
    """``obj`` as indented JSON at ``path``, atomically (serialised first: a failure leaves the old file)."""
    write_bytes_atomic(str(path), json.dumps(obj, indent=1, default=str).encode())


# ----------------------------------------------------------------------------- logging and guards


class MetricsLog:
    """JSONL + TensorBoard + tqdm, on rank 0 only."""

    def __init__(self, out: Path, rt: Runtime, *, total: int, initial: int, progress: bool, tensorboard: bool, desc: str = "train") -> None:
        self.enabled = rt.is_main
        self.file = open(out / "metrics.jsonl", "a") if self.enabled else None
        self.tb = None
        if self.enabled and tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(out / "tb"))
        self.bar = None
        if self.enabled and progress:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, desc=desc, unit="step", dynamic_ncols=True)

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()
        if self.tb is not None:
            for k, v in record.items():
                if k not in ("step", "kind") and isinstance(v, (int, float)) and v is not None:
                    self.tb.add_scalar(f"{record['kind']}/{k}", v, record["step"])

    def advance(self, postfix: dict[str, Any] | None = None) -> None:
        if self.bar is not None:
            self.bar.update(1)
            if postfix:
                self.bar.set_postfix(postfix, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.tb is not None:
            self.tb.close()
        if self.file is not None:
            self.file.close()


class BadStepGuard:
    """Counts consecutive non-finite steps; raises after ``limit`` in a row."""

    def __init__(self, limit: int) -> None:
        self.limit, self.consecutive, self.total = limit, 0, 0

    def record(self, skipped: bool, step: int, loss: float, grad_norm: float) -> None:
        if not skipped:
            self.consecutive = 0
            return
        self.consecutive += 1
        self.total += 1
        log.warning("step %d: non-finite loss %s / grad norm %s; update skipped (%d in a row)", step, loss, grad_norm, self.consecutive)
        if self.consecutive >= self.limit:
            raise FloatingPointError(
                f"loss or gradient was not finite for {self.consecutive} consecutive steps (last: step {step}); "
                "training stopped. Lower --lr, check the data, or resume from an earlier checkpoint"
            )


def checkpoint_due(done: int, total: int, *, every_steps: int, every_minutes: float, ckpt: Checkpointer, rt: Runtime) -> bool:
    """A periodic checkpoint after step ``done``: every N steps and/or M minutes (never after the last step:
    the loop's final save takes it). The timer is rank 0's, broadcast, so every rank takes part in the same save."""
    if done == total:
        return False
    due = bool(every_steps and done % every_steps == 0)
    if every_minutes:
        timed = torch.tensor(int(time.monotonic() - ckpt.last_save_time >= 60 * every_minutes), device=rt.device)
        if rt.distributed:
            dist.broadcast(timed, src=0)
        due = due or bool(timed.item())
    return due


# ----------------------------------------------------------------------------- the loop


@dataclass
class Step:
    """What a stage's step function returns for one optimizer step."""

    loss: float
    grad_norm: float
    skipped: bool  # non-finite loss or gradient: the update was dropped
    record: dict[str, Any] = field(default_factory=dict)  # more fields for this step's line in metrics.jsonl
    summary: dict[str, Any] = field(default_factory=dict)  # fields the run summary takes from this step
    tokens: int = 0  # tokens this step processed on all ranks: the loop logs ``tokens_per_s`` (unless ``record`` has it)


def run_loop(
    *,
    out: Path,
    rt: Runtime,
    optimizer: torch.optim.Optimizer,
    sched: LRSchedule,
    start: int,
    total_steps: int,
    step: Callable[[int], Step],
    evaluate: Callable[[int], dict[str, Any]] | None,
    eval_every: int,
    save: Callable[[int], None],
    ckpt: Checkpointer,
    ckpt_every_steps: int,
    ckpt_every_minutes: float = 0.0,
    final_save: bool = True,
    max_bad_steps: int = 5,
    log_every: int = 10,
    summary: dict[str, Any] | None = None,
    progress: bool = False,
    tensorboard: bool = False,
    name: str = "train",
) -> dict[str, Any]:
    """Steps ``start .. total_steps - 1`` of a run in ``out``; return (and write, on rank 0) its summary.

    Per step: the schedule sets the lr, ``step(i)`` does the optimizer step (its own data, forward,
    backward, clipping), the bad-step guard counts non-finite steps, one ``train`` line goes to
    ``metrics.jsonl`` (step, loss, lr, grad_norm, skipped, ``tokens_per_s`` over the step's wall time when
    it counts ``tokens``, and the step's ``record``). ``loop.json`` (name, start and total steps) is
    written first, so a watcher can report step / total while the run trains. Every
    ``eval_every`` steps and after the last one, ``evaluate(done)`` gives a ``val`` line (also merged into
    the summary). Checkpoints: ``save(done)`` every ``ckpt_every_steps`` steps / ``ckpt_every_minutes``
    minutes, and after the last step when ``final_save`` (the state later stages load); ``save`` records
    ``summary["last_checkpoint"]``. The summary (``out/summary.json``, the stage's done-marker) is
    written atomically; a rerun of a finished run returns the summary it wrote then.
    """
    summary = {"out": str(out), "start_step": start, "total_steps": total_steps, **(summary or {})}
    metrics = MetricsLog(out, rt, total=total_steps, initial=start, progress=progress, tensorboard=tensorboard, desc=name)
    guard = BadStepGuard(max_bad_steps)
    if rt.is_main:
        write_json(out / "loop.json", {"name": name, "start_step": start, "total_steps": total_steps})
    try:
        for i in range(start, total_steps):
            lr = sched.step(optimizer)
            t0 = time.perf_counter()
            res = step(i)
            rate = {"tokens_per_s": res.tokens / max(time.perf_counter() - t0, 1e-9)} if res.tokens else {}
            guard.record(res.skipped, i, res.loss, res.grad_norm)
            done = i + 1
            metrics.write({"kind": "train", "step": done, "loss": res.loss, "lr": lr, "grad_norm": res.grad_norm, "skipped": res.skipped,
                           **rate, **res.record})
            metrics.advance({"loss": f"{res.loss:.3f}", "lr": f"{lr:.2e}"})
            summary.update(step=done, loss=res.loss, **res.summary)
            if metrics.bar is None and (done % log_every == 0 or done == total_steps):
                log.info("%s step %d/%d loss %.4f lr %.3g grad %.3f", name, done, total_steps, res.loss, lr, res.grad_norm)
            if evaluate is not None and eval_every and (done % eval_every == 0 or done == total_steps):
                val = evaluate(done)
                metrics.write({"kind": "val", "step": done, **val})
                summary.update(val)
            ckpt.poll()
            if checkpoint_due(done, total_steps, every_steps=ckpt_every_steps, every_minutes=ckpt_every_minutes, ckpt=ckpt, rt=rt):
                save(done)
        if final_save and total_steps > start:
            save(total_steps)
        ckpt.wait()
    finally:
        metrics.close()
    summary["skipped_steps"] = guard.total
    previous = out / "summary.json"
    if start >= total_steps and previous.exists():
        return {**json.loads(previous.read_text()), "start_step": start}  # finished before: keep its summary
    if "last_checkpoint" not in summary and (saved := list_checkpoints(out)):
        summary["last_checkpoint"] = str(saved[-1][1])
    if rt.is_main:
        write_json(previous, summary)
    return summary
