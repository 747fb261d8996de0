"""HTML main-text extraction (trafilatura) and the plain-HTML-file reader.

Decoding: a UTF-16 BOM wins; else the charset from the HTTP header, else from a ``<meta charset>``
in the first 4 KB, else UTF-8; the first candidate that decodes strictly wins (``gb2312``/``gbk``
are read as their superset ``gb18030``); if none does and the first is UTF-8,
:func:`tasks.ops.normalize.decode_text_bytes` recognises undeclared GBK / Latin-1 pages, else the
first candidate is used with U+FFFD replacements, counted. A crash of the extractor on one page is
an internal error (quarantined with reason ``internal_error``, counted against the stage's cap).
Extraction: ``trafilatura.extract(favor_precision=True, include_comments=False,
deduplicate=False)`` (deduplication off: its cache is per process, which would make output
depend on how files are spread over workers).
"""

from __future__ import annotations

import codecs
import logging
import re
from collections.abc import Iterator

from tasks.ops.normalize import decode_text_bytes
from tasks.readers.files import InputFile
from tasks.readers.ids import derive_doc_id
from tasks.readers.records import DroppedRecord, QuarantinedRecord, RawDocument, ReaderOptions, ReaderStats, internal_error, preview
from tasks.readers.streams import UTF16_BOMS, open_decompressed

Item = RawDocument | DroppedRecord | QuarantinedRecord
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.IGNORECASE)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([a-zA-Z0-9_.:-]+)", re.IGNORECASE)
_SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030", "iso-8859-1": "cp1252", "latin-1": "cp1252", "ascii": "utf-8"}

logging.getLogger("trafilatura").setLevel(logging.CRITICAL)


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        canonical = codecs.lookup(name.strip().lower()).name
    except LookupError:
        return None
    return _SUPERSETS.get(canonical, canonical)


def decode_html(data: bytes, content_type: str | None = None) -> tuple[str, int]:
    """Decode an HTML payload; return ``(text, U+FFFD replacements)``."""
    if data.startswith(UTF16_BOMS):
        text = data.decode("utf-16", "replace")
        return text, text.count("\ufffd")
    candidates: list[str] = []
    if content_type and (m := _HEADER_CHARSET.search(content_type)):
        candidates.append(_codec(m.group(1)) or "")
    if m := _META_CHARSET.search(data[:4096]):
        candidates.append(_codec(m.group(1).decode("ascii", "ignore")) or "")
    candidates = [c for c in dict.fromkeys(candidates + ["utf-8"]) if c]
    for codec in candidates:
        try:
            return data.decode(codec), 0
        except (UnicodeDecodeError, LookupError):
            continue
    if candidates[0] in ("utf-8", "utf_8"):
        text, invalid, _ = decode_text_bytes(data)
        return text, invalid
    text = data.decode(candidates[0], "replace")
    return text, text.count("\ufffd")


def extract_main_text(html: str, opts: ReaderOptions, url: str | None = None) -> str | None:
    """Main text of a page (paragraphs separated by newlines), or None when there is none."""
    import trafilatura

    return trafilatura.extract(
        html,
        url=url,
        favor_precision=opts.favor_precision,
        include_comments=False,
        include_tables=opts.include_tables,
        deduplicate=False,
        output_format="txt",
    )


def html_to_item(
    data: bytes, content_type: str | None, doc_id: str, url: str | None, source: str | None,
    metadata: dict, f: InputFile, line: int | None, offset: int | None, opts: ReaderOptions, stats: ReaderStats,
) -> Item:
    """Extract one page: a RawDocument, or dropped ``ingest_no_main_text``, or quarantined on failure."""
    try:
        html, invalid = decode_html(data, content_type)
        text = extract_main_text(html, opts, url)
    except Exception as e:  # noqa: BLE001 - the extractor choking on one page: counted, capped
        return internal_error(f.path, offset, line, "HTML extraction failed", e, data, opts.preview_bytes)
    if not text or not text.strip():
        return DroppedRecord(doc_id, "ingest_no_main_text", url, source, f"no main text found in {len(data)} bytes of HTML")
    return RawDocument(text, doc_id, url, source, metadata or None, line, offset, invalid)


def read_payload(stream, f: InputFile, what: str, opts: ReaderOptions, stats: ReaderStats, line: int | None, offset: int | None) -> bytes | QuarantinedRecord:
    """Read at most ``max_html_bytes`` of a payload, applying the oversize policy."""
    data = stream.read(opts.max_html_bytes + 1)
    if len(data) > opts.max_html_bytes:
        if opts.oversize == "quarantine":
            return QuarantinedRecord(
                f.path, offset, line, f"{what} larger than max_html_bytes={opts.max_html_bytes} (oversize=quarantine)",
                preview(data, opts.preview_bytes),
            )
        stats.truncated_html += 1
        data = data[: opts.max_html_bytes]
    return data


def read_html_file(f: InputFile, opts: ReaderOptions, stats: ReaderStats) -> Iterator[Item]:
    """One plain HTML file (optionally gzip/zstd) is one record."""
    try:
        with open_decompressed(f.path) as stream:
            payload = read_payload(stream, f, "HTML file", opts, stats, 1, 0)
    except (EOFError, OSError) as e:
        yield QuarantinedRecord(f.path, 0, 1, f"cannot read HTML file: {type(e).__name__}: {e}", None)
        return
    if isinstance(payload, QuarantinedRecord):
        yield payload
        return
    stats.bytes_decompressed += len(payload)
    yield html_to_item(payload, None, derive_doc_id(f.id_name, 0), None, None, {"path": f.relpath}, f, 1, 0, opts, stats)
