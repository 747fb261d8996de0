"""The filter stage's decision for a table of documents, as one pure Arrow function.

    from tasks.ops.document_filter import DocumentFilter, filter_table
    f = DocumentFilter(LanguageIdentifier(LangIdConfig()), QualityFilter(QualityConfig()))
    kept, dropped = filter_table(documents, f)      # DOCUMENT_SCHEMA, DROPPED_SCHEMA tables

Every input row is in exactly one output, in input order. Per row: language ID (``lang_*``
drops) -> the heuristics of the detected language (``gopher_rep_*``, ``gopher_*``, ``c4_*``,
``fineweb_*``; C4 may remove lines from a kept text) -> the optional classifier
(``quality_classifier_low`` when a threshold is set). Kept rows get ``lang`` / ``lang_score``;
the classifier's score goes to their ``metadata`` JSON as ``quality_score``, C4's removed line
count as ``c4_removed_lines`` when non-zero. Dropped rows keep the original text, the detected
language and a ``detail`` saying why.

:class:`DocumentFilter` holds the loaded models (fastText lid.176, the heuristics, the classifier):
a worker builds it once and calls :func:`filter_table` per batch; nothing here does I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from storage.schema import DOCUMENT_SCHEMA, DROPPED_SCHEMA
from tasks.ops.langid import LanguageIdentifier
from tasks.ops.quality import QualityFilter
from tasks.ops.quality_classifier import QualityScorer

REASON_CLASSIFIER = "quality_classifier_low"
INPUT_COLUMNS = ("id", "text", "url", "source", "metadata")


@dataclass
class DocumentFilter:
    """The loaded parts of the filter, built once per worker."""

    langid: LanguageIdentifier
    quality: QualityFilter
    scorer: QualityScorer | None = None
    threshold: float | None = None  # drop when quality_score < threshold; None = score only
    classifier_languages: frozenset[str] | None = None  # None = every kept language


def with_metadata(raw: str | None, extra: dict[str, Any]) -> str | None:
    """``raw`` metadata JSON with ``extra`` keys added (non-JSON or non-object metadata is wrapped)."""
    if not extra:
        return raw
    try:
        meta = json.loads(raw) if raw else {}
        if not isinstance(meta, dict):
            meta = {"metadata": meta}
    except ValueError:
        meta = {"metadata_raw": raw}
    meta.update(extra)
    return json.dumps(meta, ensure_ascii=False)


def filter_table(table: pa.Table, f: DocumentFilter) -> tuple[pa.Table, pa.Table]:
    """Split a documents table (``id, text, url, source, metadata``) into ``(kept, dropped)``."""
    n = table.num_rows
    texts = [t or "" for t in table.column("text").to_pylist()]
    dec = f.langid(pa.array(texts, pa.string()))
    reasons: list[str | None] = list(dec.reason)
    details = ["" if r is None else f"lang={dec.lang[i]} score={dec.score[i]:.3f}" for i, r in enumerate(reasons)]
    out_text = list(texts)
    extras: list[dict[str, Any]] = [{} for _ in range(n)]
    todo = [i for i in range(n) if reasons[i] is None]
    for i, res in zip(todo, f.quality([texts[i] for i in todo], [dec.lang[i] for i in todo])):
        if res.reason is not None:
            reasons[i], details[i] = res.reason, res.detail
        else:
            out_text[i] = res.text
            if res.removed_lines:
                extras[i]["c4_removed_lines"] = res.removed_lines
    if f.scorer is not None:
        todo = [i for i in range(n) if reasons[i] is None and (f.classifier_languages is None or dec.lang[i] in f.classifier_languages)]
        for i, s in zip(todo, f.scorer.score([out_text[i] for i in todo])):
            extras[i]["quality_score"] = round(float(s), 4)
            if f.threshold is not None and s < f.threshold:
                reasons[i], details[i] = REASON_CLASSIFIER, f"quality_score {s:.3f} < {f.threshold}"
    keep = [i for i in range(n) if reasons[i] is None]
    drop = [i for i in range(n) if reasons[i] is not None]
    cols = {name: table.column(name) for name in INPUT_COLUMNS}
    keep_idx, drop_idx = pa.array(keep, pa.int64()), pa.array(drop, pa.int64())
    metadata = cols["metadata"].to_pylist()
    kept = pa.Table.from_arrays(
        [
            cols["id"].take(keep_idx),
            pa.array([out_text[i] for i in keep], pa.string()),
            cols["url"].take(keep_idx),
            cols["source"].take(keep_idx),
            pa.array([dec.lang[i] for i in keep], pa.string()),
            pa.array(np.asarray(dec.score, dtype=np.float32)[keep] if keep else [], pa.float32()),
            pa.array([with_metadata(metadata[i], extras[i]) for i in keep], pa.string()),
        ],
        schema=DOCUMENT_SCHEMA,
    )
    dropped = pa.Table.from_arrays(
        [
            cols["id"].take(drop_idx),
            pa.array([reasons[i] for i in drop], pa.string()),
            cols["text"].take(drop_idx),
            cols["url"].take(drop_idx),
            cols["source"].take(drop_idx),
            pa.array([dec.lang[i] for i in drop], pa.string()),
            pa.nulls(len(drop), pa.string()),
            pa.array([details[i] for i in drop], pa.string()),
        ],
        schema=DROPPED_SCHEMA,
    )
    return kept.combine_chunks(), dropped.combine_chunks()
