"""Precision / recall of removed near-duplicates, against an independent brute-force Jaccard.

    python -m benchmarks.dedup_quality                 # real pages of ../shared/data + edited copies
    python -m benchmarks.dedup_quality --demo 20000    # also the demo crawl's ground truth (needs tasks.demo_crawl)

Real pages: every page of ``benchmarks.dedup_data.real_pages`` (en + zh) plus one edited copy
of each (word / character substitutions, insertions and deletions at a random rate of 0-6%,
sometimes a boilerplate line). Ground truth is computed independently of the dedup code: all
pairs' Jaccard of the demo crawl's shingle definition (5 lower-cased ``\\w+`` words; 5 non-space
characters for zh), by a sparse matrix product; documents linked by Jaccard >= 0.8 form the
true clusters. A removal is correct when the removed document and its ``duplicate_of`` are in the
same true cluster; recall = correct removals / sum(cluster size - 1).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from collections import defaultdict
from typing import Any

import numpy as np
import scipy.sparse as sp

from benchmarks.dedup_data import real_pages
from dedup.components import union_find_components
from dedup.normalize import normalize_url
from storage import open_dataset
from tasks.dedup import DedupConfig, run_dedup
from tests.dedup.corpus import write_docs

try:
    from tasks.demo_crawl.similarity import shingles as reference_shingles
except ImportError:  # the demo branch not merged: same definition, inline
    import re

    def reference_shingles(text: str, lang: str, size: int = 5) -> set[str]:
        units = list(re.sub(r"\s+", "", text)) if lang == "zh" else re.findall(r"\w+", text.lower())
        sep = "" if lang == "zh" else " "
        if len(units) < size:
            return {sep.join(units)} if units else set()
        return {sep.join(units[i : i + size]) for i in range(len(units) - size + 1)}


BOILERPLATE = {"en": ["Share this article on Facebook Twitter Email", "Subscribe to our newsletter for updates"],
               "zh": ["分享到微博微信朋友圈", "欢迎关注我们的公众号获取更多资讯"]}


def edited_copy(rng: random.Random, doc: dict[str, Any], rate: float) -> str:
    zh = doc["lang"] == "zh"
    units = list(doc["text"]) if zh else doc["text"].split()
    vocab = units[:]
    n_edits = max(1, int(round(rate * len(units)))) if rate > 0 else 0
    for _ in range(n_edits):
        op, i = rng.random(), rng.randrange(len(units))
        if op < 0.6:
            units[i] = rng.choice(vocab)
        elif op < 0.8 and len(units) > 2:
            del units[i]
        else:
            units.insert(i, rng.choice(vocab))
    text = "".join(units) if zh else " ".join(units)
    if rng.random() < 0.3:
        line = rng.choice(BOILERPLATE["zh" if zh else "en"])
        text = f"{line}\n{text}" if rng.random() < 0.5 else f"{text}\n{line}"
    return text


def true_clusters(docs: list[dict[str, Any]], threshold: float) -> tuple[dict[int, int], dict[tuple[int, int], float]]:
    """Component (smallest doc position) of every doc with a partner at Jaccard >= threshold."""
    vocab: dict[str, int] = {}
    rows, cols = [], []
    for i, d in enumerate(docs):
        for s in reference_shingles(d["text"], d["lang"]):
            rows.append(i)
            cols.append(vocab.setdefault(s, len(vocab)))
    x = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(docs), len(vocab)))
    x.data[:] = 1.0
    x.sum_duplicates()
    x.data[:] = 1.0
    sizes = np.asarray(x.sum(axis=1)).ravel()
    inter = sp.triu(x @ x.T, k=1).tocoo()
    jac = inter.data / (sizes[inter.row] + sizes[inter.col] - inter.data)
    keep = jac >= threshold
    comp = union_find_components(inter.row[keep].astype(np.int64), inter.col[keep].astype(np.int64))
    pair_j = {(int(a), int(b)): float(j) for a, b, j in zip(inter.row, inter.col, jac) if j >= 0.5}
    return comp, pair_j


def score(docs: list[dict[str, Any]], out_uri: str, threshold: float) -> dict[str, Any]:
    comp, _ = true_clusters(docs, threshold)
    pos = {d["id"]: i for i, d in enumerate(docs)}
    dropped = open_dataset(out_uri).read_all("dropped").to_pylist()
    by_lang: dict[str, dict[str, int]] = defaultdict(lambda: {"removed": 0, "correct": 0, "removable": 0})
    sizes: dict[int, list[int]] = defaultdict(list)
    for i, root in comp.items():
        sizes[root].append(i)
    for members in sizes.values():
        by_lang[docs[members[0]]["lang"]]["removable"] += len(members) - 1
    for r in dropped:
        i, j = pos[r["id"]], pos[r["duplicate_of"]]
        lang = docs[i]["lang"]
        by_lang[lang]["removed"] += 1
        by_lang[lang]["correct"] += int(i in comp and j in comp and comp[i] == comp[j])
    out = {}
    for lang, c in sorted(by_lang.items()):
        out[lang] = {**c, "precision": round(c["correct"] / c["removed"], 4) if c["removed"] else 1.0,
                     "recall": round(c["correct"] / c["removable"], 4) if c["removable"] else 1.0}
    return out


def real_pages_benchmark(cfg: DedupConfig, threshold: float, seed: int, executor: str) -> dict[str, Any]:
    rng = random.Random(seed)
    pages = real_pages()
    docs = [dict(d) for d in pages]
    for d in pages:
        docs.append({**d, "id": d["id"] + "-copy", "url": None, "text": edited_copy(rng, d, rng.uniform(0.0, 0.06))})
    order = list(range(len(docs)))
    rng.shuffle(order)
    docs = [docs[i] for i in order]
    work = tempfile.mkdtemp(prefix="dedup-quality-")
    uri = write_docs(f"{work}/in", docs, shard_size=500)
    t = time.time()
    out = run_dedup([uri], f"{work}/out", cfg, executor=executor)
    elapsed = time.time() - t
    return {"documents": len(docs), "seconds": round(elapsed, 1), "by_lang": score(docs, out, threshold)}


def demo_benchmark(num_docs: int, cfg: DedupConfig, executor: str, work: str | None = None) -> dict[str, Any]:
    """Score against the demo crawl's ground truth; ``work`` may already hold crawl/ and ingest/."""
    from tasks.demo_crawl import generate_demo_crawl
    from tasks.ingest import run_ingest

    work = work or tempfile.mkdtemp(prefix="dedup-demo-")
    if not os.path.exists(f"{work}/crawl/ground_truth.jsonl"):
        generate_demo_crawl(f"{work}/crawl", num_docs=num_docs, num_dumps=4, seed=0)
    ingested = run_ingest([f"{work}/crawl"], f"{work}/ingest", executor=executor)
    truth = [json.loads(x) for x in open(f"{work}/crawl/ground_truth.jsonl", encoding="utf-8")]
    t = time.time()
    out = run_dedup([ingested], f"{work}/out-{int(t)}", cfg, executor=executor)
    elapsed = time.time() - t
    dropped = {r["id"]: r for r in open_dataset(out).read_all("dropped").to_pylist()}
    res: dict[str, Any] = {"seconds": round(elapsed, 1), "url_dedup": cfg.url_dedup,
                           "stats": {k: open_dataset(out).manifest.stats[k] for k in ("dedup_by_dumps", "cluster_sizes")}}
    url_of = {t["id"]: t["url"] for t in truth}
    ingested_ids = set(open_dataset(ingested).read_all(columns=["id"]).column("id").to_pylist())
    # ids the demo derives for id-less records do not all match ingest's: score only ids present in both
    res["ground_truth_ids_not_in_ingest"] = sum(1 for t in truth if t["kind"] != "corrupt" and t["id"] not in ingested_ids)
    truth = [t for t in truth if t["id"] in ingested_ids]
    res["removed_without_ground_truth_id"] = sum(1 for i in dropped if i not in url_of)
    for lang in ("en", "zh"):
        rows = [t for t in truth if t["lang"] == lang and t["kind"] != "corrupt"]
        positives = {t["id"] for t in rows if t["kind"] == "exact_dup" or (t["kind"] == "near_dup" and (t["near_dup_jaccard"] or 0) >= 0.8)}
        near_pos = {t["id"] for t in rows if t["kind"] == "near_dup" and (t["near_dup_jaccard"] or 0) >= 0.8}
        ids = {t["id"] for t in rows}
        content = [i for i in dropped if i in ids and dropped[i]["reason"] in ("exact_dup", "near_dup")]
        url = [i for i in dropped if i in ids and dropped[i]["reason"] == "url_dup"]
        same_url = sum(normalize_url(url_of[i]) == normalize_url(url_of.get(dropped[i]["duplicate_of"])) for i in url)
        res[lang] = {
            "docs": len(rows), "positives_j_ge_0.8_or_exact": len(positives),
            "recall": round(sum(i in dropped for i in positives) / max(1, len(positives)), 4),
            "near_dup_recall": round(sum(i in dropped for i in near_pos) / max(1, len(near_pos)), 4),
            "removed_exact_or_near": len(content),
            "precision_exact_or_near": round(sum(i in positives for i in content) / max(1, len(content)), 4),
            "removed_url_dup": len(url), "url_dup_with_equal_normalised_url": same_url,
        }
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--executor", default="local")
    ap.add_argument("--demo", type=int, default=0, help="also score a demo crawl of this many docs")
    ap.add_argument("--demo-dir", default=None, help="directory with crawl/ (and ingest/) of an existing demo crawl")
    ap.add_argument("--skip-real", action="store_true")
    args = ap.parse_args()
    cfg = DedupConfig(report_by_dumps=False)
    print(cfg.minhash.describe())
    if not args.skip_real:
        print(json.dumps({"real_pages": real_pages_benchmark(cfg, args.threshold, args.seed, args.executor)}, indent=1))
    if args.demo or args.demo_dir:
        for url_dedup in (True, False):
            cfg = DedupConfig(report_by_dumps=url_dedup, url_dedup=url_dedup)
            print(json.dumps({"demo_crawl": demo_benchmark(args.demo, cfg, args.executor, args.demo_dir)}, indent=1))


if __name__ == "__main__":
    main()
