"""Progress of a long stage as plain data, for whoever drives it (no Prefect here).

A driver that runs units (shards, files, steps) takes an optional ``progress`` callback and
reports through a :class:`ProgressMeter`; the flow layer passes a callback that turns each
:class:`ProgressEvent` into a Prefect progress artifact and a log line (flows/run_artifacts.py)::

    meter = ProgressMeter(progress, "filter", total=len(units), unit="shards", item="docs")
    map_units(..., on_result=lambda r: meter.advance(items=r["counts"]["input"]))

With ``progress=None`` the meter does nothing, so the pure layers run the same without a flow.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ProgressEvent:
    """``done`` of ``total`` units after ``elapsed_s``; ``items`` (docs, tokens) processed at ``rate`` per second."""

    stage: str
    done: int
    total: int
    unit: str = "shards"
    item: str = "docs"
    items: float = 0.0
    rate: float | None = None  # items per second; None: items / elapsed
    elapsed_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. training loss

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total > 0 else 1.0

    @property
    def items_per_s(self) -> float | None:
        if self.rate is not None:
            return self.rate
        return self.items / self.elapsed_s if self.items and self.elapsed_s > 0 else None

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the pace so far (units per second); None before the first unit."""
        if self.done <= 0 or self.elapsed_s <= 0:
            return None
        return max(0.0, self.elapsed_s / self.done * (self.total - self.done))

    def line(self) -> str:
        """``filter: 3/8 shards (38%), 1,200 docs, 410 docs/s, ETA 12 s``."""
        parts = [f"{self.stage}: {self.done}/{self.total} {self.unit} ({100 * self.fraction:.0f}%)"]
        parts += [f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in self.extra.items()]
        if self.items:
            parts.append(f"{self.items:,.0f} {self.item}")
        if self.items_per_s is not None:
            parts.append(f"{self.items_per_s:,.0f} {self.item}/s")
        eta = self.eta_s
        parts.append("done" if self.done >= self.total else f"ETA {format_seconds(eta)}" if eta is not None else "ETA n/a")
        return ", ".join(parts)


ProgressFn = Callable[[ProgressEvent], None]


def format_seconds(s: float) -> str:
    s = int(round(s))
    return f"{s} s" if s < 120 else f"{s // 60} min {s % 60:02d} s" if s < 7200 else f"{s // 3600} h {s % 3600 // 60:02d} min"


class ProgressMeter:
    """Counts finished units and items of one stage and reports a :class:`ProgressEvent` after each."""

    def __init__(self, report: ProgressFn | None, stage: str, total: int, *, unit: str = "shards", item: str = "docs",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.report = report
        self.stage, self.total, self.unit, self.item = stage, total, unit, item
        self.clock = clock
        self.start = clock()
        self.done = 0
        self.items = 0.0
        if report is not None:
            report(self.event())

    def event(self, **extra: Any) -> ProgressEvent:
        return ProgressEvent(self.stage, self.done, self.total, self.unit, self.item, self.items,
                             elapsed_s=self.clock() - self.start, extra=extra)

    def advance(self, items: float = 0, units: int = 1, **extra: Any) -> None:
        self.done += units
        self.items += items
        if self.report is not None:
            self.report(self.event(**extra))
