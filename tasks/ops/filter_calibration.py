"""Per-language filter thresholds from that language's own clean text (FineWeb-2 style), as pure Arrow logic.

    from tasks.ops.filter_calibration import CalibrationConfig, calibrate, evaluate
    overrides, fit = calibrate(clean, junk, FilterConfig(), CalibrationConfig())   # Arrow tables {text, lang}
    report = evaluate(clean, junk, FilterConfig(), tuned)                # keep / drop rates per language and filter

For every threshold of the heuristics (Gopher repetition and quality, C4, FineWeb) the statistic it is
compared with is computed on each clean document of the language, and the threshold is set at a quantile of
that distribution: ``drop_budget`` of the clean documents may fall beyond it (the 99.5th percentile for a
"max" rule, the 0.5th for a "min" rule). Calibration only relaxes: where the default is already looser than
the quantile the default stays. The junk sample then holds the relaxation back: while less than
``junk_target`` of the language's junk would be dropped, the relaxed rule that gives back the most junk per
clean document lost returns to its default (greedy, on the precomputed statistics). The
language-ID threshold is ``median - sigma`` of the fastText confidences of the clean documents labelled with
the language, clamped to ``[lid_min, lid_max]`` (FineWeb-2's rule); like the heuristics it only relaxes unless
``lid_tighten`` (on the real clean text it comes out at the 0.9 clamp for en and zh, which would drop 3% of
clean English that the default 0.65 keeps). The result is a partial ``FilterConfig``
mapping (``tasks.config.parse`` merges it), with only the values that changed.

The statistics mirror ``tasks.ops.quality.QualityChecker`` (same tokenizer, same helpers); the tests check
that a document just past a calibrated threshold is dropped by the checker for that reason.
"""

from __future__ import annotations

import copy
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from tasks.ops.langid import LangIdConfig, LanguageIdentifier
from tasks.ops.quality import (
    LanguageQualityConfig,
    QualityChecker,
    QualityConfig,
    _all_duplicate_chars,
    _find_duplicates,
)
from tasks.ops.text_units import content_words, count_alpha_words, count_sentences, tokenize


@dataclass(frozen=True)
class CalibrationConfig:
    drop_budget: float = 0.005  # share of a language's clean documents each rule may drop
    lid_min: float = 0.3  # clamp of the language-ID threshold (median - sigma)
    lid_max: float = 0.9
    junk_target: float = 0.95  # share of a language's junk sample that must stay dropped
    lid_tighten: bool = False  # apply median - sigma even where it is stricter than the current threshold
    min_docs: int = 50  # fewer clean documents of a language: leave its defaults alone

    def __post_init__(self) -> None:
        if not 0 <= self.drop_budget < 0.5 or not 0 <= self.lid_min <= self.lid_max <= 1 or self.min_docs < 1:
            raise ValueError(f"calibration: need 0 <= drop_budget < 0.5, 0 <= lid_min <= lid_max <= 1, min_docs >= 1; got {self}")


# ----------------------------------------------------------------------------- statistics
# (filter, parameter, direction, key): "max" rules drop a document whose statistic exceeds the threshold,
# "min" rules one whose statistic is below it; list rules ((n, frac) pairs) are keyed by n.
Rule = tuple[str, str, str, int | None]


def _rules(cfg: LanguageQualityConfig) -> list[Rule]:
    rules: list[Rule] = []
    if (r := cfg.gopher_repetition) is not None:
        rules += [("gopher_repetition", p, "max", None) for p in ("dup_para_frac", "dup_para_char_frac", "dup_line_frac",
                                                                    "dup_line_char_frac") if getattr(r, p)]
        rules += [("gopher_repetition", "top_n_grams", "max", n) for n, _ in r.top_n_grams]
        rules += [("gopher_repetition", "dup_n_grams", "max", n) for n, _ in r.dup_n_grams]
    if (q := cfg.gopher_quality) is not None:
        rules += [("gopher_quality", p, d, None) for p, d in (
            ("min_doc_words", "min"), ("min_avg_word_length", "min"), ("max_avg_word_length", "max"),
            ("max_symbol_word_ratio", "max"), ("max_bullet_lines_ratio", "max"), ("max_ellipsis_lines_ratio", "max"),
            ("min_alpha_words_ratio", "min"), ("min_stop_words", "min")) if getattr(q, p)]
    if cfg.c4 is not None and cfg.c4.min_num_sentences > 0:
        rules.append(("c4", "min_num_sentences", "min", None))
    if cfg.fineweb is not None:
        rules += [("fineweb", p, d, None) for p, d in (("line_punct_thr", "min"), ("short_line_thr", "max"),
                                                        ("char_duplicates_ratio", "max"), ("new_line_ratio", "max"))]
    return rules


