"""JSONL reader (``.jsonl``, ``.ndjson``, ``.json``; plain, gzip or zstd).

Fields: ``text`` (required string), optional ``id``, ``url`` (or ``metadata.url`` /
``metadata.warc_url``), ``dump`` or ``source``; every other field goes into the metadata JSON.
A ``.json`` file whose first line is not a JSON value is read as one JSON document (an object
or an array of objects), if it fits in ``max_record_bytes``.

Hostile records (each is one quarantine entry, or kept by a stated rule; never a crash):

- a UTF-8 BOM at the start of the file or of any line is dropped; UTF-16 files are transcoded
  (:func:`tasks.readers.streams.open_text_stream`); lines end at ``\n``, ``\r\n`` or ``\r``;
- a line that is not valid UTF-8 is decoded by :func:`tasks.ops.normalize.decode_text_bytes`
  (GBK -> GB18030, Latin-1 -> cp1252, else U+FFFD); the encoding goes to ``metadata.decoded_as``;
- JSON nested deeper than :data:`MAX_JSON_DEPTH` levels is quarantined (so no later stage can
  hit a RecursionError on it);
- integers beyond Python's parsing limit (``sys.get_int_max_str_digits()``, 4300 digits) are
  kept as their decimal strings; integers beyond int64 stay exact JSON numbers in the metadata
  JSON (nothing here converts them to int64);
- ``NaN`` / ``Infinity`` are accepted and written to the metadata as strings (strict JSON).
"""

from __future__ import annotations

import json
import os
import sys
import zlib
from collections.abc import Iterator
from typing import Any

import zstandard

from tasks.ops.normalize import decode_text_bytes, scrub_surrogates
from tasks.readers.files import InputFile
from tasks.readers.ids import derive_doc_id
from tasks.readers.records import QuarantinedRecord, RawDocument, ReaderOptions, ReaderStats, preview
from tasks.readers.streams import UTF8_BOM, iter_lines, open_text_stream

Item = RawDocument | QuarantinedRecord
_CORE_FIELDS = ("text", "id", "url", "source", "dump")
MAX_JSON_DEPTH = 100  # far below Python's recursion limit, so every later json.loads/dumps is safe
TOO_DEEP = f"JSON nested deeper than {MAX_JSON_DEPTH} levels; not ingested"


def _int_or_digits(digits: str) -> int | str:
    return int(digits) if len(digits.lstrip("-")) <= sys.get_int_max_str_digits() else digits


def json_depth(obj: Any) -> int:
    """Nesting depth of a parsed JSON value (a scalar is 0), without recursion."""
    depth = 0
    stack = [(obj, 1)]
    while stack:
        value, d = stack.pop()
        if isinstance(value, dict):
            value = value.values()
        elif not isinstance(value, list):
            continue
        depth = max(depth, d)
        stack.extend((v, d + 1) for v in value if isinstance(v, (dict, list)))
    return depth


def parse_json(text: str) -> tuple[Any, str | None, bool]:
    """``(value, None, False)``, or ``(None, error, is_syntax_error)`` for a value we do not ingest."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        return None, f"broken JSON: {e.msg} (column {e.colno})", True
    except RecursionError:
        return None, TOO_DEEP, False
    except ValueError:  # an integer literal longer than Python parses: keep it as its digits
        try:
            obj = json.loads(text, parse_int=_int_or_digits)
        except (ValueError, RecursionError) as e:
            return None, f"bad JSON value: {str(e)[:200]}", False
    if (text.count("{") + text.count("[") > MAX_JSON_DEPTH) and json_depth(obj) > MAX_JSON_DEPTH:
        return None, TOO_DEEP, False
    return obj, None, False


def _clean(value: Any) -> str | None:
    """A scalar field as a UTF-8-safe string (None for null/containers)."""
    if value is None or isinstance(value, (dict, list)):
        return None
    return scrub_surrogates(str(value))[0]


def record_to_document(
    obj: Any, f: InputFile, record_number: int, line: int | None, offset: int | None, invalid: int, raw: Any, opts: ReaderOptions,
    decoded_as: str | None = None,
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
    if decoded_as:
        metadata["decoded_as"] = decoded_as
    return RawDocument(text, doc_id, url, source, metadata or None, line, offset, invalid + surrogates, decoded_as)


def _read_whole_json(f: InputFile, opts: ReaderOptions, stats: ReaderStats) -> list[Item] | None:
    """Records of a file that is one JSON document (object or array), or None if it is not one."""
    stream, _ = open_text_stream(f.path)
    with stream:
        data = stream.read(opts.max_record_bytes + 1)
    if len(data) > opts.max_record_bytes:
        return None
    text, invalid, decoded_as = decode_text_bytes(data)
    obj, error, syntax = parse_json(text)
    if syntax:
        return None
    stats.bytes_decompressed += len(data)
    if error:
        return [QuarantinedRecord(f.path, 0, 1, error, preview(data, opts.preview_bytes))]
    records = obj if isinstance(obj, list) else [obj]
    if decoded_as:
        stats.decoded_as[decoded_as] += len(records)
    return [
        record_to_document(
            rec, f, i, i + 1, None, invalid if i == 0 else 0, lambda rec=rec: json.dumps(rec, ensure_ascii=False, default=str), opts,
            decoded_as,
        )
        for i, rec in enumerate(records)
    ]


def read_jsonl(f: InputFile, opts: ReaderOptions, stats: ReaderStats, whole_json_ok: bool | None = None) -> Iterator[Item]:
    if whole_json_ok is None:
        name = os.path.basename(f.path).lower()
        for ext in (".gz", ".zst", ".zstd"):
            name = name.removesuffix(ext)
        whole_json_ok = name.endswith(".json")
    end = 0
    number = 0
    stream, _ = open_text_stream(f.path)
    with stream:
        try:
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
                data = line.data[len(UTF8_BOM) :] if line.data.startswith(UTF8_BOM) else line.data
                if not data.strip():
                    continue
                text, invalid, decoded_as = decode_text_bytes(data)
                obj, error, syntax = parse_json(text)
                if error is not None:
                    if syntax and line.number == 1 and whole_json_ok:
                        break  # maybe one pretty-printed JSON document: retried below
                    yield QuarantinedRecord(f.path, line.offset, line.number, error, preview(data, opts.preview_bytes))
                    continue
                if decoded_as:
                    stats.decoded_as[decoded_as] += 1
                yield record_to_document(obj, f, line.number - 1, line.number, line.offset, invalid, data, opts, decoded_as)
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
    items = _read_whole_json(f, opts, stats)
    if items is None:  # not one JSON document either: JSONL whose first line is broken
        yield from read_jsonl(f, opts, stats, whole_json_ok=False)
    else:
        yield from items
