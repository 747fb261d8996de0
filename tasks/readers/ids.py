"""Deterministic document ids for records that carry none (the cross-branch id contract).

``doc-`` + the first 24 hex digits of ``sha1(f"{name}:{record_number}")`` where ``name`` is the
input file's basename and ``record_number`` the 0-based index of the record in the file: the
0-based *line* index for JSONL (blank and broken lines count, so ids do not shift when a line
before is broken), the 0-based row index for Parquet, the 0-based record index for WARC records
without a WARC-Record-ID. Plain HTML files use their path relative to the input root (their
basenames, such as ``source.html``, are rarely unique) and record number 0.
"""

from __future__ import annotations

import hashlib


def derive_doc_id(name: str, record_number: int) -> str:
    return "doc-" + hashlib.sha1(f"{name}:{record_number}".encode("utf-8")).hexdigest()[:24]
