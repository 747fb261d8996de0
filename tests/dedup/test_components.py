import numpy as np

from dedup.components import propagate_round, union_find_components
from dedup.hashing import partition_of
from dedup.lsh import bucket_pairs


def distributed_components(a: np.ndarray, b: np.ndarray, P: int) -> dict[int, int]:
    """Drive propagate_round over P partitions exactly as the pipeline does (files -> dicts)."""
    src, dst = np.concatenate([a, b]), np.concatenate([b, a])
    part = partition_of(src.view(np.uint64), P)
    state = [None] * P
    inbox = [(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)) for _ in range(P)]
    rounds = 0
    while True:
        outbox = [([], [], []) for _ in range(P)]
        sent = 0
        for q in range(P):
            nodes, labels = state[q] if state[q] else (None, None)
            nodes, labels, on, ol, of = propagate_round(src[part == q], dst[part == q], nodes, labels, *inbox[q])
            state[q] = (nodes, labels)
            dest = partition_of(on.view(np.uint64), P)
            for p in range(P):
                outbox[p][0].append(on[dest == p]), outbox[p][1].append(ol[dest == p]), outbox[p][2].append(of[dest == p])
            sent += len(on)
        inbox = [(np.concatenate(x), np.concatenate(y), np.concatenate(z)) for x, y, z in outbox]
        rounds += 1
        if sent == 0:
            break
    distributed_components.rounds = rounds  # type: ignore[attr-defined]
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
    # one hop a round, no echo round: a path of 58 edges takes 58 rounds (the plain scheme: 60)
    assert distributed_components.rounds == 58  # type: ignore[attr-defined]


def test_star_around_a_new_doc_takes_two_rounds() -> None:
    """Index docs 1 and 2 joined by new doc 10 (the soak's cross-night shape): one hop and no echo back."""
    labels = distributed_components(np.array([10, 10]), np.array([1, 2]), P=2)
    assert labels == {1: 1, 2: 1, 10: 1}
    assert distributed_components.rounds == 2  # type: ignore[attr-defined]


def test_dense_random_graphs_with_large_keys() -> None:
    rng = np.random.default_rng(1)
    for trial in range(20):
        n = int(rng.integers(2, 80))
        keys = rng.choice(np.arange(1 << 40, (1 << 40) + 10_000, dtype=np.int64), n, replace=False)
        m = int(rng.integers(1, 3 * n))
        a, b = keys[rng.integers(0, n, m)], keys[rng.integers(0, n, m)]
        keep = a != b
        a, b = a[keep], b[keep]
        assert distributed_components(a, b, P=1 + trial % 5) == union_find_components(a, b)


def test_bucket_pairs_collapse_identical_texts() -> None:
    band = np.array([1, 1, 1, 1, 2, 2], dtype=np.uint64)
    node = np.array([5, 3, 9, 7, 9, 11], dtype=np.int64)
    text = np.array([100, 100, 100, 200, 300, 300], dtype=np.uint64)
    a, b = bucket_pairs(band, node, text)
    # bucket 1: 5 and 9 share text with 3 (exact edges cover them) -> only (7, 3); bucket 2: same text -> none
    assert list(zip(a.tolist(), b.tolist())) == [(7, 3)]
