"""Stage driver: train the SentencePiece BPE tokenizer on a deterministic sample of a document dataset.

    longterm train-tokenizer runs/remix --out runs/tokenizer --vocab-size 4000     # demo size
    longterm train-tokenizer runs/remix --out runs/tokenizer                        # 100,000 (real runs)

Sampling: every document gets ``u = doc_fraction(id, seed)`` in [0, 1). Documents with
``u < heldout_fraction`` are held out (never trained on; the compression report measures on them);
the others are taken in increasing ``u`` until ``sample_bytes`` of UTF-8 text, which is a uniform,
deterministic sample independent of shard order. The output is a versioned dataset of kind
``tokenizer`` (``tokenizer.model``, ``tokenizer.json``, ``manifest.json``); its counts say how many
documents were trained on, held out, left out of the sample, or empty.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

import storage
from model.tokenizer import META_FILE, MODEL_FILE, Tokenizer
from storage import Counts, DatasetWriter, ShardInfo, open_dataset
from storage import write_bytes_atomic
from storage.uri import join
from tasks.code_digest import stage_code_digest
from tasks.ops.doc_hash import doc_fraction
from tasks.ops.tokenizer_training import (
    TokenizerTrainConfig,
    tokenizer_meta,
    train_sentencepiece_bpe,
    training_chunks,
)


def write_file(location: str, name: str, data: bytes, section: str = "tokenizer", rows: int = 1) -> ShardInfo:
    """Write ``location/name`` atomically (temporary name, then rename) and describe it as a shard."""
    write_bytes_atomic(join(location, name), data)
    return ShardInfo(path=name, section=section, rows=rows, bytes=len(data), sha256=hashlib.sha256(data).hexdigest())


def _doc_tables(ds: storage.Dataset, columns: list[str]) -> Iterator[pa.Table]:
    for shard in ds.shards("data"):
        yield ds.read_shard(shard, columns=columns)


def select_sample(ds: storage.Dataset, cfg: TokenizerTrainConfig) -> tuple[set[str], dict]:
    """First pass over ids and text lengths: pick the training documents. Returns (ids, report)."""
    ids: list[str] = []
    fractions: list[float] = []
    sizes: list[int] = []
    num_docs = num_empty = 0
    for table in _doc_tables(ds, ["id", "text"]):
        lengths = pc.binary_length(pc.cast(table.column("text"), pa.binary())).fill_null(0).to_numpy(zero_copy_only=False)
        for doc_id, n in zip(table.column("id").to_pylist(), lengths):
            num_docs += 1
            if n == 0:
                num_empty += 1
                continue
            ids.append(doc_id)
            fractions.append(doc_fraction(doc_id, cfg.seed))
            sizes.append(int(n))
    if not ids:
        raise ValueError(
            f"{ds.uri}: no text to train a tokenizer on ({num_docs} documents, {num_empty} with empty text); "
            f"point train-tokenizer at a document dataset that holds text"
        )
    u = np.asarray(fractions)
    n_bytes = np.asarray(sizes, dtype=np.int64)
    candidates = np.flatnonzero(u >= cfg.heldout_fraction)
    order = candidates[np.argsort(u[candidates], kind="stable")]
    cumulative = np.cumsum(n_bytes[order])
    take = order[: int(np.searchsorted(cumulative, cfg.sample_bytes, side="right"))]
    if take.size == 0 and order.size:
        take = order[:1]
    chosen = {ids[i] for i in take}
    report = {
        "documents": num_docs,
        "empty": num_empty,
        "heldout": int((u < cfg.heldout_fraction).sum()),
        "trained_on": len(chosen),
        "trained_bytes": int(n_bytes[take].sum()),
        "not_sampled": int(order.size - take.size),
    }
    return chosen, report


def sample_texts(ds: storage.Dataset, chosen: set[str]) -> tuple[list[str], dict[str, dict[str, int]]]:
    """Second pass: the chosen documents' texts, in dataset order, and their docs/bytes per language."""
    texts: list[str] = []
    by_lang: dict[str, dict[str, int]] = {}
    for table in _doc_tables(ds, ["id", "text", "lang"]):
        for doc_id, text, lang in zip(*(table.column(c).to_pylist() for c in ("id", "text", "lang"))):
            if doc_id in chosen:
                texts.append(text)
                entry = by_lang.setdefault(lang or "unknown", {"docs": 0, "bytes": 0})
                entry["docs"] += 1
                entry["bytes"] += len(text.encode("utf-8"))
    return texts, by_lang


def run_train_tokenizer(
    input_uri: str,
    out: str,
    cfg: TokenizerTrainConfig = TokenizerTrainConfig(),
    *,
    executor: str = "local",
    ray_address: str | None = None,
    force: bool = False,
) -> str:
    """Train a tokenizer on ``input_uri`` and publish it under ``out``; return the version URI.

    Training is one SentencePiece process (multi-threaded), so ``executor`` is accepted for the
    common stage signature only. A rerun with the same input, config and code is a no-op;
    ``force`` retrains anyway.
    """
    del executor, ray_address
    ds = open_dataset(input_uri, kind="documents")
    writer = DatasetWriter(out, kind="tokenizer", stage="train_tokenizer", config=asdict(cfg), inputs=[ds.ref()],
                           code_digest=stage_code_digest("train_tokenizer"), force=force)
    if writer.reuse():
        return writer.location
    chosen, report = select_sample(ds, cfg)
    texts, by_lang = sample_texts(ds, chosen)
    proto = train_sentencepiece_bpe(training_chunks(texts), cfg)
    meta = tokenizer_meta(proto, cfg, sample={**report, "by_lang": by_lang})
    tok = Tokenizer(proto, meta)  # refuses a model without byte fallback before anything is published
    shards = [
        write_file(writer.location, MODEL_FILE, proto, rows=tok.vocab_size),
        write_file(writer.location, META_FILE, json.dumps(asdict(meta), indent=2, ensure_ascii=False).encode()),
    ]
    counts = Counts(
        input=report["documents"],
        kept=report["trained_on"],
        dropped={
            k: v
            for k, v in {
                "tokenizer_heldout": report["heldout"],
                "tokenizer_not_sampled": report["not_sampled"],
                "tokenizer_empty_text": report["empty"],
            }.items()
            if v
        },
    )
    stats = {
        "vocab_size": meta.vocab_size,
        "padded_vocab_size": meta.padded_vocab_size,
        "special_ids": meta.special_ids,
        "bos_id": meta.bos_id,
        "eos_id": meta.eos_id,
        "pad_id": meta.pad_id,
        "tokenizer_digest": meta.model_sha256,
        "sample": meta.sample,
    }
    writer.commit(shards, counts, stats)
    return writer.location
