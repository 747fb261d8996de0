"""Arrow schemas of document datasets and their side tables.

- documents (``data/``): id, text, url, source, lang, lang_score, metadata (JSON string).
- dropped (``dropped/``): id, reason, plus the document's text, url, source, lang and a
  ``duplicate_of`` id (dedup) and ``detail`` (free text), so a dropped row can be inspected.
- quarantine (``quarantine/``): records that could not be parsed, with where they came from.
"""

from __future__ import annotations

import pyarrow as pa

DOCUMENT_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("url", pa.string()),
        pa.field("source", pa.string()),
        pa.field("lang", pa.string()),
        pa.field("lang_score", pa.float32()),
        pa.field("metadata", pa.string()),
    ]
)

DROPPED_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("text", pa.string()),
        pa.field("url", pa.string()),
        pa.field("source", pa.string()),
        pa.field("lang", pa.string()),
        pa.field("duplicate_of", pa.string()),
        pa.field("detail", pa.string()),
    ]
)

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("offset", pa.int64()),  # byte offset in the (decompressed) file, when known
        pa.field("line", pa.int64()),  # 1-based line or record number, when known
        pa.field("error", pa.string(), nullable=False),
        pa.field("raw", pa.string()),  # a preview of the bad record (at most a few KB)
    ]
)


def conform(table: pa.Table, schema: pa.Schema, what: str) -> pa.Table:
    """Reorder/cast ``table`` to ``schema``; missing nullable columns become nulls.

    Raises ``ValueError`` naming the column when a required column is missing or a cast fails.
    """
    columns = []
    for f in schema:
        if f.name in table.column_names:
            col = table.column(f.name)
            if col.type != f.type:
                try:
                    col = col.cast(f.type)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
                    raise ValueError(f"{what}: column {f.name!r} has type {col.type}, expected {f.type}: {e}") from e
        elif f.nullable:
            col = pa.nulls(table.num_rows, f.type)
        else:
            raise ValueError(f"{what}: required column {f.name!r} is missing (have {table.column_names})")
        columns.append(col)
    return pa.Table.from_arrays(columns, schema=schema)


def conform_documents(table: pa.Table) -> pa.Table:
    return conform(table, DOCUMENT_SCHEMA, "documents")
