"""Deterministic per-document random numbers: the same id and seed give the same draw on any machine.

Used for the tokenizer's training sample, the train/validation split and remix sampling, so none of
them depends on shard order, worker count or Python's randomised ``hash()``.
"""

from __future__ import annotations

import hashlib


def doc_fraction(doc_id: str, seed: int | str = 0) -> float:
    """A uniform number in [0, 1) derived from ``sha1(f"{seed}:{doc_id}")``."""
    h = hashlib.sha1(f"{seed}:{doc_id}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64
