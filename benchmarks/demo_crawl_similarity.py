"""How similar are independently composed clean pages of the demo crawl? (the near-duplicate tail)

    python benchmarks/demo_crawl_similarity.py --docs 100000      # about 6 min on 2 cores

Generates a crawl, finds candidate pairs among clean JSONL pages with MinHash LSH (datasketch,
64 permutations, threshold 0.4), verifies each with the exact shingle Jaccard, and prints per
language the page count, candidate count, maximum Jaccard and the number of pairs >= 0.5.
"""

from __future__ import annotations

import argparse
import gzip
import json
import tempfile
import time
from pathlib import Path

from datasketch import MinHash, MinHashLSH

from tasks.demo_crawl import generate_demo_crawl, jaccard, shingles


def clean_texts(out: Path) -> dict[str, list[str]]:
    rows = [json.loads(line) for line in (out / "ground_truth.jsonl").read_text(encoding="utf-8").splitlines()]
    wanted = {(r["file"], r["line"]): r["lang"] for r in rows if r["kind"] == "clean" and r["format"] == "jsonl"}
    texts: dict[str, list[str]] = {"en": [], "zh": []}
    for path in sorted(out.glob("dump-*/*.jsonl.gz")):
        rel = str(path.relative_to(out))
        with gzip.open(path, "rb") as f:
            for number, raw in enumerate(f.read().split(b"\n")[:-1], start=1):
                if (rel, number) in wanted:
                    texts[wanted[(rel, number)]].append(json.loads(raw)["text"])
    return texts


def similarity_tail(texts: list[str], lang: str) -> dict:
    sets = [shingles(t, lang) for t in texts]
    lsh, sketches = MinHashLSH(threshold=0.4, num_perm=64), []
    for i, s in enumerate(sets):
        m = MinHash(num_perm=64)
        m.update_batch([g.encode("utf-8") for g in s])
        sketches.append(m)
        lsh.insert(i, m)
    values = [jaccard(sets[i], sets[j]) for i, m in enumerate(sketches) for j in lsh.query(m) if j > i]
    return {"lang": lang, "pages": len(sets), "candidates": len(values), "max": round(max(values, default=0.0), 3),
            "pairs_ge_0.5": sum(v >= 0.5 for v in values), "pairs_ge_0.8": sum(v >= 0.8 for v in values)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=100000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        generate_demo_crawl(str(Path(tmp) / "crawl"), num_docs=args.docs, seed=args.seed)
        for lang, texts in clean_texts(Path(tmp) / "crawl").items():
            started = time.perf_counter()
            print({**similarity_tail(texts, lang), "seconds": round(time.perf_counter() - started)}, flush=True)


if __name__ == "__main__":
    main()
