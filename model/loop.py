"""What every training loop of ``model/`` (pretrain, SFT, DPO) shares around its step.

``resolve_seq_len``: the one rule for sequence length (below).

``write_json``: run files that other stages read (``summary.json`` is a stage's done-marker), written
atomically: a temporary file in the same directory, fsynced, then renamed over the old one
(``storage.write_bytes_atomic``), so a reader or a crash sees the old file or the new one, never a part.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from storage import write_bytes_atomic


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
