"""Connected components of the duplicate graph, distributed: hash-to-min label propagation.

The graph is stored as directed edges in both directions, partitioned by ``partition_of(src)``;
node labels live in the same partition as the node. One round per partition:

1. fold incoming messages (node, label, sender) into the node labels: ``label = min(label, msg)``;
2. for every edge whose source label changed this round, send ``(dst, label(src), src)`` to the
   partition of ``dst`` (only when it can lower ``dst``'s label, min per ``dst``), except back to the
   node the new label came from (its label is already that low).

Round 0 labels every node with the smallest of itself and its neighbours (the partition holds all
of a node's edges, so this needs no message) and sends from the nodes whose label changed. When a
round sends no message, every node's label is the smallest node key of its component (the rounds
grow with the graph's diameter; the plain scheme, round 0 sending every node's own key and every
change echoed back to its sender, took two more on a path). A partition only ever holds its own edges, labels and messages, so no
step needs the whole graph in one process. Node keys encode the survivor policy (smaller =
better, see :mod:`dedup.pipeline`), so the label *is* the survivor.

``union_find_components`` is the single-process reference used by the tests.
"""

from __future__ import annotations

import numpy as np


def min_per_key(keys: np.ndarray, values: np.ndarray, extra: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """(unique keys sorted, min value per key) and, given ``extra``, the ``extra`` of each key's min row."""
    if len(keys) == 0:
        empty = np.zeros(0, np.int64)
        return (empty, empty) if extra is None else (empty, empty, empty)
    order = np.lexsort((values, keys))
    k, v = keys[order], values[order]
    first = np.ones(len(k), dtype=bool)
    first[1:] = k[1:] != k[:-1]
    if extra is None:
        return k[first], v[first]
    return k[first], v[first], np.asarray(extra)[order][first]


def propagate_round(
    src: np.ndarray,
    dst: np.ndarray,
    nodes: np.ndarray | None,
    labels: np.ndarray | None,
    msg_nodes: np.ndarray,
    msg_labels: np.ndarray,
    msg_from: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One hash-to-min round of one partition.

    ``nodes``/``labels`` None means round 0. Returns (nodes, labels, out_nodes, out_labels, out_from):
    the partition's labels after this round and the messages to send (min per destination, with the
    node that sent it). ``msg_from``: the sender of each incoming message (None: unknown).
    """
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    empty = np.zeros(0, np.int64)
    if nodes is None:
        # a partition holds every edge of its nodes (both directions are stored), so round 0 takes the
        # minimum over each node's neighbours itself instead of messaging it: one round fewer
        nodes, nearest = min_per_key(src, dst)
        labels = np.minimum(nodes, nearest)
        changed = labels < nodes
        sender = np.full(len(nodes), -1, np.int64)  # the neighbour that gave the label is the label: never sent to
    else:
        labels = np.asarray(labels, dtype=np.int64).copy()
        changed = np.zeros(len(nodes), dtype=bool)
        sender = np.full(len(nodes), -1, np.int64)
        mf = np.full(len(msg_nodes), -1, np.int64) if msg_from is None else np.asarray(msg_from, np.int64)
        mk, mv, ms = min_per_key(np.asarray(msg_nodes, np.int64), np.asarray(msg_labels, np.int64), mf)
        if len(mk):
            idx = np.searchsorted(nodes, mk)
            assert np.all(nodes[np.minimum(idx, len(nodes) - 1)] == mk), "message for a node this partition does not own"
            lower = mv < labels[idx]
            labels[idx[lower]] = mv[lower]
            changed[idx[lower]] = True
            sender[idx[lower]] = ms[lower]
    if len(src) == 0:
        return nodes, labels, empty, empty, empty
    i = np.searchsorted(nodes, src)
    # not back to the node the new label came from: its label is already as low (labels only fall)
    send = changed[i] & (labels[i] < dst) & (dst != sender[i])
    out_nodes, out_labels, out_from = min_per_key(dst[send], labels[i][send], src[send])
    return nodes, labels, out_nodes, out_labels, out_from


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
