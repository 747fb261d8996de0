"""Turn documents into token streams: one flat id array per (split, language), EOS after each document.

Pure (no dataset I/O, no Ray): ``tokenize_documents(table, tokenizer, cfg)`` returns a
``TokenizedTable`` with the concatenated ids of the train split, the ids of the validation split per
language, the ids of documents left out (empty text) and per-language / per-group counts.

Split: a document goes to validation when ``doc_fraction(id, split_seed) < val_fraction``, so the
split depends only on the document id (stable across reruns, shard layouts and remixes; a
document upsampled by remix keeps all its copies on the same side).
"""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from model.tokenizer import Tokenizer, token_dtype_for
from tasks.ops.doc_hash import doc_fraction

DEFAULT_GROUP = "all"


@dataclass(frozen=True)
class TokenizeConfig:
    """Knobs of ``longterm tokenize``."""

    val_fraction: float = 0.01  # share of documents (by id hash) in the validation split
    split_seed: int = 0
    add_bos: bool = False  # EOS always ends a document; BOS in front is optional
    max_shard_tokens: int = 1 << 26  # a train shard holds at most this many tokens (128 MiB as uint16)
    batch_docs: int = 512  # documents encoded per SentencePiece batch call
    encode_threads: int = 1  # SentencePiece threads per worker (Ray gives each worker one CPU)


def split_of(doc_id: str, cfg: TokenizeConfig) -> str:
    return "val" if doc_fraction(doc_id, cfg.split_seed) < cfg.val_fraction else "train"


def group_of(metadata: str | None) -> str:
    """The remix group recorded in a document's metadata JSON, else ``all``."""
    if not metadata:
        return DEFAULT_GROUP
    try:
        value = json.loads(metadata)
    except ValueError:
        return DEFAULT_GROUP
    group = value.get("group") if isinstance(value, dict) else None
    return str(group) if group else DEFAULT_GROUP


def _nested() -> dict[str, dict[str, int]]:
    return defaultdict(lambda: defaultdict(int))


@dataclass
class TokenizedTable:
    """Token ids of one table of documents, plus what happened to each document."""

    train: np.ndarray
    val: dict[str, np.ndarray]
    empty_ids: list[int]  # row indices of documents with empty text
    tokens: dict[str, dict[str, int]] = field(default_factory=_nested)  # "lang:<l>" / "group:<g>" -> split -> n
    docs: dict[str, dict[str, int]] = field(default_factory=_nested)
    text_bytes: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # lang -> UTF-8 bytes kept


def _flatten(lists: list[list[int]], dtype: np.dtype) -> np.ndarray:
    total = sum(len(x) for x in lists)
    return np.fromiter(itertools.chain.from_iterable(lists), dtype=dtype, count=total)


def tokenize_documents(table: pa.Table, tokenizer: Tokenizer, cfg: TokenizeConfig) -> TokenizedTable:
    """Encode every non-empty document of ``table`` (columns id, text, lang, metadata) with EOS after it."""
    dtype = np.dtype(token_dtype_for(tokenizer.padded_vocab_size))
    ids = table.column("id").to_pylist()
    texts = table.column("text").to_pylist()
    langs = table.column("lang").to_pylist() if "lang" in table.column_names else [None] * len(ids)
    metas = table.column("metadata").to_pylist() if "metadata" in table.column_names else [None] * len(ids)
    out = TokenizedTable(train=np.empty(0, dtype), val={}, empty_ids=[])
    train_parts: list[list[int]] = []
    val_parts: dict[str, list[list[int]]] = defaultdict(list)
    rows = [i for i, t in enumerate(texts) if t]
    out.empty_ids = [i for i, t in enumerate(texts) if not t]
    for start in range(0, len(rows), cfg.batch_docs):
        chunk = rows[start : start + cfg.batch_docs]
        encoded = tokenizer.encode_batch(
            [texts[i] for i in chunk], bos=cfg.add_bos, eos=True, allow_special=False, num_threads=cfg.encode_threads
        )
        for i, doc_ids in zip(chunk, encoded):
            lang = langs[i] or "unknown"
            split = split_of(ids[i], cfg)
            group = group_of(metas[i])
            (train_parts if split == "train" else val_parts[lang]).append(doc_ids)
            for key in (f"lang:{lang}", f"group:{group}"):
                out.tokens[key][split] += len(doc_ids)
                out.docs[key][split] += 1
            out.text_bytes[lang] += len(texts[i].encode("utf-8"))
    out.train = _flatten(train_parts, dtype)
    out.val = {lang: _flatten(parts, dtype) for lang, parts in sorted(val_parts.items())}
    return out


def token_table(tokens: np.ndarray) -> pa.Table:
    """The shard table: one flat ``tokens`` column in a single contiguous chunk (memory-mappable)."""
    return pa.table({"tokens": pa.array(tokens)})
