"""Parquet reader: a ``text`` column (string; other types are quarantined row by row), read in
batches of ``parquet_batch_rows`` so memory stays bounded. Optional ``id``, ``url``, ``dump`` or
``source`` columns; all other columns go into the metadata JSON."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from tasks.ops.normalize import decode_utf8
from tasks.readers.files import InputFile
from tasks.readers.jsonl import record_to_document
from tasks.readers.records import QuarantinedRecord, RawDocument, ReaderOptions, ReaderStats, file_preview

Item = RawDocument | QuarantinedRecord


def read_parquet(f: InputFile, opts: ReaderOptions, stats: ReaderStats) -> Iterator[Item]:
    with open(f.path, "rb") as fh:  # a file object: pyarrow refuses a str path whose name is not UTF-8
        yield from _read_parquet(fh, f, opts, stats)


def _read_parquet(fh: BinaryIO, f: InputFile, opts: ReaderOptions, stats: ReaderStats) -> Iterator[Item]:
    try:
        pf = pq.ParquetFile(fh)
    except (pa.ArrowException, OSError) as e:
        yield QuarantinedRecord(f.path, 0, None, f"not a readable Parquet file: {e}", file_preview(f.path, 0, opts.preview_bytes))
        return
    names = pf.schema_arrow.names
    if "text" not in names:
        yield QuarantinedRecord(
            f.path, 0, None,
            f"Parquet file has no 'text' column (columns: {names[:20]}); its {pf.metadata.num_rows} rows were not ingested",
            None,
        )
        return
    text_type = pf.schema_arrow.field("text").type
    row = 0
    try:
        for batch in pf.iter_batches(batch_size=opts.parquet_batch_rows):
            texts = batch.column("text")
            if pa.types.is_string(text_type) or pa.types.is_large_string(text_type):
                # read the bytes ourselves: Parquet does not guarantee valid UTF-8
                raw_texts = texts.cast(pa.large_binary()).to_pylist()
            else:
                raw_texts = None
            others = batch.drop_columns(["text"]).to_pylist()
            for i, rec in enumerate(others):
                invalid = 0
                if raw_texts is not None:
                    data = raw_texts[i]
                    if data is None:
                        rec["text"] = None
                    else:
                        rec["text"], invalid = decode_utf8(data)
                        stats.bytes_decompressed += len(data)
                else:
                    rec["text"] = texts[i].as_py()
                yield record_to_document(rec, f, row, row + 1, None, invalid, lambda rec=rec: repr(rec), opts)
                row += 1
    except (pa.ArrowException, OSError) as e:
        yield QuarantinedRecord(
            f.path, None, row + 1,
            f"Parquet read failed at row {row} of {pf.metadata.num_rows}: {e}; the rows before were kept", None,
        )
