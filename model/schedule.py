"""Learning-rate schedules: DeepSeek's multi-step schedule and cosine for comparison.

Multi-step (the paper's): linear warmup to the peak over ``warmup_steps`` (2000, or proportionally
fewer for short runs: at most ``warmup_fraction`` of training), then the peak until 80% of the
training tokens, x0.316 until 90%, x0.1 to the end. Because the first 80% is schedule-independent of
the final budget, a run can be extended (continual training) from a checkpoint taken before the
first decay (see ``first_decay_step``). Cosine: the same warmup, then cosine to ``min_lr_ratio``.

    sched = LRSchedule(ScheduleConfig(peak_lr=4.2e-4, total_steps=212_000))
    lr = sched.step(optimizer)   # sets and returns the lr for the next optimizer step
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class ScheduleConfig:
    peak_lr: float
    total_steps: int
    kind: str = "multistep"  # or "cosine"
    warmup_steps: int = 2000
    warmup_fraction: float = 0.05  # short runs warm up over at most this fraction of training
    decay_points: tuple[float, ...] = (0.8, 0.9)  # fractions of training tokens (= steps at a fixed batch)
    decay_factors: tuple[float, ...] = (0.316, 0.1)
    min_lr_ratio: float = 0.1  # cosine floor

    def __post_init__(self) -> None:
        if self.kind not in ("multistep", "cosine"):
            raise ValueError(f"unknown schedule {self.kind!r}: multistep or cosine")
        if self.total_steps < 1 or self.peak_lr <= 0:
            raise ValueError(f"schedule needs total_steps >= 1 and peak_lr > 0, got {self.total_steps}, {self.peak_lr}")
        if len(self.decay_points) != len(self.decay_factors):
            raise ValueError("decay_points and decay_factors must have the same length")
        self.decay_points, self.decay_factors = tuple(self.decay_points), tuple(self.decay_factors)

    @property
    def effective_warmup(self) -> int:
        return max(1, min(self.warmup_steps, round(self.warmup_fraction * self.total_steps)))

    @property
    def first_decay_step(self) -> int:
        """The first step whose lr is below the peak (multi-step); checkpoints before it can be extended."""
        return math.ceil(self.decay_points[0] * self.total_steps)


def lr_at(cfg: ScheduleConfig, step: int) -> float:
    """Learning rate of optimizer step ``step`` (0-based)."""
    warm = cfg.effective_warmup
    if step < warm:
        return cfg.peak_lr * (step + 1) / warm
    if cfg.kind == "cosine":
        progress = min(1.0, (step - warm) / max(1, cfg.total_steps - warm))
        return cfg.peak_lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))
    factor = 1.0
    for point, f in zip(cfg.decay_points, cfg.decay_factors):
        if step >= math.ceil(point * cfg.total_steps):
            factor = f
    return cfg.peak_lr * factor


@dataclass
class LRSchedule:
    cfg: ScheduleConfig
    last_step: int = field(default=-1)  # the step whose lr was set most recently

    def step(self, optimizer: torch.optim.Optimizer) -> float:
        """Advance to the next step, write its lr into every param group and return it."""
        self.last_step += 1
        lr = lr_at(self.cfg, self.last_step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        return lr

    def state_dict(self) -> dict[str, Any]:
        return {"last_step": self.last_step, "config": dataclasses.asdict(self.cfg)}

    def load_state_dict(self, state: dict[str, Any], *, keep_config: bool = False) -> None:
        """Restore the position; the config is restored too unless ``keep_config`` (continual training)."""
        self.last_step = int(state["last_step"])
        if not keep_config:
            c = dict(state["config"])
            self.cfg = ScheduleConfig(**{**c, "decay_points": tuple(c["decay_points"]), "decay_factors": tuple(c["decay_factors"])})
