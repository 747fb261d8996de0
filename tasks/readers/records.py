"""What readers yield, and the options and counters they share."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ReaderOptions:
    max_record_bytes: int = 64 << 20  # a raw line/record above this is quarantined unparsed (memory bound)
    max_html_bytes: int = 8 << 20  # HTML payloads above this follow ``oversize``
    oversize: str = "truncate"  # "truncate" or "quarantine" (HTML payloads here; texts in the worker)
    preview_bytes: int = 2000  # raw preview kept in quarantine rows
    favor_precision: bool = True  # trafilatura: prefer less text over boilerplate
    include_tables: bool = True  # trafilatura: keep table text
    parquet_batch_rows: int = 1024


@dataclass(slots=True)
class RawDocument:
    text: str
    id: str
    url: str | None
    source: str | None  # the record's own source/dump, if it has one
    metadata: dict[str, Any] | None
    line: int | None  # 1-based line (JSONL) or record/row number
    offset: int | None  # byte offset (decompressed for JSONL, compressed for WARC)
    invalid_utf8: int = 0  # U+FFFD substitutions made while decoding this record
    decoded_as: str | None = None  # legacy encoding the record was decoded from (None: UTF-8)


@dataclass(slots=True)
class DroppedRecord:
    id: str
    reason: str
    url: str | None
    source: str | None
    detail: str
    text: str | None = None


def printable_path(path: str) -> str:
    """``path`` as text that can be stored (a manifest, a Parquet string): a name that is not valid UTF-8 (os.fsdecode
    keeps its bytes as lone surrogates) gets those bytes as ``\\xNN``; any other path comes back unchanged."""
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


@dataclass(slots=True)
class QuarantinedRecord:
    source_file: str
    offset: int | None
    line: int | None
    error: str
    raw: str | None
    internal: bool = False  # our code (a parser, a bug) failed on this record, not the data
    trace: str | None = None  # the traceback of an internal error

    def __post_init__(self) -> None:
        self.source_file = printable_path(self.source_file)  # a file name that is not UTF-8: its bytes as \xNN
        self.error = printable_path(self.error)  # a message that quotes such a name


@dataclass
class ReaderStats:
    """Side counts a reader reports besides the records it yields."""

    skipped_records: Counter = field(default_factory=Counter)  # WARC request/warcinfo/metadata/revisit
    decoded_as: Counter = field(default_factory=Counter)  # records decoded from a legacy encoding
    truncated_html: int = 0
    bytes_decompressed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "skipped_records": dict(sorted(self.skipped_records.items())),
            "decoded_as": dict(sorted(self.decoded_as.items())),
            "truncated_html": self.truncated_html,
            "bytes_decompressed": self.bytes_decompressed,
        }


def preview(data: bytes | str | None, limit: int) -> str | None:
    """A printable preview of raw bytes for a quarantine row (at most ``limit`` bytes)."""
    if data is None:
        return None
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    return data[:limit].decode("utf-8", "replace").replace("\x00", "\\x00")


def internal_error(source_file: str, offset: int | None, line: int | None, what: str, e: BaseException, raw: bytes | str | None, limit: int) -> QuarantinedRecord:
    """A quarantine entry for a record our own code failed on (counted against the stage's cap)."""
    import traceback

    return QuarantinedRecord(
        source_file, offset, line, f"internal_error: {what}: {type(e).__name__}: {e}", preview(raw, limit),
        internal=True, trace="".join(traceback.format_exception(e)),
    )


def file_preview(path: str, offset: int | None, limit: int) -> str | None:
    """A preview of a file's raw bytes at ``offset`` (for entries that stand for a whole file)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(offset or 0)
            return preview(fh.read(limit), limit)
    except OSError:
        return None
