import numpy as np

from dedup.components import propagate_round, union_find_components
from dedup.hashing import partition_of
from dedup.lsh import bucket_pairs


def distributed_components(a: np.ndarray, b: np.ndarray, P: int) -> dict[int, int]:
    """Drive propagate_round over P partitions exactly as the pipeline does (files -> dicts)."""
    src, dst = np.concatenate([a, b]), np.concatenate([b, a])
    part = partition_of(src.view(np.uint64), P)
    state = [None] * P
    inbox = [(np.zeros(0, np.int64), np.zeros(0, np.int64)) for _ in range(P)]
    rounds = 0
    while True:
        outbox = [([], []) for _ in range(P)]
        sent = 0
        for q in range(P):
            nodes, labels = state[q] if state[q] else (None, None)
            nodes, labels, on, ol = propagate_round(src[part == q], dst[part == q], nodes, labels, *inbox[q])
            state[q] = (nodes, labels)
            dest = partition_of(on.view(np.uint64), P)
            for p in range(P):
                outbox[p][0].append(on[dest == p]), outbox[p][1].append(ol[dest == p])
            sent += len(on)
        inbox = [(np.concatenate(x), np.concatenate(y)) for x, y in outbox]
        rounds += 1
        if sent == 0:
            break
    return {int(n): int(l) for q in range(P) for n, l in zip(*state[q])}


def test_distributed_components_equal_union_find_on_random_graphs() -> None:
    rng = np.random.default_rng(0)
    for trial in range(5):
        n = 300
        a = rng.integers(0, n, 250)
        b = rng.integers(0, n, 250)
        keep = a != b
        a, b = a[keep], b[keep]
        assert distributed_components(a, b, P=1 + trial) == union_find_components(a, b)


def test_long_chain_converges_to_its_minimum() -> None:
    chain = np.arange(1, 60, dtype=np.int64)
    labels = distributed_components(chain[1:], chain[:-1], P=4)
    assert set(labels.values()) == {1}


def test_bucket_pairs_collapse_identical_texts() -> None:
    band = np.array([1, 1, 1, 1, 2, 2], dtype=np.uint64)
    node = np.array([5, 3, 9, 7, 9, 11], dtype=np.int64)
    text = np.array([100, 100, 100, 200, 300, 300], dtype=np.uint64)
    a, b = bucket_pairs(band, node, text)
    # bucket 1: 5 and 9 share text with 3 (exact edges cover them) -> only (7, 3); bucket 2: same text -> none
    assert list(zip(a.tolist(), b.tolist())) == [(7, 3)]