def _rule_name(rule: Rule) -> str:
    return f"{rule[0]}.{rule[1]}" + (f"[{rule[3]}]" if rule[3] is not None else "")


def document_statistics(text: str, cfg: LanguageQualityConfig) -> dict[str, float]:
    """The value each rule of ``cfg`` compares with its threshold, keyed by ``_rule_name``."""
    out: dict[str, float] = {}
    words = tokenize(text, cfg.tokenizer)
    n_chars = max(len(text), 1)
    checker = QualityChecker(cfg)
    if (r := cfg.gopher_repetition) is not None:
        paragraphs = checker._para_re.split(text.strip())
        dup, chars = _find_duplicates(paragraphs)
        out["gopher_repetition.dup_para_frac"] = dup / max(len(paragraphs), 1)
        out["gopher_repetition.dup_para_char_frac"] = chars / n_chars
        lines = checker._line_re.split(text)
        dup, chars = _find_duplicates(lines)
        out["gopher_repetition.dup_line_frac"] = dup / max(len(lines), 1)
        out["gopher_repetition.dup_line_char_frac"] = chars / n_chars
        sep = 0 if cfg.tokenizer == "cjk_chars" else 1
        for n, _ in r.top_n_grams:
            value = 0.0
            if len(words) >= n:
                (gram, count), = Counter(zip(*(words[i:] for i in range(n)))).most_common(1)
                value = (sum(map(len, gram)) + sep * (n - 1)) * count / n_chars
            out[f"gopher_repetition.top_n_grams[{n}]"] = value
        for n, _ in r.dup_n_grams:
            out[f"gopher_repetition.dup_n_grams[{n}]"] = _all_duplicate_chars(words, n) / n_chars
    if (q := cfg.gopher_quality) is not None:
        content = content_words(words)
        out["gopher_quality.min_doc_words"] = len(content)
        avg = sum(map(len, content)) / len(content) if content else 0.0
        out["gopher_quality.min_avg_word_length"] = out["gopher_quality.max_avg_word_length"] = avg
        n_words = max(len(words), 1)
        out["gopher_quality.max_symbol_word_ratio"] = max(text.count("#"), text.count("...") + text.count("…")) / n_words
        lines = text.splitlines() or [""]
        out["gopher_quality.max_bullet_lines_ratio"] = sum(s.lstrip().startswith(("•", "-")) for s in lines) / len(lines)
        out["gopher_quality.max_ellipsis_lines_ratio"] = sum(s.rstrip().endswith(("...", "…")) for s in lines) / len(lines)
        over = content if q.alpha_ratio_over == "content_words" else words
        out["gopher_quality.min_alpha_words_ratio"] = count_alpha_words(over) / max(len(over), 1)
        out["gopher_quality.min_stop_words"] = len(set(q.stop_words).intersection(words))
    if cfg.c4 is not None:
        relaxed = copy.deepcopy(cfg)
        assert relaxed.c4 is not None
        relaxed.c4.min_num_sentences = 0
        reason, kept_text, _ = QualityChecker(relaxed)._c4(text, relaxed.c4)
        out["c4.min_num_sentences"] = -1.0 if reason else float(sum(count_sentences(x) for x in kept_text.split("\n")))
        if reason is None and kept_text != text:
            text, words = kept_text, tokenize(kept_text, cfg.tokenizer)
    if (f := cfg.fineweb) is not None:
        lines = [x for x in text.split("\n") if x.strip()] or [""]
        stop = tuple(f.stop_chars)
        out["fineweb.line_punct_thr"] = sum(x.endswith(stop) for x in lines if x) / len(lines)
        out["fineweb.short_line_thr"] = sum(len(x) <= f.short_line_length for x in lines) / len(lines)
        out["fineweb.char_duplicates_ratio"] = _find_duplicates(lines)[1] / max(len(text) - text.count("\n"), 1)
        out["fineweb.new_line_ratio"] = text.count("\n") / max(len(words), 1)
    return out


# ----------------------------------------------------------------------------- calibration


def _current(cfg: LanguageQualityConfig, rule: Rule) -> float:
    value = getattr(getattr(cfg, rule[0]), rule[1])
    if rule[3] is not None:
        return dict(value)[rule[3]]
    return float(value)


def _threshold(values: np.ndarray, direction: str, budget: float, current: float, integer: bool) -> float:
    """The clean quantile, never stricter than ``current``."""
    if direction == "max":
        q = float(np.quantile(values, 1 - budget, method="higher"))
        q = math.ceil(q * 1000) / 1000 if not integer else float(math.ceil(q))  # round outward, 3 decimals
        return max(current, q)
    q = float(np.quantile(values, budget, method="lower"))
    q = math.floor(q * 1000) / 1000 if not integer else float(math.floor(q))
    return min(current, max(q, 0.0))


