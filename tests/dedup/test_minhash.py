import random

import numpy as np
import pytest

from dedup.minhash import MinhashConfig, band_hashes, compute_signatures, estimated_jaccard
from dedup.shingles import jaccard_sorted, shingle_sets


def test_config_validates_and_states_threshold() -> None:
    cfg = MinhashConfig(num_perm=112, bands=14, rows=8)
    assert cfg.threshold == pytest.approx((1 / 14) ** (1 / 8))
    assert "threshold" in cfg.describe() and "0.719" in cfg.describe()
    with pytest.raises(ValueError, match="bands \\* rows"):
        MinhashConfig(num_perm=100, bands=20, rows=6)
    with pytest.raises(ValueError, match="survivor"):
        MinhashConfig(survivor="random")  # type: ignore[arg-type]


def test_signature_agreement_estimates_jaccard() -> None:
    rng = random.Random(0)
    words = [f"w{i}" for i in range(3000)]
    base = [rng.choice(words) for _ in range(400)]
    variants = [base[:], base[:]]
    for i in range(0, 400, 10):
        variants[1][i] = "changed"
    texts = [" ".join(v) for v in variants]
    values, offsets = shingle_sets(texts, ["en", "en"], 5, 5)
    cfg = MinhashConfig(num_perm=240, bands=40, rows=6)
    sig = compute_signatures(values, offsets, cfg)
    true_j = jaccard_sorted(values[offsets[0] : offsets[1]], values[offsets[1] : offsets[2]])
    assert abs(estimated_jaccard(sig[0], sig[1]) - true_j) < 0.1


def test_signatures_deterministic_and_chunking_invariant() -> None:
    rng = np.random.default_rng(1)
    values = rng.integers(0, 2**32, size=5000, dtype=np.uint32)
    offsets = np.array([0, 10, 10, 3000, 5000])
    cfg = MinhashConfig()
    a = compute_signatures(values, offsets, cfg)
    b = compute_signatures(values, offsets, cfg, chunk_rows=7)
    assert np.array_equal(a, b)
    assert np.all(a[1] == 0xFFFFFFFF)  # a doc without shingles has no signature
    bh = band_hashes(a, cfg.bands, cfg.rows)
    assert bh.shape == (4, cfg.bands) and len(np.unique(bh[0])) == cfg.bands  # the band index is mixed in
