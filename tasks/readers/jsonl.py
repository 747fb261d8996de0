"""JSONL reader (``.jsonl``, ``.ndjson``, ``.json``; plain, gzip or zstd).

Fields: ``text`` (required string), optional ``id``, ``url`` (or ``metadata.url`` /
``metadata.warc_url``), ``dump`` or ``source``; every other field goes into the metadata JSON.
A ``.json`` file whose first line is not a JSON value is read as one JSON document (an object
or an array of objects), if it fits in ``max_record_bytes``.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Iterator
from typing import Any

import zstandard

from tasks.ops.normalize import decode_utf8, scrub_surrogates
from tasks.readers.files import InputFile
from tasks.readers.ids import derive_doc_id
from tasks.readers.records import QuarantinedRecord, RawDocument, ReaderOptions, ReaderStats, preview
from tasks.readers.streams import iter_lines, open_decompressed

Item = RawDocument | QuarantinedRecord
_CORE_FIELDS = ("text", "id", "url", "source", "dump")


def _clean(value: Any) -> str | None:
    """A scalar field as a UTF-8-safe string (None for null/containers)."""
    if value is None or isinstance(value, (dict, list)):
        return None
    return scrub_surrogates(str(value))[0]


def record_to_document(
    obj: Any, f: InputFile, record_number: int, line: int | None, offset: int | None, invalid: int, raw: Any, opts: ReaderOptions
) -> Item:
    """Turn one parsed JSON value into a RawDocument, or a quarantine entry saying what is wrong.

    ``raw`` (bytes, str or a callable returning one) is only rendered for quarantine previews."""

    def bad(error: str) -> QuarantinedRecord:
        return QuarantinedRecord(f.path, offset, line, error, preview(raw() if callable(raw) else raw, opts.preview_bytes))

    if not isinstance(obj, dict):
        return bad(f"record is a JSON {type(obj).__name__}, expected an object with a 'text' field")
    if "text" not in obj:
        return bad(f"record has no 'text' field (fields: {sorted(obj)[:20]})")
    text = obj["text"]
    if text is None:
        return bad("field 'text' is null, expected a string")
    if not isinstance(text, str):
        return bad(f"field 'text' is a JSON {type(text).__name__}, expected a string")
    text, surrogates = scrub_surrogates(text)
    doc_id = _clean(obj.get("id")) or derive_doc_id(f.id_name, record_number)
    meta_in = obj.get("metadata")
    url = _clean(obj.get("url"))
    if url is None and isinstance(meta_in, dict):
        url = _clean(meta_in.get("url") or meta_in.get("warc_url"))
    source = _clean(obj.get("dump")) or _clean(obj.get("source"))
    metadata = {k: v for k, v in obj.items() if k not in _CORE_FIELDS}
    if obj.get("dump") is not None and obj.get("source") is not None:
        metadata["source"] = obj["source"]
    return RawDocument(text, doc_id, url, source, metadata or None, line, offset, invalid + surrogates)


def _read_whole_json(f: InputFile, opts: ReaderOptions, stats: ReaderStats) -> Iterator[Item]:
    with open_decompressed(f.path) as stream:
        data = stream.read(opts.max_record_bytes + 1)
    stats.bytes_decompressed += len(data)
    if len(data) > opts.max_record_bytes:
        yield QuarantinedRecord(f.path, 0, 1, f"JSON document larger than max_record_bytes={opts.max_record_bytes}", preview(data, opts.preview_bytes))
        return
    text, invalid = decode_utf8(data)
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        yield QuarantinedRecord(f.path, e.pos, e.lineno, f"broken JSON: {e.msg} (line {e.lineno} column {e.colno})", preview(data, opts.preview_bytes))
        return
    records = obj if isinstance(obj, list) else [obj]
    for i, rec in enumerate(records):
        raw = json.dumps(rec, ensure_ascii=False, default=str)[: opts.preview_bytes]
        yield record_to_document(rec, f, i, i + 1, None, invalid if i == 0 else 0, raw, opts)


def read_jsonl(f: InputFile, opts: ReaderOptions, stats: ReaderStats) -> Iterator[Item]:
    name = os.path.basename(f.path).lower()
    for ext in (".gz", ".zst", ".zstd"):
        name = name.removesuffix(ext)
    whole_json_ok = name.endswith(".json")
    end = 0
    number = 0
    with open_decompressed(f.path) as stream:
        try:
            head = stream.peek(4096)[:4096] if hasattr(stream, "peek") else b""
            if b"\x00" in head:
                yield QuarantinedRecord(f.path, 0, None, "binary data (NUL bytes in the first 4 KB): not a JSONL file", preview(head, opts.preview_bytes))
                return
            for line in iter_lines(stream, opts.max_record_bytes):
                number = line.number
                end = line.offset + line.size
                stats.bytes_decompressed += line.size
                if line.data is None:
                    yield QuarantinedRecord(
                        f.path, line.offset, line.number,
                        f"line of {line.size} bytes exceeds max_record_bytes={opts.max_record_bytes}; not parsed",
                        preview(line.head, opts.preview_bytes),
                    )
                    continue
                if not line.data.strip():
                    continue
                text, invalid = decode_utf8(line.data)
                try:
                    obj = json.loads(text)
                except json.JSONDecodeError as e:
                    if line.number == 1 and whole_json_ok:
                        break  # maybe one pretty-printed JSON document: retried below
                    yield QuarantinedRecord(f.path, line.offset, line.number, f"broken JSON: {e.msg} (column {e.colno})", preview(line.data, opts.preview_bytes))
                    continue
                yield record_to_document(obj, f, line.number - 1, line.number, line.offset, invalid, line.data, opts)
            else:
                return
        except (EOFError, OSError, zlib.error, zstandard.ZstdError) as e:
            yield QuarantinedRecord(
                f.path, end, number + 1,
                f"{type(e).__name__}: {e} after {end} decompressed bytes ({number} lines read); the records before were kept",
                None,
            )
            return
    stats.bytes_decompressed = 0
    yield from _read_whole_json(f, opts, stats)