def _fails(values: np.ndarray, direction: str, threshold: float) -> np.ndarray:
    return values > threshold if direction == "max" else values < threshold


def _stat_matrix(texts: list[str], cfg: LanguageQualityConfig, rules: list[Rule]) -> tuple[np.ndarray, np.ndarray]:
    """(documents x rules statistics, documents that a rule without a threshold drops: lorem ipsum, curly brace)."""
    stats = [document_statistics(t, cfg) for t in texts]
    matrix = np.array([[s[_rule_name(r)] for r in rules] for s in stats], dtype=np.float64).reshape(len(texts), len(rules))
    fixed = np.array([s.get("c4.min_num_sentences", 0) < 0 or not t.strip() for s, t in zip(stats, texts)], dtype=bool)
    return matrix, fixed


def calibrate_language(clean: list[str], junk: list[str], cfg: LanguageQualityConfig, c: CalibrationConfig,
                       junk_lid_dropped: np.ndarray | None = None) -> tuple[dict[str, Any], dict[str, float]]:
    """Overrides of one language's ``LanguageQualityConfig`` (a partial mapping) and the fit's rates.

    Every rule starts at the clean quantile (never stricter than ``cfg``); then, while the junk sample's
    simulated drop rate is below ``c.junk_target``, the relaxed rule that gives back the most junk per clean
    document lost returns to its ``cfg`` value."""
    rules = _rules(cfg)
    integer = [r[1] in ("min_doc_words", "min_stop_words", "min_num_sentences") for r in rules]
    current = [_current(cfg, r) for r in rules]
    cs, cfixed = _stat_matrix(clean, cfg, rules)
    js, jfixed = _stat_matrix(junk, cfg, rules)
    if junk_lid_dropped is not None:
        jfixed = jfixed | junk_lid_dropped
    thresholds = []
    for k, rule in enumerate(rules):
        values = cs[~cfixed, k] if len(clean) else np.zeros(0)
        thresholds.append(_threshold(values, rule[2], c.drop_budget, current[k], integer[k]) if len(values) else current[k])

    def dropped(matrix: np.ndarray, fixed: np.ndarray, ts: list[float]) -> np.ndarray:
        out = fixed.copy()
        for k, rule in enumerate(rules):
            out |= _fails(matrix[:, k], rule[2], ts[k])
        return out

    while len(junk):
        junk_rate = dropped(js, jfixed, thresholds).mean()
        if junk_rate >= c.junk_target:
            break
        best, best_score = None, 0.0
        for k in range(len(rules)):
            if thresholds[k] == current[k]:
                continue
            trial = thresholds[:k] + [current[k]] + thresholds[k + 1:]
            gain = dropped(js, jfixed, trial).mean() - junk_rate
            cost = dropped(cs, cfixed, trial).mean() - dropped(cs, cfixed, thresholds).mean()
            if gain > 0 and gain / (cost + 1e-3) > best_score:
                best, best_score = k, gain / (cost + 1e-3)
        if best is None:
            break
        thresholds[best] = current[best]
    fit = {"clean_kept": float(1 - dropped(cs, cfixed, thresholds).mean()) if len(clean) else float("nan"),
           "junk_dropped": float(dropped(js, jfixed, thresholds).mean()) if len(junk) else float("nan")}
    out: dict[str, Any] = {}
    for k, rule in enumerate(rules):
        if thresholds[k] == current[k]:
            continue
        section = out.setdefault(rule[0], {})
        new = int(thresholds[k]) if integer[k] else thresholds[k]
        if rule[3] is None:
            section[rule[1]] = new
        else:
            pairs = section.get(rule[1]) or [list(p) for p in getattr(getattr(cfg, rule[0]), rule[1])]
            section[rule[1]] = [[n, new if n == rule[3] else frac] for n, frac in pairs]
    return out, fit


def lid_threshold(scores: np.ndarray, c: CalibrationConfig) -> float:
    """FineWeb-2: median - standard deviation of the clean confidences, clamped."""
    return round(float(min(max(np.median(scores) - np.std(scores), c.lid_min), c.lid_max)), 3)


def _column(table: pa.Table, name: str) -> list:
    return [x if x is not None else "" for x in table.column(name).to_pylist()]


