"""Language-aware heuristic quality filters: Gopher repetition, Gopher quality, C4, FineWeb.

The rules and their order are datatrove's FineWeb recipe (GopherRepetitionFilter ->
GopherQualityFilter -> C4QualityFilter(filter_no_terminal_punct=False) ->
FineWebQualityFilter), re-implemented to be fast and to be right for Chinese:

- Thresholds live in one small dataclass per filter, grouped per language in
  :class:`LanguageQualityConfig`; :func:`english_quality` gives datatrove's defaults,
  :func:`chinese_quality` the Chinese variant calibrated on real Chinese text
  (docs/filter.md): CJK characters are units (lengths and n-grams are character based,
  they are not Latin letters), full-width punctuation counts as punctuation and as a
  sentence end, Chinese stop characters replace English stop words, and C4's
  "words per line" counts CJK characters.
- C4 keeps datatrove's semantics: lines are *removed* (too long word, javascript, policy /
  cookie lines, fewer than ``min_words_per_line`` words, optionally no terminal
  punctuation), and the whole document is *dropped* for ``lorem ipsum``, a curly brace, or
  fewer than ``min_num_sentences`` sentences in the kept lines. The kept document's text is
  the kept lines joined by ``\\n`` (as in datatrove); FineWeb then sees that text.
- Drop reasons are namespaced (``gopher_rep_*``, ``gopher_*``, ``c4_*``, ``fineweb_*``).

    checker = QualityChecker(chinese_quality())
    result = checker.check("...document text...")   # QualityResult(reason, detail, text)
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from tasks.ops.text_units import (
    TERMINAL_CHARS,
    content_words,
    count_alpha_words,
    count_sentences,
    has_min_units,
    tokenize,
)

EN_STOP_WORDS = ["the", "be", "to", "of", "and", "that", "have", "with"]
# the most frequent Chinese function characters (any two must occur in a real sentence or two)
ZH_STOP_WORDS = ["的", "了", "是", "在", "和", "有", "不", "这", "也", "就", "人", "我", "他", "们", "一",
                 "为", "与", "对", "将", "被", "从", "以", "及", "其", "于", "中", "上", "个", "到"]
EN_POLICY = ["terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies"]
# zh: policy/cookie lines plus the page-chrome lines Chinese sites repeat on every page
ZH_POLICY = EN_POLICY + [
    "隐私政策", "使用条款", "服务条款", "用户协议", "隐私声明", "cookie",
    "版权所有", "all rights reserved", "©", "联系我们", "关注我们", "阅读更多", "评论（", "上一篇", "下一篇",
    "打印本页", "分享到", "有帮助吗",
]
CITATION_RE = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
C4_END_PUNCT = (".", "?", "!", '"', "'")
# a Chinese line often ends in a closing quote/bracket after the full stop, or in a colon before a list
ZH_CLOSERS = ("”", "’", "」", "』", "）", "》", "：", "；", "…")
ZH_END_PUNCT = C4_END_PUNCT + ("。", "！", "？") + ZH_CLOSERS


# ----------------------------------------------------------------------------- configs


@dataclass
class GopherRepetitionConfig:
    """Gopher (Rae et al. 2021, table A1) repetition limits; fractions of characters or items."""

    dup_line_frac: float | None = 0.3
    dup_para_frac: float | None = 0.3
    dup_line_char_frac: float | None = 0.2
    dup_para_char_frac: float | None = 0.2
    top_n_grams: list[tuple[int, float]] = field(default_factory=lambda: [(2, 0.2), (3, 0.18), (4, 0.16)])
    dup_n_grams: list[tuple[int, float]] = field(
        default_factory=lambda: [(5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10)]
    )


@dataclass
class GopherQualityConfig:
    """Gopher quality rules; "words" are the language's units (see tasks/ops/text_units.py)."""

    min_doc_words: int | None = 50
    max_doc_words: int | None = 100_000
    min_avg_word_length: float | None = 3.0
    max_avg_word_length: float | None = 10.0
    max_symbol_word_ratio: float | None = 0.1
    max_bullet_lines_ratio: float | None = 0.9
    max_ellipsis_lines_ratio: float | None = 0.3
    min_alpha_words_ratio: float | None = 0.8
    # "content_words": Gopher's definition (a word = a non-punctuation token); "all_tokens":
    # datatrove's (every punctuation mark is a word too, which drops most of Wikipedia)
    alpha_ratio_over: str = "content_words"
    min_stop_words: int | None = 2
    stop_words: list[str] = field(default_factory=lambda: list(EN_STOP_WORDS))


