"""DCLM-style fastText quality classifier: train on reference text vs crawl, score documents.

Positives are reference-quality text (curated, known-good documents), negatives a random
sample of the crawl; the score is the probability of the positive label. fastText splits on
whitespace, so CJK text is prepared with a space between ideographs (character units) both
for training and scoring. The model is small: ``bucket`` is 2**16 and ``dim`` 32 (the default 2M buckets
makes a 400 MB model) and ``quantize=True`` shrinks it further.

    train_quality_classifier(pos_texts, neg_texts, "runs/qc.bin")
    scorer = QualityScorer("runs/qc.bin")
    scores = scorer.score(texts)     # numpy float32, P(positive)
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from tasks.ops.langid import load_fasttext
from tasks.ops.text_units import CJK_RE

POSITIVE = "__label__hq"
NEGATIVE = "__label__cc"
log = logging.getLogger(__name__)
_SPACE_RE = re.compile(r"\s+")


def prepare_text(text: str, max_chars: int = 20_000) -> str:
    """One line, lowercased, CJK ideographs separated by spaces (fastText's whitespace tokens)."""
    text = text[:max_chars].lower()
    text = CJK_RE.sub(lambda m: f" {m.group(0)} ", text)
    return _SPACE_RE.sub(" ", text).strip()


@dataclass
class QualityClassifierConfig:
    """fastText supervised training knobs (DCLM uses wordNgrams=2)."""

    dim: int = 32
    epoch: int = 5
    lr: float = 0.2
    word_ngrams: int = 2
    min_count: int = 2
    bucket: int = 1 << 16  # model bytes ~= (vocabulary + bucket) * dim * 4: ~10 MB
    quantize: bool = False
    seed: int = 0
    threads: int = 1  # one thread: fastText is only deterministic (and never races to NaN) single-threaded


def train_quality_classifier(
    positive_texts: Iterable[str],
    negative_texts: Iterable[str],
    out: str,
    cfg: QualityClassifierConfig | None = None,
) -> str:
    """Train the classifier (in a child interpreter) and save it to ``out``; returns ``out``."""
    cfg = cfg or QualityClassifierConfig()
    rows = [f"{POSITIVE} {prepare_text(t)}" for t in positive_texts if t and t.strip()]
    n_pos = len(rows)
    rows += [f"{NEGATIVE} {prepare_text(t)}" for t in negative_texts if t and t.strip()]
    if n_pos == 0 or len(rows) == n_pos:
        raise ValueError(
            f"train-quality-classifier needs both positive and negative texts (got {n_pos} positive, "
            f"{len(rows) - n_pos} negative non-empty texts)"
        )
    random.Random(cfg.seed).shuffle(rows)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        f.write("\n".join(rows) + "\n")
        train_path = f.name
    try:
        _train_in_subprocess(
            train_path,
            out,
            {
                "dim": cfg.dim,
                "epoch": cfg.epoch,
                "lr": cfg.lr,
                "wordNgrams": cfg.word_ngrams,
                "minCount": cfg.min_count,
                "bucket": cfg.bucket,
                "seed": cfg.seed,
                "thread": cfg.threads,
            },
            quantize=cfg.quantize,
        )
    finally:
        os.unlink(train_path)
    return out


# Runs in a fresh interpreter (``python -c``): imports only fasttext, so the child needs nothing
# from the repo. Retries at half the learning rate when SGD diverges ("Encountered NaN").
_TRAIN_CHILD = r"""
import json, sys
import fasttext
spec = json.loads(sys.argv[1])
kw = dict(spec["kwargs"])
for attempt in range(4):
    try:
        model = fasttext.train_supervised(input=spec["input"], verbose=0, **kw)
        break
    except RuntimeError as e:
        if "NaN" not in str(e) or attempt == 3:
            raise
        print(f"quality classifier diverged at lr {kw['lr']:.3g}; retrying at lr {kw['lr'] / 2:.3g}", file=sys.stderr)
        kw["lr"] /= 2
if spec["quantize"]:
    model.quantize(input=spec["input"], retrain=False)
model.save_model(spec["out"])
"""


def _train_in_subprocess(train_path: str, out: str, kwargs: dict, *, quantize: bool) -> None:
    """Train fastText in a child interpreter.

    fastText's trainer sometimes diverged to NaN at every learning rate when it ran inside a
    long-lived process that had already run torch, Ray and many other native libraries (seen in
    the full test suite only, never alone; the same data and seed trains fine in a fresh process),
    and on a hard error it can abort() the whole process. A fresh interpreter isolates both.
    """
    spec = {"input": train_path, "out": out, "kwargs": kwargs, "quantize": quantize}
    proc = subprocess.run(
        [sys.executable, "-c", _TRAIN_CHILD, json.dumps(spec)],
        capture_output=True,
        text=True,
    )
    for line in proc.stderr.splitlines():
        if "diverged" in line:
            log.warning("%s", line)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"fastText quality-classifier training failed (exit {proc.returncode}):\n{tail}")


class QualityScorer:
    """Loads a trained classifier once; ``score(texts)`` is P(positive) per text."""

    def __init__(self, model_path: str) -> None:
        if not os.path.isfile(model_path):
            raise FileNotFoundError(
                f"quality classifier {model_path} not found; train one with "
                f"`longterm train-quality-classifier --positive P --negative N --out {model_path}`"
            )
        self.model = load_fasttext(model_path)
        labels = set(self.model.get_labels())
        if POSITIVE not in labels:
            raise ValueError(f"{model_path} is not a longterm quality classifier (labels {sorted(labels)[:5]})")

    def score(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros(0, dtype=np.float32)
        labels, probs = self.model.predict([prepare_text(t) for t in texts], k=2)
        out = np.zeros(len(texts), dtype=np.float32)
        for i, (labs, ps) in enumerate(zip(labels, probs)):
            for lab, p in zip(labs, ps):
                if lab == POSITIVE:
                    out[i] = min(float(p), 1.0)
        return out


def read_texts(path: str) -> list[str]:
    """Texts from a .txt (one per line), .jsonl[.gz] (``text`` field) file, or a documents dataset."""
    import gzip
    import json

    if os.path.isdir(path) or "://" in path:
        from storage import open_dataset

        return [t for t in open_dataset(path, kind="documents").read_all("data", ["text"])["text"].to_pylist() if t]
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file or dataset")
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f]
    if ".jsonl" in path or ".json" in path:
        out = []
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line)["text"])
            except (ValueError, KeyError, TypeError) as e:
                raise ValueError(f"{path}:{n}: not a JSON object with a 'text' field ({e})") from e
        return out
    return [line for line in lines if line.strip()]
