"""Connected components of the duplicate graph, distributed: hash-to-min label propagation.

The graph is stored as directed edges in both directions, partitioned by ``partition_of(src)``;
node labels live in the same partition as the node. One round per partition:

1. fold incoming messages (node, label) into the node labels: ``label = min(label, msg)``;
2. for every edge whose source label changed this round, send ``(dst, label(src))`` to the
   partition of ``dst`` (only when it can lower ``dst``'s label, min per ``dst``).

Round 0 labels every node with itself and sends to all neighbours. When a round sends no
message, every node's label is the smallest node key of its component (after at most
diameter + 1 rounds). A partition only ever holds its own edges, labels and messages, so no
step needs the whole graph in one process. Node keys encode the survivor policy (smaller =
better, see :mod:`dedup.pipeline`), so the label *is* the survivor.

``union_find_components`` is the single-process reference used by the tests.
"""

from __future__ import annotations

import numpy as np


def min_per_key(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(unique keys sorted, min value per key)."""
    if len(keys) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    order = np.lexsort((values, keys))
    k, v = keys[order], values[order]
    first = np.ones(len(k), dtype=bool)
    first[1:] = k[1:] != k[:-1]
    return k[first], v[first]


def propagate_round(
    src: np.ndarray,
    dst: np.ndarray,
    nodes: np.ndarray | None,
    labels: np.ndarray | None,
    msg_nodes: np.ndarray,
    msg_labels: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One hash-to-min round of one partition.

    ``nodes``/``labels`` None means round 0. Returns (nodes, labels, out_nodes, out_labels):
    the partition's labels after this round and the messages to send (min per destination).
    """
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    if nodes is None:
        nodes = np.unique(src)
        labels = nodes.copy()
        changed = np.ones(len(nodes), dtype=bool)
    else:
        labels = np.asarray(labels, dtype=np.int64).copy()
        changed = np.zeros(len(nodes), dtype=bool)
        mk, mv = min_per_key(np.asarray(msg_nodes, np.int64), np.asarray(msg_labels, np.int64))
        if len(mk):
            idx = np.searchsorted(nodes, mk)
            assert np.all(nodes[np.minimum(idx, len(nodes) - 1)] == mk), "message for a node this partition does not own"
            lower = mv < labels[idx]
            labels[idx[lower]] = mv[lower]
            changed[idx[lower]] = True
    if len(src) == 0:
        return nodes, labels, np.zeros(0, np.int64), np.zeros(0, np.int64)
    i = np.searchsorted(nodes, src)
    send = changed[i] & (labels[i] < dst)
    out_nodes, out_labels = min_per_key(dst[send], labels[i][send])
    return nodes, labels, out_nodes, out_labels


def union_find_components(a: np.ndarray, b: np.ndarray) -> dict[int, int]:
    """Reference: node -> smallest node of its component (single process)."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for x, y in zip(a.tolist(), b.tolist()):
        rx, ry = find(x), find(y)
        if rx != ry:
            parent[max(rx, ry)] = min(rx, ry)
    return {x: find(x) for x in list(parent)}