@dataclass
class C4Config:
    """C4 line rules (Raffel et al. 2020) with datatrove's line-removal vs document-drop split."""

    remove_citations: bool = True
    filter_no_terminal_punct: bool = False  # FineWeb's setting; True is the original C4
    end_punctuation: list[str] = field(default_factory=lambda: list(C4_END_PUNCT))
    min_num_sentences: int = 5  # -1 disables
    min_words_per_line: int = 3  # -1 disables
    max_word_length: int = 1000  # -1 disables
    filter_lorem_ipsum: bool = True
    filter_javascript: bool = True
    filter_curly_bracket: bool = True
    # substrings removed before the curly-brace check (zh: MediaWiki conversion markup "-{...}-")
    curly_bracket_ignore: list[str] = field(default_factory=list)
    filter_policy: bool = True
    policy_substrings: list[str] = field(default_factory=lambda: list(EN_POLICY))
    # not in C4/datatrove: remove menu lines ("a | b | c", at least this many "|"); 0 disables
    menu_line_separators: int = 0


@dataclass
class FineWebConfig:
    """FineWeb's extra rules (Penedo et al. 2024)."""

    line_punct_thr: float = 0.12
    line_punct_exclude_zero: bool = False
    stop_chars: list[str] = field(default_factory=lambda: list(TERMINAL_CHARS))
    short_line_thr: float = 0.67
    short_line_length: int = 30
    char_duplicates_ratio: float = 0.01
    new_line_ratio: float = 0.3


@dataclass
class LanguageQualityConfig:
    """All heuristic filters for one language; a ``None`` filter is skipped."""

    tokenizer: str = "words"  # words | cjk_chars | jieba (tasks/ops/text_units.py)
    gopher_repetition: GopherRepetitionConfig | None = field(default_factory=GopherRepetitionConfig)
    gopher_quality: GopherQualityConfig | None = field(default_factory=GopherQualityConfig)
    c4: C4Config | None = field(default_factory=C4Config)
    fineweb: FineWebConfig | None = field(default_factory=FineWebConfig)


def english_quality() -> LanguageQualityConfig:
    """datatrove's defaults (FineWeb recipe), with Gopher's own alphabetic-word ratio."""
    return LanguageQualityConfig()


def datatrove_compatible_quality() -> LanguageQualityConfig:
    """Exactly datatrove's FineWeb recipe (for agreement measurements)."""
    cfg = LanguageQualityConfig()
    assert cfg.gopher_quality is not None
    cfg.gopher_quality.alpha_ratio_over = "all_tokens"
    return cfg


def chinese_quality() -> LanguageQualityConfig:
    """Chinese: character units, CJK punctuation, calibrated thresholds (docs/filter.md)."""
    return LanguageQualityConfig(
        tokenizer="cjk_chars",
        gopher_repetition=GopherRepetitionConfig(
            # character n-grams: ~1.5 characters per Chinese word, so n is about doubled
            top_n_grams=[(2, 0.2), (3, 0.18), (4, 0.16)],
            dup_n_grams=[(10, 0.15), (12, 0.14), (14, 0.13), (16, 0.12), (18, 0.11), (20, 0.10)],
        ),
        gopher_quality=GopherQualityConfig(
            min_doc_words=50,  # 50 characters
            max_doc_words=200_000,
            min_avg_word_length=None,  # every CJK unit is one character; use tokenizer="jieba" to enable
            max_avg_word_length=None,
            min_alpha_words_ratio=0.6,  # CJK text is ~15-25% punctuation and digits
            min_stop_words=2,
            stop_words=list(ZH_STOP_WORDS),
        ),
        c4=C4Config(
            end_punctuation=list(ZH_END_PUNCT),
            min_num_sentences=3,
            min_words_per_line=3,
            policy_substrings=list(ZH_POLICY),
            curly_bracket_ignore=["-{"],
            menu_line_separators=2,
        ),
        fineweb=FineWebConfig(stop_chars=list(TERMINAL_CHARS) + list(ZH_CLOSERS), short_line_length=10,
            char_duplicates_ratio=0.03,  # short repeated Chinese lines ("译文", dates) are common in clean pages
        ),
    )


