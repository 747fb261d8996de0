"""Installation check: write a tiny bilingual document dataset through the storage layer.

``longterm serve`` deploys ``flows/smoke.py:smoke_flow``, which calls :func:`run_smoke`; a
successful run proves that the worker can import the project, write an atomic, checksummed
dataset and publish artifacts. The dataset is a real "documents" dataset with a funnel:
very short documents are dropped (``smoke_short_doc``) and one unparseable record is
quarantined, so ``input == kept + dropped + quarantined`` is exercised end to end.

    from tasks.smoke import SmokeConfig, run_smoke
    uri = run_smoke("runs/smoke", SmokeConfig(docs=24))
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
from dataclasses import dataclass

import pyarrow as pa

from storage import DOCUMENT_SCHEMA, DROPPED_SCHEMA, QUARANTINE_SCHEMA, Counts, DatasetWriter, write_shard
from tasks.code_digest import stage_code_digest

EN_WORDS = "data model pipeline token corpus quality filter dedup shard train evaluate language web page".split()
ZH_WORDS = ["数据", "模型", "语料", "质量", "过滤", "去重", "训练", "评估", "语言", "网页", "分词", "文本"]


@dataclass
class SmokeConfig:
    docs: int = 24  # generated documents (half English, half Chinese); every 6th is too short and dropped
    min_chars: int = 20  # documents shorter than this are dropped as smoke_short_doc
    seed: int = 0

    def __post_init__(self) -> None:
        if self.docs < 1:
            raise ValueError(f"docs must be at least 1, got {self.docs}")


def _document(i: int, rng: random.Random) -> dict[str, object]:
    lang = "en" if i % 2 == 0 else "zh"
    words = EN_WORDS if lang == "en" else ZH_WORDS
    n = 2 if i % 6 == 5 else rng.randint(12, 60)
    text = (" " if lang == "en" else "").join(rng.choice(words) for _ in range(n))
    doc_id = "smoke-" + hashlib.sha1(f"{i}".encode()).hexdigest()[:16]
    return {
        "id": doc_id,
        "text": text,
        "url": f"https://example.org/{lang}/{i}",
        "source": f"smoke-{i % 3}",
        "lang": lang,
        "lang_score": 1.0,
        "metadata": json.dumps({"n": i}),
    }


def run_smoke(out: str, cfg: SmokeConfig | None = None) -> str:
    """Write the smoke dataset under ``out`` (content-addressed: a rerun is a no-op); return its URI."""
    cfg = cfg or SmokeConfig()
    w = DatasetWriter(out, kind="documents", stage="smoke", config=dataclasses.asdict(cfg), code_digest=stage_code_digest("smoke"))
    if w.reuse():
        return w.location
    rng = random.Random(cfg.seed)
    kept, dropped = [], []
    funnel: dict[str, dict[str, dict]] = {"by_lang": {}, "by_source": {}}
    for i in range(cfg.docs):
        doc = _document(i, rng)
        short = len(str(doc["text"])) < cfg.min_chars
        for key, name in (("by_lang", doc["lang"]), ("by_source", doc["source"])):
            c = funnel[key].setdefault(str(name), {"input": 0, "kept": 0, "dropped": {}, "quarantined": 0})
            c["input"] += 1
            if short:
                c["dropped"]["smoke_short_doc"] = c["dropped"].get("smoke_short_doc", 0) + 1
            else:
                c["kept"] += 1
        if short:
            dropped.append({**{k: doc[k] for k in ("id", "text", "url", "source", "lang")},
                            "reason": "smoke_short_doc", "duplicate_of": None,
                            "detail": f"{len(str(doc['text']))} chars < {cfg.min_chars}"})
        else:
            kept.append(doc)
    bad = {"source_file": "smoke://generated", "offset": None, "line": cfg.docs + 1,
           "error": "not valid JSON (planted by the smoke check)", "raw": "{\"id\": "}
    shards = [
        write_shard(w.location, "data", 0, pa.Table.from_pylist(kept, schema=DOCUMENT_SCHEMA)),
        write_shard(w.location, "dropped", 0, pa.Table.from_pylist(dropped, schema=DROPPED_SCHEMA)),
        write_shard(w.location, "quarantine", 0, pa.Table.from_pylist([bad], schema=QUARANTINE_SCHEMA)),
    ]
    counts = Counts(input=cfg.docs + 1, kept=len(kept), dropped={"smoke_short_doc": len(dropped)} if dropped else {},
                    quarantined=1)
    w.commit(shards, counts, stats=funnel)
    return w.location
