"""Pick the reader for an input file's format."""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import zstandard

from tasks.readers.files import InputFile
from tasks.readers.html import read_html_file
from tasks.readers.jsonl import read_jsonl
from tasks.readers.parquet import read_parquet
from tasks.readers.records import DroppedRecord, QuarantinedRecord, RawDocument, ReaderOptions, ReaderStats, file_preview
from tasks.readers.sniff import sniff
from tasks.readers.warc import read_warc

READERS = {"jsonl": read_jsonl, "parquet": read_parquet, "warc": read_warc, "html": read_html_file}


def read_input_file(
    f: InputFile, opts: ReaderOptions, stats: ReaderStats | None = None
) -> Iterator[RawDocument | DroppedRecord | QuarantinedRecord]:
    """Stream one file's records; a path the listing refused (``f.problem``), an unknown type, a
    file whose content is not of its type and an unreadable file each become one quarantine entry."""
    stats = stats if stats is not None else ReaderStats()
    if f.problem:  # never opened: a link out of the input root, a dangling link, a FIFO
        yield QuarantinedRecord(f.path, None, None, f.problem, None)
        return
    reader = READERS.get(f.fmt)
    if reader is None:
        yield QuarantinedRecord(
            f.path, 0, None, "unsupported file type (expected .jsonl/.json[.gz|.zst], .parquet, .warc[.gz], .wet[.gz], .html[.gz])",
            file_preview(f.path, 0, opts.preview_bytes),
        )
        return
    mismatch = sniff(f, opts.preview_bytes)
    if mismatch is not None:
        yield mismatch
        return
    try:
        yield from reader(f, opts, stats)
    except (OSError, EOFError, zlib.error, zstandard.ZstdError) as e:
        yield QuarantinedRecord(f.path, None, None, f"cannot read file: {type(e).__name__}: {e}", None)
