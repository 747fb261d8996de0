"""Is a file what its name says? One look at its first bytes, before a reader parses it.

A file whose content does not match its extension becomes *one* quarantine entry (with a preview
of its own first bytes), not one entry or one drop per line or pseudo-record:

| format | refused when the (decompressed) first bytes... |
|---|---|
| JSONL / JSON | hold a NUL byte in the first 4 KB (binary data), or none of the first 8 non-blank lines in the first 64 KB starts with ``{`` or ``[`` (plain text, HTML, CSV) |
| WARC / ARC / WET | do not start with ``WARC/`` or ``filedesc://`` (plain text named ``.warc`` would otherwise be parsed as ARC headers, one drop per line) |
| HTML | hold a NUL byte in the first 4 KB, unless the file starts with a UTF-16 BOM (an image or archive named ``.html``) |

Parquet files check their own magic bytes (``pyarrow``). A file that cannot be read here at all
(truncated at its first bytes, vanished) is left to its reader, which reports it.
"""

from __future__ import annotations

import re
import zlib

import zstandard

from tasks.readers.files import InputFile
from tasks.readers.records import QuarantinedRecord, preview
from tasks.readers.streams import UTF16_BOMS, UTF8_BOM, open_decompressed, open_text_stream

SNIFF_BYTES = 64 << 10
NUL_WINDOW = 4096
SNIFF_LINES = 8
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")


def _head(f: InputFile, text: bool) -> bytes | None:
    try:
        stream = open_text_stream(f.path)[0] if text else open_decompressed(f.path)
        with stream:
            return stream.read(SNIFF_BYTES)
    except (OSError, EOFError, zlib.error, zstandard.ZstdError):
        return None


def _jsonl_problem(head: bytes) -> str | None:
    if b"\x00" in head[:NUL_WINDOW]:
        return "binary data (NUL bytes in the first 4 KB): not a JSONL file"
    starts = []
    for line in _LINE_BREAK.split(head):
        line = line.removeprefix(UTF8_BOM).lstrip()
        if line:
            starts.append(line[:1])
            if len(starts) == SNIFF_LINES:
                break
    if starts and not any(s in (b"{", b"[") for s in starts):
        return f"not JSON Lines: none of the first {len(starts)} non-blank lines starts a JSON object or array"
    return None


def _warc_problem(head: bytes) -> str | None:
    start = head.lstrip(b"\r\n")
    if not start or start.startswith((b"WARC/", b"filedesc://")):
        return None
    return f"unreadable WARC data: not a WARC/ARC file (it starts with {start[:24]!r}, expected 'WARC/' or 'filedesc://')"


def _html_problem(head: bytes) -> str | None:
    if b"\x00" in head[:NUL_WINDOW] and not head.startswith(UTF16_BOMS):
        return "binary data (NUL bytes in the first 4 KB): not an HTML file"
    return None


_CHECKS = {"jsonl": (True, _jsonl_problem), "warc": (False, _warc_problem), "html": (False, _html_problem)}


def sniff(f: InputFile, preview_bytes: int) -> QuarantinedRecord | None:
    """One quarantine entry when ``f``'s content is not of its format, else None."""
    check = _CHECKS.get(f.fmt)
    if check is None:
        return None
    text, problem_of = check
    head = _head(f, text)
    if not head:
        return None
    problem = problem_of(head)
    return QuarantinedRecord(f.path, 0, None, problem, preview(head, preview_bytes)) if problem else None
