"""filter_table: the filter stage's decision as a pure Arrow function (real fastText lid.176)."""

from __future__ import annotations

import json

import pyarrow as pa

from storage import DOCUMENT_SCHEMA, DROPPED_SCHEMA
from tasks.filter import FilterConfig, build_document_filter
from tasks.ops.document_filter import filter_table
from tests.tasks.filter_samples import EN_CLEAN, FR_CLEAN, ZH_CLEAN


def test_filter_table_splits_every_row_once_in_order() -> None:
    rows = [("en", EN_CLEAN + "\nPlease enable JavaScript to view the comments.", '{"k": 1}'), ("fr", FR_CLEAN, None),
            ("zh", ZH_CLEAN, None), ("empty", "", None), ("en2", EN_CLEAN, "not json")]
    table = pa.table({"id": [r[0] for r in rows], "text": [r[1] for r in rows], "url": [f"u/{r[0]}" for r in rows],
                      "source": ["s"] * len(rows), "metadata": [r[2] for r in rows]})
    f = build_document_filter(FilterConfig())
    kept, dropped = filter_table(table, f)
    assert kept.schema == DOCUMENT_SCHEMA and dropped.schema == DROPPED_SCHEMA
    assert kept.column("id").to_pylist() == ["en", "zh", "en2"]  # input order
    assert dropped.column("id").to_pylist() == ["fr", "empty"]
    assert dropped.column("reason").to_pylist() == ["lang_unsupported", "lang_no_text"]
    assert dropped.column("text").to_pylist() == [FR_CLEAN, ""] and all(dropped.column("detail").to_pylist())
    en = kept.slice(0, 1).to_pylist()[0]
    assert "JavaScript" not in en["text"] and en["lang"] == "en" and en["url"] == "u/en"
    assert json.loads(en["metadata"]) == {"k": 1, "c4_removed_lines": 1}
    assert kept.column("metadata")[2].as_py() == "not json"  # left as it was when nothing is added
    empty_kept, empty_dropped = filter_table(table.slice(0, 0), f)
    assert empty_kept.num_rows == empty_dropped.num_rows == 0 and empty_kept.schema == DOCUMENT_SCHEMA
