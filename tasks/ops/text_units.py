"""Counting units for quality heuristics: words (English-like), CJK characters, jieba words.

datatrove splits English with spaCy's blank tokenizer and Chinese with spaCy + jieba. Both
are slow, and for Chinese, word-level heuristics tuned on English misfire. Here:

- ``words``: one regular expression approximating spaCy's English tokenizer (URLs whole,
  ``n't``/``'s`` split off, hyphens between letters split, ``...`` one token, every other
  punctuation mark its own token, whitespace never a token). It reproduces datatrove's
  decisions on >= 99% of English documents (see docs/benchmarks/filter.md) at a fraction
  of the cost.
- ``cjk_chars``: every CJK ideograph is one unit (character n-grams and lengths), other
  runs are tokenised as ``words``. No segmentation needed, so it is fast and never misreads
  a Chinese sentence as one "word" (datatrove's ``zh`` tokenizer bug) or counts CJK
  characters as Latin letters.
- ``jieba``: jieba word segmentation (whitespace dropped), for heuristics that need real
  Chinese words (for example a mean-word-length check). Slower; opt-in per language.

    tokenize("Hello, world.", "words")   -> ['Hello', ',', 'world', '.']
    tokenize("今天很好。", "cjk_chars")     -> ['今', '天', '很', '好', '。']
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import filterfalse, islice

from datatrove.utils.text import PUNCTUATION_SET, TERMINAL_PUNCTUATION

TOKENIZERS = ("words", "cjk_chars", "jieba")

TERMINAL_CHARS = tuple(sorted(TERMINAL_PUNCTUATION))

_EN = r"""
  https?://[^\s<>"']*[^\s<>"'.,;:!?)\]]      # URL, without trailing punctuation
| www\.[^\s<>"']*[^\s<>"'.,;:!?)\]]
| [\w.+-]+@[\w-]+(?:\.[\w-]+)+              # e-mail
| (?:[A-Za-z]\.){2,}                         # U.S. e.g.
| (?:Mr|Mrs|Ms|Dr|St|vs|Jr|Sr|etc|Inc|Ltd|Co|Corp|Mt|Prof|Gen|Gov|Rev|No|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.
| \b[A-Za-z]\.(?!\w)                         # initials: "J."
| \d+(?:[.,:/]\d+)+                          # 3.5 1,000 12:30 1/2
| (?:\+(?=\d))?[^\W{cjk}]+                   # words: letters, digits, "_" (CJK only in cjk_chars)
  (?:(?:[.@+'’]|(?<=\d)[:(\[]|[:\[(](?=\d)|(?<=[A-Za-z])-(?=\d))[^\W{cjk}]+)*
| \.{2,} | …
| [^\w\s]
"""
_CJK_RANGES = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff"
WORD_RE = re.compile(_EN.replace("{cjk}", ""), re.X)
CJK_RE = re.compile(f"[{_CJK_RANGES}]")
CJK_WORD_RE = re.compile(f"[{_CJK_RANGES}]|" + _EN.replace("{cjk}", _CJK_RANGES), re.X)
LATIN_LETTER_RE = re.compile(r"[A-Za-z\u00c0-\u024f]")


@lru_cache(maxsize=1)
def _jieba():
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


# contractions inside a word token: "don't" -> "do" "n't", "it's" -> "it" "'s" (spaCy's split)
_CONTRACTION_RE = re.compile(r"(?i)^(.+?)(n['’]t|['’](?:s|re|ll|ve|m|d))$")


def _split_contractions(tokens: list[str]) -> list[str]:
    out: list[str] = []
    for t in tokens:
        if ("'" in t or "’" in t) and len(t) > 2:
            m = _CONTRACTION_RE.match(t)
            if m:
                out += [m.group(1), m.group(2)]
                continue
        out.append(t)
    return out


def tokenize(text: str, tokenizer: str) -> list[str]:
    """Units of ``text`` for the given tokenizer name (see module docstring)."""
    if tokenizer == "words":
        tokens = WORD_RE.findall(text)
        return _split_contractions(tokens) if ("'" in text or "’" in text) else tokens
    if tokenizer == "cjk_chars":
        tokens = CJK_WORD_RE.findall(text)
        return _split_contractions(tokens) if ("'" in text or "’" in text) else tokens
    if tokenizer == "jieba":
        return [w for w in _jieba().lcut(text) if w.strip()]
    raise ValueError(f"unknown tokenizer {tokenizer!r}; use one of {TOKENIZERS}")


def has_min_units(line: str, n: int, tokenizer: str) -> bool:
    """At least ``n`` units in one line: whitespace words for ``words`` (C4's rule), CJK-aware
    otherwise (stops scanning after ``n`` units, so long Chinese lines cost nothing)."""
    if n <= 0:
        return True
    chunks = len(line.split())
    if tokenizer == "words" or chunks >= n:  # every whitespace chunk holds at least one unit
        return chunks >= n
    return sum(1 for _ in islice(CJK_WORD_RE.finditer(line), n)) >= n


# A sentence ends at . ! ? (not part of "..", "e.g.", "3.5") or at a CJK terminal mark, when a
# word follows after optional closing quotes and spaces. Approximates spaCy's sentencizer.
_SENT_BREAK = re.compile(
    r"(?:\.(?<!\.\.)(?<!\b[A-Za-z]\.)(?<!\bMr\.)(?<!\bMs\.)(?<!\bDr\.)(?<!\bSt\.)(?<!\bvs\.)(?<!\bMrs\.)"
    r"(?<!\bJr\.)(?<!\bSr\.)(?!\.)|[!?])[\"'”’)\]]*\s+(?=[\"'“‘(\[]*\w)"
    r"|[。！？]+[”’」』）)]*\s*(?=\S)"
)


def count_sentences(line: str) -> int:
    """Sentences in one non-empty line (1 + number of sentence breaks inside it)."""
    return 1 + len(_SENT_BREAK.findall(line))


_ALPHA_RE = re.compile(r"[^\W\d_]")


def content_words(tokens: list[str]) -> list[str]:
    """Tokens with at least one non-punctuation character (datatrove's PUNCTUATION_SET)."""
    p = PUNCTUATION_SET
    return [t for t in tokens if t[0] not in p or any(c not in p for c in t)]


def count_alpha_words(tokens: list[str]) -> int:
    """Tokens containing at least one alphabetic character."""
    search = _ALPHA_RE.search
    rest = list(filterfalse(str.isalpha, tokens))
    return len(tokens) - len(rest) + sum(1 for t in rest if search(t))
