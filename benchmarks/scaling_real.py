"""The scaling study on real text: the demo crawl (vendored real paragraphs) curated vs raw, SentencePiece tokens.

    python -m benchmarks.scaling_real --out runs/bench/scaling-real                   # data (~25 s) + study (~20 min, 2 cores)
    python -m benchmarks.scaling_real --out runs/bench/scaling-real --data-only       # build and describe the token datasets
    python -m benchmarks.scaling_real --out runs/bench/scaling-real --no-holdout      # the grid only (to design a config)
    python -m benchmarks.scaling_tables runs/bench/scaling-real/study                 # tables for BENCHMARKS.md
    python -m benchmarks.scaling_real --out runs/bench/scaling-real --config configs/scaling_study_real_offset.yaml \
        --study study-offset                                                          # the second pass, same data
    python -m benchmarks.scaling_real --out runs/bench/scaling-real --config configs/scaling_study_real_seeds.yaml \
        --study study-seeds                                                           # the third pass (3 seeds, ~26 min)

Data (``OUT/data``, cached; every step is an ordinary stage run, a rerun is a no-op):

1. ``tasks.demo_crawl`` writes a crawl sized so that no page recombines real text (``recombined_pages`` is 0
   for both languages): every clean page is a distinct run of a real source document, and the planted
   duplicates, near-duplicates, junk and other languages come on top, as in the default demo crawl.
2. ``raw`` is the ingest output; ``curated`` is ingest -> filter -> dedup (no remix: its upsampling repeats
   documents, and this study must not repeat data).
3. One SentencePiece BPE tokenizer (the project's, ``tasks.train_tokenizer``) is trained on ``curated``.
4. One **shared validation set**: the clean pages whose id hashes into ``--val-fraction``. Every record whose
   ground-truth root (``duplicate_of``, followed) is a validation page leaves *both* training sets, so
   no copy or near-copy of a validation page is trained on, and both variants are scored on the same tokens.

The study (``configs/scaling_study_real.yaml``) runs with ``max_epochs: 1``: a grid point that would read
its training split more than once is skipped, and the report gives each point's epochs. The config sets
``preregister: true``: the held-out run is refused unless the config file is committed and unchanged, and
the report's ``preregistration`` names that commit (6f5715b for the shipped config; c23f749 and 71bf7e7 for the
second and third passes). Results: docs/scaling.md,
"The real-text study", and BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "scaling_study_real.yaml"


def build_documents(out: Path, *, docs: int, en_share: float, seed: int) -> dict[str, Any]:
    """The crawl and its two document variants; returns URIs and the crawl summary."""
    from tasks.dedup import run_dedup
    from tasks.demo_crawl.generator import DemoCrawlConfig, generate_demo_crawl_with
    from tasks.filter import run_filter
    from tasks.ingest import run_ingest

    crawl = out / "crawl"
    summary_path = out / "crawl-summary.json"
    cfg = DemoCrawlConfig(num_docs=docs, en_share=en_share, seed=seed)
    want = json.dumps({"num_docs": docs, "en_share": en_share, "seed": seed}, sort_keys=True)
    if summary_path.exists() and json.loads(summary_path.read_text()).get("request") == want:
        summary = json.loads(summary_path.read_text())
    else:
        summary = generate_demo_crawl_with(str(crawl), cfg)
        summary["request"] = want
        summary_path.write_text(json.dumps(summary, indent=1))
    if any(summary["recombined_pages"].values()):
        raise SystemExit(f"the crawl recombines real text ({summary['recombined_pages']}): lower --docs or change --en-share")
    dumps = sorted(str(p) for p in crawl.glob("dump-*"))
    raw = run_ingest(dumps, str(out / "ingest"), executor="local")
    filtered = run_filter(raw, str(out / "filter"), executor="local")
    curated = run_dedup([filtered], str(out / "dedup"), executor="local")
    return {"raw": raw, "curated": curated, "crawl": str(crawl), "summary": summary}


def ground_truth_roots(crawl: Path) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """id -> root id (``duplicate_of`` followed to the original) and id -> ground-truth row."""
    rows = {}
    with open(crawl / "ground_truth.jsonl", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            rows[r["id"]] = r

    def root(i: str) -> str:
        seen = set()
        while rows.get(i, {}).get("duplicate_of") and i not in seen:
            seen.add(i)
            i = rows[i]["duplicate_of"]
        return i

    return {i: root(i) for i in rows}, rows


def _in_val(doc_id: str, fraction: float) -> bool:
    return int(hashlib.sha256(doc_id.encode()).hexdigest()[:8], 16) / 2**32 < fraction


def build_tokens(out: Path, docs: dict[str, Any], *, vocab_size: int, character_coverage: float, val_fraction: float) -> dict[str, Any]:
    """The tokenizer, the shared validation set and one token dataset per variant; returns URIs and counts."""
    from model.tokenizer import Tokenizer
    from storage import Counts, DatasetWriter, InputRef, open_dataset, write_shard
    from tasks.ops.tokenizer_training import TokenizerTrainConfig
    from tasks.train_tokenizer import run_train_tokenizer

    tok_uri = run_train_tokenizer(docs["curated"], str(out / "tokenizer"),
                                  TokenizerTrainConfig(vocab_size=vocab_size, character_coverage=character_coverage), executor="local")
    tok = Tokenizer.load(tok_uri)
    roots, gt = ground_truth_roots(Path(docs["crawl"]))
    val_roots = {i for i, r in gt.items() if r["kind"] == "clean" and _in_val(i, val_fraction)}
    datasets = {v: open_dataset(docs[v]) for v in ("curated", "raw")}
    tables = {v: ds.read_all("data", columns=["id", "text"]) for v, ds in datasets.items()}  # each read once
    columns = {v: (t.column("id").to_pylist(), t.column("text").to_pylist()) for v, t in tables.items()}
    raw_ds = datasets["raw"]
    val_texts = [t for i, t in zip(*columns["raw"]) if i in val_roots]

    def encode(batch: list[str]) -> np.ndarray:
        ids = tok.encode_batch(batch, eos=True)
        return np.concatenate([np.asarray(x, dtype=np.uint32) for x in ids]) if ids else np.zeros(0, np.uint32)

    val = encode(val_texts)
    dtype = np.uint16 if tok.padded_vocab_size <= 2**16 else np.uint32
    result: dict[str, Any] = {"tokenizer": tok_uri, "vocab_size": tok.vocab_size, "val_docs": len(val_texts), "val_tokens": int(len(val)),
                              "variants": {}}
    for variant in ("curated", "raw"):
        ds = datasets[variant]
        vids, vtexts = columns[variant]
        unknown = sum(i not in roots for i in vids)
        keep = [x for i, x in zip(vids, vtexts) if roots.get(i, i) not in val_roots]
        w = DatasetWriter(str(out / f"tokens-{variant}"), kind="tokens", stage="tokenize",
                          config={"study": "scaling_real", "val_fraction": val_fraction, "tokenizer": tok.digest},
                          inputs=[InputRef(ds.uri, ds.manifest.digest), InputRef(raw_ds.uri, raw_ds.manifest.digest)])
        if not w.is_complete():
            train = encode(keep).astype(dtype)
            infos = [write_shard(w.location, "train", 0, pa.table({"tokens": train}), fmt="arrow"),
                     write_shard(w.location, "val", 0, pa.table({"tokens": val.astype(dtype)}), fmt="arrow", attrs={"lang": "mixed"})]
            stats = {"vocab_size": tok.vocab_size, "padded_vocab_size": tok.padded_vocab_size, "dtype": np.dtype(dtype).name,
                     "eos_id": tok.eos_id, "bos_id": tok.bos_id, "tokenizer_digest": tok.digest,
                     "tokens": {"train": int(len(train)), "val": int(len(val))}}
            w.commit(infos, Counts(input=len(vids), kept=len(keep), dropped={"val_cluster": len(vids) - len(keep)}), stats)
        m = open_dataset(w.location).manifest
        result["variants"][variant] = {"uri": w.location, "docs": len(vids), "train_docs": len(keep), "without_ground_truth": unknown,
                                       "train_tokens": m.stats["tokens"]["train"],
                                       "train_chars": sum(len(x) for x in keep)}
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="runs/bench/scaling-real")
    p.add_argument("--config", default=str(CONFIG))
    p.add_argument("--docs", type=int, default=10_000, help="crawl pages (more would recombine real text)")
    p.add_argument("--en-share", type=float, default=0.22, help="English share of pages (the vendored English runs out first)")
    p.add_argument("--vocab-size", type=int, default=3072)
    p.add_argument("--character-coverage", type=float, default=0.98, help="below 1: rare (CJK) characters encode as bytes")
    p.add_argument("--val-fraction", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-only", action="store_true")
    p.add_argument("--no-holdout", action="store_true", help="run the grid and fits only (designing a config before registering it)")
    p.add_argument("--executor", default="ray")
    p.add_argument("--study", default="study", help="the study's folder under OUT (one per config; the data under OUT/data is shared)")
    a = p.parse_args()
    out = Path(a.out)
    t0 = time.perf_counter()
    docs = build_documents(out / "data", docs=a.docs, en_share=a.en_share, seed=a.seed)
    tokens = build_tokens(out / "data", docs, vocab_size=a.vocab_size, character_coverage=a.character_coverage, val_fraction=a.val_fraction)
    tokens["data_seconds"] = round(time.perf_counter() - t0, 1)
    tokens["crawl"] = {k: docs["summary"][k] for k in ("by_kind", "by_lang", "recombined_pages")}
    (out / "data" / "tokens.json").write_text(json.dumps(tokens, indent=1))
    print(json.dumps(tokens, indent=1))
    if a.data_only:
        return
    from tasks.scaling_study import load_study_config, run_scaling_study

    cfg = load_study_config(a.config, out=str(out / a.study), data={v: e["uri"] for v, e in tokens["variants"].items()})
    if a.no_holdout:
        cfg.holdout_budget = None  # (a None override would keep the file's value)
    t1 = time.perf_counter()
    report = run_scaling_study(cfg, executor=a.executor)
    summary = {"study_seconds": round(time.perf_counter() - t1, 1), "comparison": report["comparison"],
               "preregistration": report.get("preregistration"), "epochs": report.get("epochs")}
    for v, e in report["variants"].items():
        h = e.get("holdout") or {}
        summary[v] = {"runs": e["runs"], "holdout": {k: h.get(k) for k in ("compute", "loss", "low", "high", "actual", "relative_error", "inside_interval", "refused")}}
    print(json.dumps(summary, indent=1, default=str))


if __name__ == "__main__":
    main()
