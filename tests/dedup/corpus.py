"""Tiny en + zh document datasets with planted exact, URL and near duplicates (test helper)."""

from __future__ import annotations

import random
from typing import Any

import pyarrow as pa

from storage import Counts, DatasetWriter, conform_documents, open_dataset, write_shard

EN_WORDS = (
    "river mountain city music garden winter summer library engine market history science paper window story "
    "forest ocean bridge school doctor letter village harbor castle island teacher planet camera travel kitchen "
    "pencil yellow orange silver golden quiet loud happy gentle ancient modern famous simple careful"
).split()
ZH_CHARS = "天地人和山水风雨日月星辰春夏秋冬花草树木江河湖海城市学校老师学生书本文字音乐历史科学"


def en_text(rng: random.Random, n: int = 120) -> str:
    return " ".join(rng.choice(EN_WORDS) for _ in range(n)) + "."


def zh_text(rng: random.Random, n: int = 200) -> str:
    return "".join(rng.choice(ZH_CHARS) for _ in range(n))


def mutate_words(rng: random.Random, text: str, k: int) -> str:
    words = text.split()
    for _ in range(k):
        words[rng.randrange(len(words))] = rng.choice(EN_WORDS)
    return " ".join(words)


def mutate_chars(rng: random.Random, text: str, k: int) -> str:
    chars = list(text)
    for _ in range(k):
        chars[rng.randrange(len(chars))] = rng.choice(ZH_CHARS)
    return "".join(chars)


def doc(id: str, text: str, url: str | None = None, source: str = "dump-01", lang: str | None = "en", **meta: Any) -> dict[str, Any]:
    import json

    return {"id": id, "text": text, "url": url, "source": source, "lang": lang, "lang_score": 0.9, "metadata": json.dumps(meta) if meta else None}


def write_docs(root: str, docs: list[dict[str, Any]], shard_size: int = 1000, stage: str = "fixture") -> str:
    """Publish ``docs`` as a document dataset (several shards) and return its version URI."""
    w = DatasetWriter(root, kind="documents", stage=stage, config={"n": len(docs), "first": docs[0]["id"] if docs else None})
    shards = []
    for i in range(0, max(len(docs), 1), shard_size):
        part = docs[i : i + shard_size]
        table = conform_documents(pa.Table.from_pylist(part)) if part else conform_documents(pa.table({"id": pa.array([], pa.string()), "text": pa.array([], pa.string())}))
        shards.append(write_shard(w.location, "data", i // shard_size, table))
    w.commit(shards, Counts(input=len(docs), kept=len(docs)))
    return open_dataset(w.location).uri


def planted_corpus(seed: int = 0) -> tuple[list[dict[str, Any]], dict[str, tuple[str, str]]]:
    """40 en + 40 zh originals, plus exact, URL and near duplicates; returns (docs, {dup_id: (reason, original_id)})."""
    rng = random.Random(seed)
    docs: list[dict[str, Any]] = []
    truth: dict[str, tuple[str, str]] = {}
    for i in range(40):
        docs.append(doc(f"en-{i}", en_text(rng), f"https://example.com/en/{i}"))
        docs.append(doc(f"zh-{i}", zh_text(rng), f"https://example.cn/zh/{i}", lang="zh"))
    for i in range(0, 10):
        docs.append(doc(f"en-exact-{i}", docs[2 * i]["text"].upper() + "  ", None, source="dump-02"))
        truth[f"en-exact-{i}"] = ("exact_dup", f"en-{i}")
        docs.append(doc(f"zh-exact-{i}", docs[2 * i + 1]["text"], None, source="dump-02", lang="zh"))
        truth[f"zh-exact-{i}"] = ("exact_dup", f"zh-{i}")
    for i in range(10, 20):
        docs.append(doc(f"en-near-{i}", mutate_words(rng, docs[2 * i]["text"], 2), None, source="dump-02"))
        truth[f"en-near-{i}"] = ("near_dup", f"en-{i}")
        docs.append(doc(f"zh-near-{i}", mutate_chars(rng, docs[2 * i + 1]["text"], 2), None, source="dump-02", lang=None))
        truth[f"zh-near-{i}"] = ("near_dup", f"zh-{i}")
    for i in range(20, 25):
        docs.append(doc(f"en-url-{i}", en_text(rng), f"http://www.example.com/en/{i}/?utm_source=x#top", source="dump-03"))
        truth[f"en-url-{i}"] = ("url_dup", f"en-{i}")
    return docs, truth