def calibrate(clean: pa.Table, junk: pa.Table, base: Any, c: CalibrationConfig,
              ident: LanguageIdentifier | None = None) -> tuple[dict[str, Any], dict[str, dict[str, float]]]:
    """A partial ``FilterConfig`` mapping (``langid.thresholds``, ``quality.languages.<lang>``) from clean and
    junk documents (columns ``text``, ``lang``: the language they are known, or planted, to be in), and the
    fit's simulated rates per language. ``base`` is the ``FilterConfig`` being tuned."""
    ident = ident or LanguageIdentifier(base.langid)
    overrides: dict[str, Any] = {}
    fits: dict[str, dict[str, float]] = {}
    texts, langs = _column(clean, "text"), _column(clean, "lang")
    jtexts, jlangs = _column(junk, "text"), _column(junk, "lang")
    flat = [t.replace("\n", " ")[: base.langid.max_chars] for t in texts + jtexts]
    detected, score = ident.predict(flat)
    for lang in sorted(set(langs)):
        idx = [i for i, x in enumerate(langs) if x == lang]
        if len(idx) < c.min_docs or lang not in base.langid.keep:
            continue
        scores = np.array([score[i] for i in idx if detected[i] == lang])
        lid = base.langid.threshold(lang)
        fitted_lid = lid_threshold(scores, c) if len(scores) else None
        if fitted_lid is not None:
            lid = fitted_lid if c.lid_tighten else min(fitted_lid, lid)
            if lid != base.langid.threshold(lang):
                overrides.setdefault("langid", {}).setdefault("thresholds", dict(base.langid.thresholds))[lang] = lid
        jidx = [len(texts) + i for i, x in enumerate(jlangs) if x == lang]
        lid_dropped = np.array([detected[i] != lang or score[i] < lid for i in jidx], dtype=bool)
        # the language-ID threshold is not given back for junk: junk in the right language is the heuristics' job
        tuned, fits[lang] = calibrate_language([texts[i] for i in idx], [jtexts[i - len(texts)] for i in jidx],
                                               base.quality.for_language(lang), c, lid_dropped)
        fits[lang].update(clean_documents=len(idx), junk_documents=len(jidx), lid_median_minus_sigma=fitted_lid or 0.0,
                          lid_threshold=lid)
        if tuned:
            overrides.setdefault("quality", {}).setdefault("languages", {})[lang] = tuned
    return overrides, fits


# ----------------------------------------------------------------------------- evaluation


def decide(texts: list[str], ident: LanguageIdentifier, quality: QualityConfig) -> list[tuple[str | None, str | None]]:
    """(reason or None, detected language) per text, in the filter stage's order: language ID, then heuristics."""
    from tasks.ops.quality import QualityFilter

    dec = ident(texts)
    reasons: list[str | None] = list(dec.reason)
    todo = [i for i, r in enumerate(reasons) if r is None]
    for i, res in zip(todo, QualityFilter(quality)([texts[i] for i in todo], [dec.lang[i] for i in todo])):
        reasons[i] = res.reason
    return list(zip(reasons, dec.lang))


def evaluate(clean: pa.Table, junk: pa.Table, cfgs: dict[str, Any],
             make_ident: Callable[[LangIdConfig], LanguageIdentifier] = LanguageIdentifier) -> dict[str, Any]:
    """Per config (name -> ``FilterConfig``), per language of the sample: the share of clean documents kept
    (language ID said the right language and every heuristic passed) and of junk documents dropped, and the
    drop count per reason."""
    report: dict[str, Any] = {}
    for name, cfg in cfgs.items():
        ident = make_ident(cfg.langid)
        per: dict[str, Any] = {}
        for sample, table in (("clean", clean), ("junk", junk)):
            texts, langs = _column(table, "text"), _column(table, "lang")
            for (reason, detected), lang in zip(decide(texts, ident, cfg.quality), langs):
                row = per.setdefault(lang, {"clean": 0, "clean_kept": 0, "junk": 0, "junk_dropped": 0,
                                            "clean_drops": Counter(), "junk_drops": Counter()})
                row[sample] += 1
                wrong_lang = sample == "clean" and reason is None and detected != lang
                reason = "lang_other_language" if wrong_lang else reason
                if sample == "clean":
                    row["clean_kept"] += reason is None
                    if reason:
                        row["clean_drops"][reason] += 1
                else:
                    row["junk_dropped"] += reason is not None
                    row["junk_drops"][reason or "kept"] += 1
        for row in per.values():
            row["clean_kept_rate"] = row["clean_kept"] / row["clean"] if row["clean"] else None
            row["junk_dropped_rate"] = row["junk_dropped"] / row["junk"] if row["junk"] else None
            row["clean_drops"], row["junk_drops"] = dict(row["clean_drops"].most_common()), dict(row["junk_drops"].most_common())
        report[name] = dict(sorted(per.items()))
    return report