# ----------------------------------------------------------------------------- checks


@dataclass
class QualityResult:
    reason: str | None  # None = kept
    detail: str = ""
    text: str = ""  # the kept text (C4 may remove lines)
    removed_lines: int = 0


def _find_duplicates(items: list[str]) -> tuple[int, int]:
    """(number of repeated items, characters in them), first occurrences not counted."""
    seen: set[str] = set()
    dup_items = dup_chars = 0
    for x in items:
        if x in seen:
            dup_items += 1
            dup_chars += len(x)
        else:
            seen.add(x)
    return dup_items, dup_chars


def _all_duplicate_chars(words: list[str], n: int) -> int:
    """datatrove's find_all_duplicate: characters in repeated n-grams, greedy left to right."""
    unique: set[str] = set()
    repeated, idx, end = 0, 0, len(words) - n + 1
    while idx < end:
        gram = "".join(words[idx : idx + n])
        if gram in unique:
            repeated += len(gram)
            idx += n
        else:
            unique.add(gram)
            idx += 1
    return repeated


def _dup_ngram_cover_chars(words: list[str], n: int) -> int:
    """Upper bound of _all_duplicate_chars(words, m) for every m >= n: characters of the words
    covered by some n-gram seen earlier. 0 for almost every natural document, which lets the
    exact greedy scans be skipped."""
    grams = list(zip(*(words[i:] for i in range(n))))
    if len(set(grams)) == len(grams):
        return 0
    seen: set[tuple[str, ...]] = set()
    covered_until = -1
    chars = 0
    for i, g in enumerate(grams):
        if g in seen:
            for j in range(max(i, covered_until + 1), i + n):
                chars += len(words[j])
            covered_until = i + n - 1
        else:
            seen.add(g)
    return chars


