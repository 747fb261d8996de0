"""What every training loop of ``model/`` (pretrain, SFT, DPO) shares around its step.

``write_json``: run files that other stages read (``summary.json`` is a stage's done-marker), written
atomically: a temporary file in the same directory, fsynced, then renamed over the old one
(``storage.write_bytes_atomic``), so a reader or a crash sees the old file or the new one, never a part.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from storage import write_bytes_atomic


def write_json(path: str | Path, obj: Any) -> None:
    """``obj`` as indented JSON at ``path``, atomically (serialised first: a failure leaves the old file)."""
    write_bytes_atomic(str(path), json.dumps(obj, indent=1, default=str).encode())
