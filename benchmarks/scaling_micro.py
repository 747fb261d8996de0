"""Micro scaling study on CPU: fit the laws on two data variants, predict a held-out 3x larger run.

    python -m benchmarks.scaling_micro --out runs/bench/scaling                      # byte tokens of tinyshakespeare
    python -m benchmarks.scaling_micro --data curated=runs/tokens --data raw=runs/tokens-raw
    # the demo crawl: curated (remix output) vs raw (ingest output) documents, as UTF-8 byte tokens
    python -m benchmarks.scaling_micro --config configs/scaling_study_demo.yaml --out runs/bench/scaling-demo \
        --docs curated=runs/study-data/remix --docs raw=runs/study-data/ingest

Without ``--data`` the tokens are bytes (+3, EOS after each paragraph) of ../shared/data's tinyshakespeare:
variant ``clean``, and ``noisy`` with 30% of paragraphs replaced by random bytes (a stand-in for unfiltered
crawl). The grid is configs/scaling_study_micro.yaml. Prints the fitted exponents and the held-out error;
figures in docs/benchmarks/scaling.md.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from storage import Counts, DatasetWriter, write_shard
from tasks.scaling_study import load_study_config, run_scaling_study

ROOT = Path(__file__).resolve().parents[1]
SHAKESPEARE = ROOT.parent / "shared" / "data" / "text_en_tinyshakespeare" / "input.txt.gz"


def _as_bytes(text: str) -> np.ndarray:
    """UTF-8 bytes + 3, then EOS (1): ids 3..258 are bytes, 0..2 pad/EOS/BOS."""
    return np.append(np.frombuffer(text.encode("utf-8"), dtype=np.uint8).astype(np.uint16) + 3, np.uint16(1))


def _write_byte_tokens(w: DatasetWriter, train_docs: list[np.ndarray], val_docs: list[np.ndarray], val_lang: str) -> str:
    """Publish one train and one val shard of byte tokens (``w`` already checked as not complete)."""
    train, val = np.concatenate(train_docs), np.concatenate(val_docs)
    infos = [write_shard(w.location, "train", 0, pa.table({"tokens": train}), fmt="arrow"),
             write_shard(w.location, "val", 0, pa.table({"tokens": val}), fmt="arrow", attrs={"lang": val_lang})]
    stats = {"vocab_size": 259, "padded_vocab_size": 384, "dtype": "uint16", "eos_id": 1, "bos_id": 2, "tokenizer_digest": "bytes+3",
             "tokens": {"train": int(len(train)), "val": int(len(val))}}
    n = len(train_docs) + len(val_docs)
    w.commit(infos, Counts(input=n, kept=n), stats)
    return w.location


def byte_tokens(out: Path, noise: float, seed: int = 0) -> str:
    """A token dataset of UTF-8 bytes (+3; EOS 1 after each paragraph); ``noise`` of paragraphs replaced by random bytes."""
    w = DatasetWriter(str(out), kind="tokens", stage="tokenize", config={"bytes": "tinyshakespeare", "noise": noise, "seed": seed})
    if w.is_complete():
        return w.location
    paragraphs = [p for p in gzip.open(SHAKESPEARE, "rt", encoding="utf-8").read().split("\n\n") if p.strip()]
    rng = np.random.default_rng(seed)
    docs = []
    for p in paragraphs:
        b = _as_bytes(p)
        if rng.random() < noise:
            b[:-1] = rng.integers(3, 259, size=len(b) - 1)
        docs.append(b)
    n_val = len(docs) // 20
    return _write_byte_tokens(w, docs[n_val:], docs[:n_val], "en")


def document_byte_tokens(docs_uri: str, out: Path, val_fraction: float = 0.05, seed: int = 0) -> str:
    """A token dataset of the UTF-8 bytes (+3; EOS 1 after each document) of a documents dataset's texts.

    Bytes keep the output layer small (259 ids), so a tiny shape spends its FLOPs where M counts them.
    A random ``val_fraction`` of the documents is the validation split.
    """
    from storage import InputRef, open_dataset

    ds = open_dataset(docs_uri)
    w = DatasetWriter(str(out), kind="tokens", stage="tokenize",
                      config={"bytes": "utf-8+3", "val_fraction": val_fraction, "seed": seed},
                      inputs=[InputRef(ds.uri, ds.manifest.digest)])
    if w.is_complete():
        return w.location
    texts = ds.read_all("data").column("text").to_pylist()
    is_val = np.random.default_rng(seed).random(len(texts)) < val_fraction
    train = [_as_bytes(t) for t, v in zip(texts, is_val) if not v]
    val = [_as_bytes(t) for t, v in zip(texts, is_val) if v]
    return _write_byte_tokens(w, train, val, "mixed")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="runs/bench/scaling")
    p.add_argument("--config", default=str(ROOT / "configs" / "scaling_study_micro.yaml"))
    p.add_argument("--data", action="append", help="VARIANT=URI (repeat for the comparison); default: byte tokens")
    p.add_argument("--docs", action="append", help="VARIANT=DOCUMENTS_URI: UTF-8 byte tokens of a documents dataset (repeat)")
    p.add_argument("--executor", default="ray")
    a = p.parse_args()
    out = Path(a.out)
    if a.data or a.docs:
        data = dict(d.split("=", 1) for d in a.data or [])
        for spec in a.docs or []:
            variant, uri = spec.split("=", 1)
            data[variant] = document_byte_tokens(uri, out / f"tokens-{variant}")
    else:
        data = {"clean": byte_tokens(out / "tokens-clean", 0.0), "noisy": byte_tokens(out / "tokens-noisy", 0.3)}
    cfg = load_study_config(a.config, out=str(out / "study"), data=data)
    t0 = time.perf_counter()
    report = run_scaling_study(cfg, executor=a.executor)
    elapsed = time.perf_counter() - t0
    summary = {"seconds": round(elapsed, 1), "comparison": report["comparison"], "plots": report.get("plots", [])}
    for v, e in report["variants"].items():
        h = e.get("holdout") or {}
        summary[v] = {"runs": e["runs"], "loss_law": e["fit"]["loss"] and {k: e["fit"]["loss"][k] for k in ("coef", "exp", "exp_se")},
                      "hparams": e["fit"]["hyperparameters"] and {k: {kk: e["fit"]["hyperparameters"][k][kk] for kk in ("coef", "exp", "exp_se")}
                                                                  for k in ("batch_tokens", "learning_rate")},
                      "holdout": {k: h.get(k) for k in ("compute", "loss", "low", "high", "actual", "relative_error", "inside_interval")},
                      "errors": e["fit"]["errors"]}
    print(json.dumps(summary, indent=1, default=lambda x: None if isinstance(x, float) and not math.isfinite(x) else str(x)))


if __name__ == "__main__":
    main()
