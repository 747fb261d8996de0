"""Build a small but real run folder with storage: every stage output the dashboard reads.

Datasets are real (parquet shards, manifests with conservation counts, LATEST pointers); the
stats follow docs/dashboard.md. Used by the dashboard and browser tests.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow as pa

from storage import DOCUMENT_SCHEMA, DROPPED_SCHEMA, QUARANTINE_SCHEMA, Counts, DatasetWriter, InputRef, write_shard

EN = "the model reads web pages and learns language from clean text data".split()
ZH = ["模型", "阅读", "网页", "学习", "语言", "干净", "文本", "数据"]


def _doc(i: int, lang: str, n_words: int, source: str) -> dict:
    rng = random.Random(i)
    words = EN if lang == "en" else ZH
    text = (" " if lang == "en" else "").join(rng.choice(words) for _ in range(n_words))
    return {"id": f"doc-{i:05d}", "text": text, "url": f"https://{source}.example/{i}", "source": source,
            "lang": lang, "lang_score": 0.9, "metadata": "{}"}


def _funnel(docs: list[dict], dropped: list[dict], key: str, quarantined: dict[str, int]) -> dict:
    out: dict[str, dict] = {}
    for d in docs:
        c = out.setdefault(d[key], {"input": 0, "kept": 0, "dropped": {}, "quarantined": 0})
        c["input"] += 1
        c["kept"] += 1
    for d in dropped:
        c = out.setdefault(d[key], {"input": 0, "kept": 0, "dropped": {}, "quarantined": 0})
        c["input"] += 1
        c["dropped"][d["reason"]] = c["dropped"].get(d["reason"], 0) + 1
    for name, n in quarantined.items():
        c = out.setdefault(name, {"input": 0, "kept": 0, "dropped": {}, "quarantined": 0})
        c["input"] += n
        c["quarantined"] += n
    return out


def documents_stage(root: Path, stage: str, docs: list[dict], dropped: list[dict], *, quarantined: int = 0,
                    stats: dict | None = None, inputs: list[InputRef] = (), config: dict | None = None) -> str:
    w = DatasetWriter(str(root), kind="documents", stage=stage, config=config or {}, inputs=list(inputs))
    half = len(docs) // 2
    shards = [write_shard(w.location, "data", 0, pa.Table.from_pylist(docs[:half], schema=DOCUMENT_SCHEMA)),
              write_shard(w.location, "data", 1, pa.Table.from_pylist(docs[half:], schema=DOCUMENT_SCHEMA))]
    if dropped:
        shards.append(write_shard(w.location, "dropped", 0, pa.Table.from_pylist(dropped, schema=DROPPED_SCHEMA)))
    if quarantined:
        bad = [{"source_file": "dump-00/part-0000.jsonl.gz", "offset": i * 10, "line": i + 1, "error": "bad json",
                "raw": "{"} for i in range(quarantined)]
        shards.append(write_shard(w.location, "quarantine", 0, pa.Table.from_pylist(bad, schema=QUARANTINE_SCHEMA)))
    reasons: dict[str, int] = {}
    for d in dropped:
        reasons[d["reason"]] = reasons.get(d["reason"], 0) + 1
    q = {"en": quarantined} if quarantined else {}
    base = {"by_lang": _funnel(docs, dropped, "lang", q),
            "by_source": _funnel(docs, dropped, "source", {"dump-00": quarantined} if quarantined else {})}
    w.commit(shards, Counts(input=len(docs) + len(dropped) + quarantined, kept=len(docs), dropped=reasons,
                            quarantined=quarantined), stats={**base, **(stats or {})})
    return w.location


def _drop(d: dict, reason: str, **extra: str) -> dict:
    return {**{k: d[k] for k in ("id", "text", "url", "source", "lang")}, "reason": reason,
            "duplicate_of": extra.get("duplicate_of"), "detail": extra.get("detail")}


def build_run(run: Path, num_docs: int = 90) -> dict[str, str]:
    """Write ingest, filter (two versions), dedup, remix, tokenizer, tokenize, pretrain metrics and eval results."""
    docs = [_doc(i, "en" if i % 3 else "zh", 5 + (i * 37) % 400, f"dump-0{i % 3}") for i in range(num_docs)]
    out: dict[str, str] = {}
    out["ingest"] = documents_stage(run / "ingest", "ingest", docs, [], quarantined=2)
    ref = [InputRef(uri=out["ingest"], digest="0" * 64)]
    short = [d for d in docs if len(d["text"]) < 100]
    kept = [d for d in docs if len(d["text"]) >= 100]
    dropped = [_drop(d, "gopher_short_doc", detail=f"{len(d['text'])} chars") for d in short[:-3]]
    dropped += [_drop(d, "lang_other", detail="lid fr 0.91") for d in short[-3:]]
    documents_stage(run / "filter", "filter", kept + short[-3:], [], inputs=ref, config={"min_chars": 0})  # older version
    out["filter"] = documents_stage(run / "filter", "filter", kept, dropped, inputs=ref, config={"min_chars": 100})
    dups = kept[-6:]
    dd = [_drop(d, "exact_dup" if i % 2 else "minhash_dup", duplicate_of=kept[i]["id"]) for i, d in enumerate(dups)]
    out["dedup"] = documents_stage(
        run / "dedup", "dedup", kept[:-6], dd, inputs=ref,
        stats={"dedup_by_dumps": [{"dumps": 1, "input": 30, "removed": 2, "removed_frac": 2 / 30},
                                  {"dumps": 2, "input": 60, "removed": 4, "removed_frac": 4 / 60},
                                  {"dumps": 3, "input": len(kept), "removed": 6, "removed_frac": 6 / len(kept)}],
               "cluster_sizes": {"2": 4, "3": 1}})
    mixture = {"before": {"web": {"en": {"docs": 40, "bytes": 40000}, "zh": {"docs": 20, "bytes": 30000}},
                          "encyclopedia": {"en": {"docs": 5, "bytes": 9000}, "zh": {"docs": 3, "bytes": 6000}}},
               "after": {"web": {"en": {"docs": 30, "bytes": 30000}, "zh": {"docs": 20, "bytes": 30000}},
                         "encyclopedia": {"en": {"docs": 10, "bytes": 18000}, "zh": {"docs": 6, "bytes": 12000}}},
               "targets": {"web": 0.67, "encyclopedia": 0.33}}
    out["remix"] = documents_stage(run / "remix", "remix", kept[:-6], [], inputs=ref, stats={"mixture": mixture})
    tok = DatasetWriter(str(run / "tokenizer"), kind="tokenizer", stage="tokenizer", config={"vocab_size": 8000})
    tok.commit([], Counts(), stats={"compression": {"en": 3.9, "zh": 1.6}, "vocab_size": 8000})
    out["tokenizer"] = tok.location
    toks = DatasetWriter(str(run / "tokens"), kind="tokens", stage="tokenize", config={})
    shard = write_shard(toks.location, "train", 0, pa.table({"tokens": pa.array(range(100), pa.uint16())}), fmt="arrow")
    toks.commit([shard], Counts(input=len(kept) - 6, kept=len(kept) - 6),
                stats={"vocab_size": 8000, "dtype": "uint16", "eos_id": 2, "tokens": {"train": 100, "val": {"en": 10, "zh": 8}}})
    out["tokens"] = toks.location
    pre = run / "pretrain"
    pre.mkdir(parents=True)
    with open(pre / "metrics.jsonl", "w") as f:
        for step in range(0, 200, 10):
            row = {"step": step, "loss": 9.0 * (0.985 ** step) + 1.5, "lr": 3e-4 * min(1.0, (step + 1) / 20),
                   "tokens_per_s": 1200.0 + step, "mfu": 0.01}
            if step % 50 == 0:
                row["val_loss"] = row["loss"] + 0.1
            f.write(json.dumps(row) + "\n")
        f.write('{"step": 200, "loss"')  # a writer mid-line: must be skipped
    out["pretrain"] = str(pre)
    ev = run / "eval"
    ev.mkdir(parents=True)
    (ev / "results.json").write_text(json.dumps({"tasks": {"hellaswag_tiny": {"acc": 0.31, "acc_norm": 0.33},
                                                           "cmmlu_tiny": {"acc": 0.27}}}))
    out["eval"] = str(ev)
    return out
