"""LSH band keys partitioned into files, and candidate pairs within one partition.

Every document with a signature contributes ``bands`` rows (band key, node); a row goes to
partition ``partition_of(band key) % P``, so all documents sharing a band key meet in the same
partition file and a partition can be processed alone, in bounded memory. Within a bucket
(rows with equal band key), documents with the same exact-text hash are collapsed first (they
are linked by exact edges already; this keeps 10,000 identical documents from producing
10,000 x bands candidate rows), then every member is paired with the bucket's smallest node.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from dedup.exact import group_edges
from dedup.hashing import partition_of

BAND_SALT = 1
KEY_SALT = 2


def band_rows(band_keys: np.ndarray, nodes: np.ndarray, text_hashes: np.ndarray, src_hashes: np.ndarray, num_partitions: int) -> dict[int, pa.Table]:
    """Scatter (band key, node, text hash, source hash) rows by partition (uint64 stored as int64 bits)."""
    num_docs, bands = band_keys.shape
    flat = band_keys.reshape(-1)
    node = np.repeat(nodes, bands)
    th = np.repeat(text_hashes, bands)
    src = np.repeat(src_hashes, bands)
    part = partition_of(flat, num_partitions, BAND_SALT)
    out = {}
    order = np.argsort(part, kind="stable")
    bounds = np.searchsorted(part[order], np.arange(num_partitions + 1))
    for p in range(num_partitions):
        idx = order[bounds[p] : bounds[p + 1]]
        out[p] = pa.table(
            {"band_key": flat[idx].view(np.int64), "node": node[idx], "text_hash": th[idx].view(np.int64), "src": src[idx].view(np.int64)}
        )
    return out


def bucket_pairs(band_key: np.ndarray, node: np.ndarray, text_hash: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unique candidate pairs (a, b), b the smallest node of the bucket, a != b, a > b."""
    if len(node) < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    band_key = np.asarray(band_key, dtype=np.uint64)
    text_hash = np.asarray(text_hash, dtype=np.uint64)
    node = np.asarray(node, dtype=np.int64)
    # collapse equal text within a bucket to its smallest node
    order = np.lexsort((node, text_hash, band_key))
    bk, th, nd = band_key[order], text_hash[order], node[order]
    keep = np.ones(len(nd), dtype=bool)
    keep[1:] = (bk[1:] != bk[:-1]) | (th[1:] != th[:-1])
    a, b = group_edges(bk[keep], nd[keep])
    if len(a) == 0:
        return a, b
    pairs = np.unique(np.stack([a, b], axis=1), axis=0)
    return pairs[:, 0], pairs[:, 1]
