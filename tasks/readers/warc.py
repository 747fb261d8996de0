"""WARC / ARC / WET reader (plain or gzip; via warcio).

- ``response`` and ``resource`` records are document candidates: HTML payloads (by
  Content-Type, or sniffed when it is missing) go through main-text extraction; other payloads are
  dropped ``ingest_not_html``, non-2xx HTTP responses ``ingest_http_status``.
- ``conversion`` records (WET files) are plain text already and become documents directly.
- ``warcinfo``, ``request``, ``metadata``, ``revisit`` records are protocol records, not
  documents: they are counted in ``stats.skipped_records`` and not in the conservation counts.

Ids are the WARC-Record-ID without angle brackets (derived from file name and record index for
ARC files, which have none); url is WARC-Target-URI. warcio reads a cut
file without complaint, so truncation is detected here: a record whose declared length could
not be read to the end is quarantined with its offset (records before it are kept).
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator

from tasks.ops.normalize import decode_utf8
from tasks.readers.files import InputFile
from tasks.readers.html import html_to_item, read_payload
from tasks.readers.ids import derive_doc_id
from tasks.readers.records import (
    DroppedRecord, QuarantinedRecord, RawDocument, ReaderOptions, ReaderStats, file_preview, internal_error, preview,
)

Item = RawDocument | DroppedRecord | QuarantinedRecord
_DOC_TYPES = ("response", "resource", "conversion")
_HTML_SNIFF = (b"<!doctype html", b"<html", b"<head", b"<body")


def _drain(record) -> bool:
    """Read the rest of a record; return True when the file ended before the record did."""
    raw = record.raw_stream
    while raw.read(1 << 20):
        pass
    return bool(getattr(raw, "limit", 0))


def _is_html(content_type: str, payload_head: bytes) -> bool:
    ct = content_type.lower()
    if "html" in ct:
        return True
    if ct and not ct.startswith(("application/octet-stream", "unk", "text/plain")):
        return False
    return payload_head.lstrip()[:20].lower().startswith(_HTML_SNIFF)


def _record_to_item(record, number: int, offset: int, f: InputFile, opts: ReaderOptions, stats: ReaderStats) -> Item | None:
    headers = record.rec_headers
    # ARC files have no record ids (warcio invents random ones when converting): derive ours
    is_arc = f.path.lower().endswith((".arc", ".arc.gz"))
    rid = "" if is_arc else (headers.get_header("WARC-Record-ID") or "").strip().strip("<>")
    rid = rid or derive_doc_id(f.id_name, number)
    url = headers.get_header("WARC-Target-URI")
    metadata = {k: v for k, v in (("warc_date", headers.get_header("WARC-Date")), ("warc_type", record.rec_type)) if v}
    if record.rec_type == "conversion":
        payload = read_payload(record.content_stream(), f, "WET record", opts, stats, number + 1, offset)
        if isinstance(payload, QuarantinedRecord):
            return payload
        text, invalid = decode_utf8(payload)
        return RawDocument(text, rid, url, None, metadata, number + 1, offset, invalid)
    http = record.http_headers
    if record.rec_type == "response" and http is not None:
        status = http.get_statuscode()
        content_type = http.get_header("Content-Type") or ""
        metadata["http_status"] = status
        if not str(status).startswith("2"):
            return DroppedRecord(rid, "ingest_http_status", url, None, f"HTTP status {status}")
    else:
        content_type = headers.get_header("Content-Type") or ""
    metadata["content_type"] = content_type
    payload = read_payload(record.content_stream(), f, "HTML payload", opts, stats, number + 1, offset)
    if isinstance(payload, QuarantinedRecord):
        return payload
    if not _is_html(content_type, payload[:64]):
        return DroppedRecord(rid, "ingest_not_html", url, None, f"content type {content_type or 'unknown'!r}")
    stats.bytes_decompressed += len(payload)
    return html_to_item(payload, content_type, rid, url, None, metadata, f, number + 1, offset, opts, stats)


def read_warc(f: InputFile, opts: ReaderOptions, stats: ReaderStats) -> Iterator[Item]:
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    number = -1
    offset = 0
    with open(f.path, "rb") as stream:
        it = ArchiveIterator(stream, arc2warc=True)
        try:
            for number, record in enumerate(it):
                offset = it.offset  # start of this record (get_record_offset() would consume it)
                if record.rec_type not in _DOC_TYPES:
                    stats.skipped_records[record.rec_type] += 1
                    item = None
                else:
                    try:
                        item = _record_to_item(record, number, offset, f, opts, stats)
                    except (ArchiveLoadFailed, EOFError, OSError, zlib.error):
                        raise
                    except Exception as e:  # noqa: BLE001 - our code choking on one record: counted, capped
                        item = internal_error(f.path, offset, number + 1, f"bad {record.rec_type} record", e, None, opts.preview_bytes)
                if _drain(record):
                    yield QuarantinedRecord(
                        f.path, offset, number + 1,
                        f"file truncated inside {record.rec_type} record {number + 1} (offset {offset}); "
                        "records before it were kept, anything after it is lost",
                        preview(item.text if isinstance(item, RawDocument) else None, opts.preview_bytes),
                    )
                    return
                if item is not None:
                    yield item
            size = os.fstat(stream.fileno()).st_size
            if it.offset < size:  # warcio stops silently when a file is cut inside a record header
                yield QuarantinedRecord(
                    f.path, it.offset, number + 2,
                    f"file ends with {size - it.offset} bytes after record {number + 1} that are not a complete "
                    "record (truncated file?); records before them were kept",
                    None,
                )
        except (ArchiveLoadFailed, EOFError, OSError, zlib.error, ValueError) as e:
            yield QuarantinedRecord(
                f.path, offset, number + 2,
                f"unreadable WARC data after record {number + 1}: {type(e).__name__}: {str(e)[:300]}",
                file_preview(f.path, offset if number >= 0 else 0, opts.preview_bytes),
            )
