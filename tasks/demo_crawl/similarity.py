"""The shingle Jaccard used to label the demo crawl's near-duplicates.

English (and every non-Chinese language): lower-cased ``\\w+`` words, 5-word shingles.
Chinese: all characters except whitespace, 5-character shingles. ``near_dup_jaccard`` in
``ground_truth.jsonl`` is ``jaccard(shingles(dup), shingles(original))`` on the stored texts.
"""

from __future__ import annotations

import re

SHINGLE_SIZE = 5
_WORD_RE = re.compile(r"\w+")
_SPACE_RE = re.compile(r"\s+")


def shingles(text: str, lang: str, size: int = SHINGLE_SIZE) -> set[str]:
    """The set of ``size``-gram shingles of ``text``: characters for zh, words otherwise."""
    if lang == "zh":
        units: list[str] = list(_SPACE_RE.sub("", text))
        sep = ""
    else:
        units = _WORD_RE.findall(text.lower())
        sep = " "
    if len(units) < size:
        return {sep.join(units)} if units else set()
    return {sep.join(units[i : i + size]) for i in range(len(units) - size + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    """|a & b| / |a | b| (1.0 for two empty sets)."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def text_jaccard(text_a: str, text_b: str, lang: str) -> float:
    return jaccard(shingles(text_a, lang), shingles(text_b, lang))
