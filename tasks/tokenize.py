"""Stage driver: tokenize a document dataset into memory-mappable token shards.

    longterm tokenize runs/remix --tokenizer runs/tokenizer --out runs/tokens

One Ray unit per input shard (``tasks.executor.map_units``; each actor loads SentencePiece once). The
input shards are ``data/`` plus, for a remix output, ``repeats/`` (extra copies of upsampled documents).
Output: a dataset of kind ``tokens`` with sections ``train`` (``train/part-UUUUU-KKK.arrow``) and
``val`` (``val/<lang>-UUUUU.arrow``, ``attrs={"lang": ...}``), each an uncompressed Arrow IPC file
with one flat ``tokens`` column (uint16 when the padded vocabulary fits, else uint32), documents
concatenated with EOS after each. ``dropped/`` lists documents with empty text
(``tokenize_empty_text``). Manifest stats: vocab sizes, dtype, special ids, the tokenizer digest,
and tokens / documents per split, language and remix group. See docs/tokens.md.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import asdict
from typing import Any

import pyarrow as pa

from model.tokenizer import Tokenizer, token_dtype_for
from storage import (
    DROPPED_SCHEMA,
    Counts,
    DatasetWriter,
    InputRef,
    ShardInfo,
    open_dataset,
    write_shard,
)
from tasks.code_digest import stage_code_digest
from tasks.ops.funnel_counts import Funnel, count_document, merge_funnels
from tasks.ops.tokenize import TokenizeConfig, token_table, tokenize_documents
from tasks.progress import ProgressFn, ProgressMeter
from tasks.executor import map_units

DROP_EMPTY = "tokenize_empty_text"
COLUMNS = ["id", "text", "url", "source", "lang", "metadata"]
INPUT_SECTIONS = ("data", "repeats")  # remix writes the extra copies of upsampled documents to repeats/


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name) or "unknown"


class TokenizeUnit:
    """Ray actor body: tokenize one input shard and write its token shards."""

    def __init__(self, input_uri: str, tokenizer_uri: str, location: str, cfg: dict[str, Any]) -> None:
        self.dataset = open_dataset(input_uri, kind="documents")
        self.tokenizer = Tokenizer.load(tokenizer_uri)
        self.location = location
        self.cfg = TokenizeConfig(**cfg)

    def __call__(self, unit: dict[str, Any]) -> dict[str, Any]:
        index = int(unit["index"])
        shard = next(s for s in self.dataset.shards(unit["section"]) if s.path == unit["shard"])
        table = self.dataset.read_shard(shard, columns=COLUMNS)
        result = tokenize_documents(table, self.tokenizer, self.cfg)
        shards: list[ShardInfo] = []
        step = self.cfg.max_shard_tokens
        for k, start in enumerate(range(0, len(result.train), step)):
            part = result.train[start : start + step]
            shards.append(write_shard(self.location, "train", index, token_table(part), fmt="arrow",
                                      name=f"part-{index:05d}-{k:03d}.arrow", attrs={"split": "train"}))
        for lang, tokens in result.val.items():
            shards.append(write_shard(self.location, "val", index, token_table(tokens), fmt="arrow",
                                      name=f"{_safe(lang)}-{index:05d}.arrow", attrs={"split": "val", "lang": lang}))
        if result.empty_ids:
            dropped = table.take(result.empty_ids).select(["id", "text", "url", "source", "lang"])
            dropped = dropped.append_column("reason", pa.array([DROP_EMPTY] * dropped.num_rows))
            dropped = dropped.append_column("duplicate_of", pa.nulls(dropped.num_rows, pa.string()))
            dropped = dropped.append_column(
                "detail", pa.array([f"empty text in {self.dataset.uri}/{shard.path}"] * dropped.num_rows))
            shards.append(write_shard(self.location, "dropped", index, dropped.select(DROPPED_SCHEMA.names).cast(DROPPED_SCHEMA)))
        return {
            "shards": [s.to_dict() for s in shards],
            "funnel": _funnel(table, set(result.empty_ids)),
            "tokens": result.tokens,
            "docs": result.docs,
            "text_bytes": result.text_bytes,
        }


def _funnel(table: pa.Table, empty_rows: set[int]) -> dict[str, Funnel]:
    """Per-language and per-source conservation rows for this shard."""
    out: dict[str, Funnel] = {"by_lang": {}, "by_source": {}}
    for scope, column in (("by_lang", "lang"), ("by_source", "source")):
        for row, name in enumerate(table.column(column).to_pylist()):
            count_document(out[scope], name or "unknown", DROP_EMPTY if row in empty_rows else None)
    return out


def _merge_split_counts(parts: list[dict[str, dict[str, int]]], prefix: str) -> dict[str, dict[str, int]]:
    merged: dict[str, dict[str, int]] = defaultdict(lambda: {"train": 0, "val": 0})
    for part in parts:
        for key, splits in part.items():
            if key.startswith(prefix):
                for split, n in splits.items():
                    merged[key[len(prefix):]][split] += n
    return dict(sorted(merged.items()))


def token_stats(tok: Tokenizer, tokenizer_uri: str, results: list[dict[str, Any]]) -> dict[str, Any]:
    tokens_by_lang = _merge_split_counts([r["tokens"] for r in results], "lang:")
    text_bytes: dict[str, int] = defaultdict(int)
    for r in results:
        for lang, n in r["text_bytes"].items():
            text_bytes[lang] += n
    total = {split: sum(v[split] for v in tokens_by_lang.values()) for split in ("train", "val")}
    return {
        "vocab_size": tok.vocab_size,
        "padded_vocab_size": tok.padded_vocab_size,
        "dtype": token_dtype_for(tok.padded_vocab_size),
        "eos_id": tok.eos_id,
        "bos_id": tok.bos_id,
        "pad_id": tok.pad_id,
        "tokenizer_digest": tok.digest,
        "tokenizer_uri": tokenizer_uri,
        "tokens": {
            **total,
            "total": total["train"] + total["val"],
            "by_lang": tokens_by_lang,
            "by_group": _merge_split_counts([r["tokens"] for r in results], "group:"),
        },
        "docs": {
            "by_lang": _merge_split_counts([r["docs"] for r in results], "lang:"),
            "by_group": _merge_split_counts([r["docs"] for r in results], "group:"),
        },
        "bytes_per_token": {
            lang: round(text_bytes[lang] / max(1, v["train"] + v["val"]), 3) for lang, v in tokens_by_lang.items()
        },
        "by_lang": merge_funnels([r["funnel"]["by_lang"] for r in results]),
        "by_source": merge_funnels([r["funnel"]["by_source"] for r in results]),
    }


def run_tokenize(
    input_uri: str,
    tokenizer_uri: str,
    out: str,
    cfg: TokenizeConfig = TokenizeConfig(),
    *,
    executor: str = "ray",
    ray_address: str | None = None,
    force: bool = False,
    progress: ProgressFn | None = None,
) -> str:
    """Tokenize ``input_uri`` with the tokenizer at ``tokenizer_uri``; publish under ``out``; return the URI.

    A rerun with the same inputs, config and code is a no-op; ``force`` recomputes anyway.
    ``progress`` gets an event as each input shard finishes (shards done / total, tokens/s, ETA)."""
    if not 0.0 <= cfg.val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {cfg.val_fraction}")
    ds = open_dataset(input_uri, kind="documents")
    tok_ds = open_dataset(tokenizer_uri, kind="tokenizer")
    tok = Tokenizer.load(tok_ds.uri)
    writer = DatasetWriter(
        out, kind="tokens", stage="tokenize", config=asdict(cfg),
        inputs=[ds.ref(), InputRef(uri=tok_ds.uri, digest=tok_ds.digest)],
        code_digest=stage_code_digest("tokenize"), force=force,
    )
    if writer.reuse():
        return writer.location
    shards_in = [s for section in INPUT_SECTIONS for s in ds.shards(section)]
    units = [{"index": i, "section": s.section, "shard": s.path} for i, s in enumerate(shards_in)]
    meter = ProgressMeter(progress, "tokenize", len(units), unit="shards", item="tokens")
    results = map_units(
        TokenizeUnit, units,
        ctor_kwargs={"input_uri": ds.uri, "tokenizer_uri": tok_ds.uri, "location": writer.location, "cfg": asdict(cfg)},
        executor=executor, address=ray_address,
        on_result=lambda r: meter.advance(items=sum(n for key, splits in r["tokens"].items() if key.startswith("lang:")
                                                    for n in splits.values())),
    )
    shards = [ShardInfo.from_dict(s) for r in results for s in r["shards"]]
    stats = token_stats(tok, tok_ds.uri, results)
    by_lang = stats["by_lang"]
    counts = Counts(
        input=sum(c["input"] for c in by_lang.values()),
        kept=sum(c["kept"] for c in by_lang.values()),
        dropped={DROP_EMPTY: sum(c["dropped"].get(DROP_EMPTY, 0) for c in by_lang.values())},
    )
    if counts.dropped[DROP_EMPTY] == 0:
        counts.dropped = {}
    if counts.kept == 0:
        raise ValueError(
            f"{ds.uri}: nothing to tokenize: all {counts.input} documents have empty text "
            f"(listed under {writer.location}/dropped/); check the stage that produced {input_uri}"
        )
    dropped_rows = sum(s.rows for s in shards if s.section == "dropped")
    assert dropped_rows == counts.dropped_total, f"dropped shards hold {dropped_rows} rows, counts say {counts.dropped_total}"
    writer.commit(shards, counts, stats)
    return writer.location
