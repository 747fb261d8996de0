"""Exact-duplicate and URL keys: uint64 hashes of normalised text and normalised URL.

``text_hashes(texts)``: xxh3 of :func:`dedup.normalize.normalize_text` (whitespace and case
insensitive). ``url_hashes(urls)``: xxh3 of :func:`dedup.normalize.normalize_url`, 0 where the
URL is missing or unparseable (0 never matches: rows with key 0 are not grouped).
``group_edges(keys, nodes)``: star edges member -> smallest node of every group sharing a key.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dedup.hashing import hash_strings
from dedup.normalize import normalize_folded, normalize_text, normalize_url

TEXT_SEED = 11
URL_SEED = 12


def text_hashes(texts: Sequence[str | None], folded: Sequence[str] | None = None) -> np.ndarray:
    """``folded``: :func:`dedup.normalize.fold` of each text, when the caller has it already."""
    if folded is not None:
        return hash_strings((normalize_folded(f) for f in folded), seed=TEXT_SEED, count=len(folded))
    return hash_strings((normalize_text(t) for t in texts), seed=TEXT_SEED, count=len(texts))


def url_hashes(urls: Sequence[str | None]) -> np.ndarray:
    normalized = [normalize_url(u) for u in urls]
    missing = np.fromiter((u is None for u in normalized), dtype=bool, count=len(normalized))
    h = hash_strings((u or "" for u in normalized), seed=URL_SEED, count=len(urls))
    h[h == 0] = 1  # a real URL never gets the "missing" key
    h[missing] = 0
    return h


def group_edges(keys: np.ndarray, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edges (member, group minimum) for every group of >= 2 rows with equal nonzero key.

    ``nodes`` are int64 node keys; the smallest node of a group is its representative.
    Duplicate (key, node) rows are collapsed.
    """
    keys = np.asarray(keys, dtype=np.uint64)
    nodes = np.asarray(nodes, dtype=np.int64)
    sel = keys != 0
    keys, nodes = keys[sel], nodes[sel]
    if len(keys) < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    order = np.lexsort((nodes, keys))
    keys, nodes = keys[order], nodes[order]
    first = np.ones(len(keys), dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    group_min = nodes[np.maximum.accumulate(np.where(first, np.arange(len(keys)), 0))]
    member = ~first & (nodes != group_min)
    return nodes[member], group_min[member]
