"""Pick the reader for an input file's format."""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import zstandard

from tasks.readers.files import InputFile
from tasks.readers.html import read_html_file
from tasks.readers.jsonl import read_jsonl
from tasks.readers.parquet import read_parquet
from tasks.readers.records import DroppedRecord, QuarantinedRecord, RawDocument, ReaderOptions, ReaderStats
from tasks.readers.warc import read_warc

READERS = {"jsonl": read_jsonl, "parquet": read_parquet, "warc": read_warc, "html": read_html_file}


def read_input_file(
    f: InputFile, opts: ReaderOptions, stats: ReaderStats | None = None
) -> Iterator[RawDocument | DroppedRecord | QuarantinedRecord]:
    """Stream one file's records; unknown types and unreadable files become one quarantine entry."""
    stats = stats if stats is not None else ReaderStats()
    reader = READERS.get(f.fmt)
    if reader is None:
        yield QuarantinedRecord(f.path, 0, None, "unsupported file type (expected .jsonl/.json[.gz|.zst], .parquet, .warc[.gz], .wet[.gz], .html[.gz])", None)
        return
    try:
        yield from reader(f, opts, stats)
    except (OSError, EOFError, zlib.error, zstandard.ZstdError) as e:
        yield QuarantinedRecord(f.path, None, None, f"cannot read file: {type(e).__name__}: {e}", None)