class QualityChecker:
    """Applies one language's heuristic filters to single documents."""

    def __init__(self, cfg: LanguageQualityConfig) -> None:
        self.cfg = cfg
        self._para_re = re.compile(r"\n{2,}")
        self._line_re = re.compile(r"\n+")
        if cfg.gopher_quality is not None:
            self._stop_words = set(cfg.gopher_quality.stop_words)
        if cfg.c4 is not None:
            self._end_punct = tuple(cfg.c4.end_punctuation)
            self._policy = [p.lower() for p in cfg.c4.policy_substrings]
            self._curly_ignore = list(cfg.c4.curly_bracket_ignore)
        if cfg.fineweb is not None:
            self._stop_chars = tuple(cfg.fineweb.stop_chars)

    def check(self, text: str) -> QualityResult:
        if not text or not text.strip():
            return QualityResult("quality_empty", "no text", text)
        words = tokenize(text, self.cfg.tokenizer)
        if self.cfg.gopher_repetition is not None:
            reason = self._gopher_repetition(text, words, self.cfg.gopher_repetition)
            if reason:
                return QualityResult(reason[0], reason[1], text)
        if self.cfg.gopher_quality is not None:
            reason = self._gopher_quality(text, words, self.cfg.gopher_quality)
            if reason:
                return QualityResult(reason[0], reason[1], text)
        removed = 0
        if self.cfg.c4 is not None:
            reason, new_text, removed = self._c4(text, self.cfg.c4)
            if reason:
                return QualityResult(reason[0], reason[1], text)
            if new_text != text:
                text = new_text
                words = tokenize(text, self.cfg.tokenizer)
        if self.cfg.fineweb is not None:
            reason = self._fineweb(text, words, self.cfg.fineweb)
            if reason:
                return QualityResult(reason[0], reason[1], text, removed)
        return QualityResult(None, "", text, removed)

    # -- Gopher repetition ----------------------------------------------------------------
    def _gopher_repetition(self, text: str, words: list[str], c: GopherRepetitionConfig) -> tuple[str, str] | None:
        n_chars = len(text)
        paragraphs = self._para_re.split(text.strip())
        dup, dup_chars = _find_duplicates(paragraphs)
        if c.dup_para_frac and dup / len(paragraphs) > c.dup_para_frac:
            return "gopher_rep_dup_para_frac", f"{dup}/{len(paragraphs)} paragraphs repeated"
        if c.dup_para_char_frac and dup_chars / n_chars > c.dup_para_char_frac:
            return "gopher_rep_dup_para_char_frac", f"{dup_chars}/{n_chars} chars in repeated paragraphs"
        lines = self._line_re.split(text)
        dup, dup_chars = _find_duplicates(lines)
        if c.dup_line_frac and dup / len(lines) > c.dup_line_frac:
            return "gopher_rep_dup_line_frac", f"{dup}/{len(lines)} lines repeated"
        if c.dup_line_char_frac and dup_chars / n_chars > c.dup_line_char_frac:
            return "gopher_rep_dup_line_char_frac", f"{dup_chars}/{n_chars} chars in repeated lines"
        sep = 0 if self.cfg.tokenizer == "cjk_chars" else 1  # datatrove joins word n-grams with a space
        for n, frac in c.top_n_grams:
            if len(words) < n:
                continue
            (gram, count), = Counter(zip(*(words[i:] for i in range(n)))).most_common(1)
            top_chars = (sum(map(len, gram)) + sep * (n - 1)) * count
            if top_chars / n_chars > frac:
                return f"gopher_rep_top_{n}_gram", f"top {n}-gram x{count} = {top_chars}/{n_chars} chars"
        if c.dup_n_grams:
            smallest = min(n for n, _ in c.dup_n_grams)
            loosest = min(f for _, f in c.dup_n_grams)
            if _dup_ngram_cover_chars(words, smallest) / n_chars > loosest:
                for n, frac in c.dup_n_grams:
                    dup_chars = _all_duplicate_chars(words, n)
                    if dup_chars / n_chars > frac:
                        return f"gopher_rep_duplicated_{n}_n_grams", f"{dup_chars}/{n_chars} chars in repeated {n}-grams"
        return None

    # -- Gopher quality -------------------------------------------------------------------
    def _gopher_quality(self, text: str, words: list[str], c: GopherQualityConfig) -> tuple[str, str] | None:
        n_words = len(words)
        content = content_words(words)
        n_content = len(content)
        if c.min_doc_words and n_content < c.min_doc_words:
            return "gopher_short_doc", f"{n_content} words < {c.min_doc_words}"
        if c.max_doc_words and n_content > c.max_doc_words:
            return "gopher_long_doc", f"{n_content} words > {c.max_doc_words}"
        if c.min_avg_word_length or c.max_avg_word_length:
            avg = sum(map(len, content)) / n_content if n_content else 0.0
            if c.min_avg_word_length and avg < c.min_avg_word_length:
                return "gopher_below_avg_threshold", f"mean word length {avg:.2f} < {c.min_avg_word_length}"
            if c.max_avg_word_length and avg > c.max_avg_word_length:
                return "gopher_above_avg_threshold", f"mean word length {avg:.2f} > {c.max_avg_word_length}"
        if n_words == 0:  # only reachable with min_doc_words disabled
            return "gopher_short_doc", "no words"
        if c.max_symbol_word_ratio:
            ratio = text.count("#") / n_words
            if ratio > c.max_symbol_word_ratio:
                return "gopher_too_many_hashes", f"'#' per word {ratio:.3f}"
            ratio = (text.count("...") + text.count("…")) / n_words
            if ratio > c.max_symbol_word_ratio:
                return "gopher_too_many_ellipsis", f"ellipses per word {ratio:.3f}"
        lines = text.splitlines()
        if lines and c.max_bullet_lines_ratio:
            ratio = sum(1 for s in lines if s.lstrip().startswith(("•", "-"))) / len(lines)
            if ratio > c.max_bullet_lines_ratio:
                return "gopher_too_many_bullets", f"bullet lines {ratio:.2f}"
        if lines and c.max_ellipsis_lines_ratio:
            ratio = sum(1 for s in lines if s.rstrip().endswith(("...", "…"))) / len(lines)
            if ratio > c.max_ellipsis_lines_ratio:
                return "gopher_too_many_end_ellipsis", f"lines ending in ellipsis {ratio:.2f}"
        if c.min_alpha_words_ratio:
            over = content if c.alpha_ratio_over == "content_words" else words
            ratio = count_alpha_words(over) / max(len(over), 1)
            if ratio < c.min_alpha_words_ratio:
                return "gopher_below_alpha_threshold", f"words with a letter {ratio:.2f} < {c.min_alpha_words_ratio}"
        if c.min_stop_words:
            found = len(self._stop_words.intersection(words))
            if found < c.min_stop_words:
                return "gopher_too_few_stop_words", f"{found} distinct stop words < {c.min_stop_words}"
        return None

    # -- C4 ---------------------------------------------------------------------------------
    def _c4(self, text: str, c: C4Config) -> tuple[tuple[str, str] | None, str, int]:
        kept: list[str] = []
        num_sentences = 0
        lines = text.splitlines()
        for line in lines:
            line = line.strip()
            if c.max_word_length != -1 and len(line) > c.max_word_length:
                if any(len(w) > c.max_word_length for w in line.split()):
                    continue
            enough_units = has_min_units(line, c.min_words_per_line, self.cfg.tokenizer)  # before citation removal
            if c.remove_citations and "[" in line:
                line = CITATION_RE.sub("", line)
            if c.filter_no_terminal_punct and (not line.endswith(self._end_punct) or line.endswith("...")):
                continue
            if not enough_units:
                continue
            low = line.lower()
            if c.filter_lorem_ipsum and "lorem ipsum" in low:
                return ("c4_lorem_ipsum", "'lorem ipsum' in a line"), text, 0
            if c.filter_javascript and "javascript" in low:
                continue
            if c.filter_curly_bracket and "{" in line and self._has_curly(line):
                return ("c4_curly_brace", "'{' in a line"), text, 0
            if c.filter_policy and any(p in low for p in self._policy):
                continue
            if c.menu_line_separators and line.count("|") >= c.menu_line_separators:
                continue
            if num_sentences < c.min_num_sentences:  # only compared with the minimum: stop counting there
                num_sentences += count_sentences(line)
            kept.append(line)
        if num_sentences < c.min_num_sentences:
            return ("c4_too_few_sentences", f"{num_sentences} sentences < {c.min_num_sentences}"), text, 0
        return None, "\n".join(kept).strip(), len(lines) - len(kept)

    def _has_curly(self, line: str) -> bool:
        for s in self._curly_ignore:
            line = line.replace(s, "")
        return "{" in line

    # -- FineWeb ----------------------------------------------------------------------------
    def _fineweb(self, text: str, words: list[str], c: FineWebConfig) -> tuple[str, str] | None:
        lines = [line for line in text.split("\n") if line.strip()]
        if not lines:
            return "fineweb_empty", "no non-empty line"
        ratio = sum(1 for line in lines if line.endswith(self._stop_chars)) / len(lines)
        if ratio < c.line_punct_thr and not (ratio == 0 and c.line_punct_exclude_zero):
            return "fineweb_line_punct_ratio", f"lines ending in punctuation {ratio:.2f} < {c.line_punct_thr}"
        ratio = sum(1 for line in lines if len(line) <= c.short_line_length) / len(lines)
        if ratio > c.short_line_thr:
            return "fineweb_short_line_ratio", f"short lines {ratio:.2f} > {c.short_line_thr}"
        n_chars = len(text) - text.count("\n")
        ratio = _find_duplicates(lines)[1] / max(n_chars, 1)
        if ratio > c.char_duplicates_ratio:
            return "fineweb_char_dup_ratio", f"chars in repeated lines {ratio:.3f} > {c.char_duplicates_ratio}"
        ratio = text.count("\n") / max(len(words), 1)
        if ratio > c.new_line_ratio:
            return "fineweb_list_ratio", f"newlines per word {ratio:.2f} > {c.new_line_ratio}"
        return None


@dataclass
class QualityConfig:
    """Heuristic filters per language; languages without an entry use ``default``."""

    languages: dict[str, LanguageQualityConfig] = field(
        default_factory=lambda: {"en": english_quality(), "zh": chinese_quality()}
    )
    default: LanguageQualityConfig = field(default_factory=english_quality)

    def for_language(self, lang: str) -> LanguageQualityConfig:
        return self.languages.get(lang, self.default)


class QualityFilter:
    """Batch front end: one :class:`QualityChecker` per language, applied row by row."""

    def __init__(self, cfg: QualityConfig | None = None) -> None:
        self.cfg = cfg or QualityConfig()
        self._checkers: dict[str, QualityChecker] = {}

    def checker(self, lang: str) -> QualityChecker:
        if lang not in self._checkers:
            self._checkers[lang] = QualityChecker(self.cfg.for_language(lang))
        return self._checkers[lang]

    def __call__(self, texts: list[str], langs: list[str]) -> list[QualityResult]:
        return [self.checker(lang).check(text) for text, lang in zip(texts, langs)]
