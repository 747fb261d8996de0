"""Per-language / per-source funnel rows (``{"input", "kept", "dropped": {reason: n}, "quarantined"}``),
built per shard by workers and merged by the driver; the shape ``flows.artifacts`` renders."""

from __future__ import annotations

from typing import Any

Funnel = dict[str, dict[str, Any]]  # name -> {"input", "kept", "dropped": {reason: n}, "quarantined"}


def count_document(funnel: Funnel, name: str, dropped_reason: str | None = None) -> None:
    """Record one input document under ``name``: kept, or dropped for ``dropped_reason``."""
    entry = funnel.setdefault(name, {"input": 0, "kept": 0, "dropped": {}, "quarantined": 0})
    entry["input"] += 1
    if dropped_reason is None:
        entry["kept"] += 1
    else:
        entry["dropped"][dropped_reason] = entry["dropped"].get(dropped_reason, 0) + 1


def merge_funnels(parts: list[Funnel]) -> Funnel:
    merged: Funnel = {}
    for part in parts:
        for name, c in part.items():
            m = merged.setdefault(name, {"input": 0, "kept": 0, "dropped": {}, "quarantined": 0})
            for k in ("input", "kept", "quarantined"):
                m[k] += c.get(k, 0)
            for reason, n in c.get("dropped", {}).items():
                m["dropped"][reason] = m["dropped"].get(reason, 0) + n
    return dict(sorted(merged.items()))
