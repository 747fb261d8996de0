"""Small token datasets in the token-dataset contract (kind "tokens", Arrow shards with one uint16 column
``tokens``, documents ending in EOS, "train" and "val" sections) for the pretraining tests.

The documents come from a sparse random Markov chain: each token has 4 possible successors, so the
unigram entropy is ~log(V) while a model that learns the transitions reaches ~1.1 nats.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow as pa

from storage import Counts, DatasetWriter, write_shard

EOS, BOS = 1, 2


def markov_documents(n_docs: int, vocab: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(1234)  # the same chain for every split
    succ = rng.integers(3, vocab, size=(vocab, 4))
    probs = np.array([0.55, 0.25, 0.15, 0.05])
    rng = np.random.default_rng(seed)
    docs = []
    for _ in range(n_docs):
        n = int(rng.integers(40, 200))
        toks = np.empty(n + 1, dtype=np.uint16)
        t = int(rng.integers(3, vocab))
        choices = rng.choice(4, size=n, p=probs)
        for i in range(n):
            toks[i] = t
            t = int(succ[t, choices[i]])
        toks[n] = EOS
        docs.append(toks)
    return docs


def write_token_dataset(root: Path | str, *, n_train_docs: int = 600, n_val_docs: int = 60, vocab: int = 256, shards: int = 2, seed: int = 0) -> str:
    train = markov_documents(n_train_docs, vocab, seed)
    val = markov_documents(n_val_docs, vocab, seed + 1)
    w = DatasetWriter(str(root), kind="tokens", stage="tokenize", config={"fixture": "markov", "n": n_train_docs, "vocab": vocab, "seed": seed, "shards": shards})
    if w.is_complete():
        return w.location
    infos = []
    per = math.ceil(len(train) / shards)
    for k in range(shards):
        arr = np.concatenate(train[k * per : (k + 1) * per])
        infos.append(write_shard(w.location, "train", k, pa.table({"tokens": arr}), fmt="arrow"))
    if val:
        infos.append(write_shard(w.location, "val", 0, pa.table({"tokens": np.concatenate(val)}), fmt="arrow", attrs={"lang": "en"}))
    n_train, n_val = sum(len(d) for d in train), sum(len(d) for d in val)
    stats = {"vocab_size": vocab, "padded_vocab_size": 128 * math.ceil(vocab / 128), "dtype": "uint16", "eos_id": EOS, "bos_id": BOS,
             "tokenizer_digest": "fixture", "tokens": {"train": n_train, "val": n_val}}
    w.commit(infos, Counts(input=n_train_docs + n_val_docs, kept=n_train_docs + n_val_docs), stats)
    return w.location


def unigram_entropy(uri: str, split: str = "train") -> float:
    """Entropy (nats) of the token frequency distribution of a split."""
    from storage import open_dataset

    ds = open_dataset(uri)
    counts = np.bincount(np.concatenate([t.column("tokens").to_numpy() for t in ds.iter_tables(split)]).astype(np.int64))
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())
