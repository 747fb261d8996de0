"""Per-language threshold calibration (tasks/ops/filter_calibration.py): quantiles of clean text, junk guard, LID rule.

    python -m pytest -q tests/tasks/ops/test_filter_calibration_ops.py
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from tasks.config import parse
from tasks.demo_crawl.banks import real_documents
from tasks.filter import FilterConfig
from tasks.ops.filter_calibration import CalibrationConfig, calibrate, calibrate_language, document_statistics, lid_threshold
from tasks.ops.quality import QualityChecker, english_quality


def wiki_texts(n: int) -> list[str]:
    """``n`` vendored WikiText articles (first 6 paragraphs) that the default English rules keep."""
    checker = QualityChecker(english_quality())
    texts = ["\n".join(" ".join(p) for p in d.paragraphs[:6]) for d in real_documents("en") if d.source == "wikitext2"]
    kept = [t for t in texts if checker.check(t).reason is None]
    assert len(kept) >= n
    return kept[:n]


def with_ellipsis_lines(text: str) -> str:
    """Half of the lines end in '...' (default max_ellipsis_lines_ratio is 0.3)."""
    lines = text.split("\n")
    return "\n".join(line + " and so on..." if i % 2 == 0 else line for i, line in enumerate(lines))


def test_lid_threshold_is_median_minus_sigma_clamped() -> None:
    c = CalibrationConfig(lid_min=0.3, lid_max=0.9)
    scores = np.array([0.5, 0.7, 0.9])
    assert lid_threshold(scores, c) == round(0.7 - np.std(scores), 3)
    assert lid_threshold(np.array([0.99, 0.99, 0.98]), c) == 0.9  # clamped from above
    assert lid_threshold(np.array([0.1, 0.2, 0.9]), c) == 0.3  # and from below


def test_statistics_agree_with_the_checker() -> None:
    cfg = english_quality()
    text = with_ellipsis_lines(wiki_texts(1)[0])
    stats = document_statistics(text, cfg)
    assert stats["gopher_quality.max_ellipsis_lines_ratio"] > cfg.gopher_quality.max_ellipsis_lines_ratio
    assert QualityChecker(cfg).check(text).reason == "gopher_too_many_end_ellipsis"
    cfg.gopher_quality.max_ellipsis_lines_ratio = stats["gopher_quality.max_ellipsis_lines_ratio"]
    assert QualityChecker(cfg).check(text).reason != "gopher_too_many_end_ellipsis"  # at the threshold: not dropped


def test_a_rule_relaxes_to_the_clean_quantile_only_where_clean_text_needs_it() -> None:
    clean = wiki_texts(60)
    untouched, _ = calibrate_language(clean[:40], [], english_quality(), CalibrationConfig(drop_budget=0.0))
    assert untouched == {}  # the defaults already keep this clean text: nothing is tightened
    needy = clean[:40] + [with_ellipsis_lines(t) for t in clean[40:60]]  # a third of the language ends lines in "..."
    tuned, fit = calibrate_language(needy, [], english_quality(), CalibrationConfig(drop_budget=0.0))
    ratio = tuned["gopher_quality"]["max_ellipsis_lines_ratio"]
    assert ratio >= max(document_statistics(t, english_quality())["gopher_quality.max_ellipsis_lines_ratio"] for t in needy)
    cfg = english_quality()
    cfg.gopher_quality.max_ellipsis_lines_ratio = ratio
    assert all(QualityChecker(cfg).check(t).reason != "gopher_too_many_end_ellipsis" for t in needy)
    assert fit["clean_kept"] > 0.9


def test_junk_holds_a_relaxation_back() -> None:
    clean = wiki_texts(60)
    needy = clean[:40] + [with_ellipsis_lines(t) for t in clean[40:60]]
    junk = [with_ellipsis_lines(t) for t in wiki_texts(80)[60:80]]  # junk that only the ellipsis rule catches
    free, fit_free = calibrate_language(needy, junk, english_quality(), CalibrationConfig(drop_budget=0.0, junk_target=0.0))
    held, fit_held = calibrate_language(needy, junk, english_quality(), CalibrationConfig(drop_budget=0.0, junk_target=0.95))
    assert "max_ellipsis_lines_ratio" in free["gopher_quality"] and fit_free["junk_dropped"] < 0.5
    assert "max_ellipsis_lines_ratio" not in held.get("gopher_quality", {}) and fit_held["junk_dropped"] >= 0.95


def test_calibrate_writes_a_filter_config_override() -> None:
    clean = wiki_texts(60)
    needy = clean[:30] + [with_ellipsis_lines(t) for t in clean[30:60]]
    table = pa.table({"text": needy, "lang": ["en"] * len(needy)})
    junk = pa.table({"text": ["buy now cheap " * 40, "Loading..."], "lang": ["en", "en"]})
    overrides, fits = calibrate(table, junk, FilterConfig(), CalibrationConfig(drop_budget=0.0))
    cfg = parse(FilterConfig, overrides)  # merges into the defaults
    assert cfg.quality.languages["en"].gopher_quality.max_ellipsis_lines_ratio > 0.3
    assert cfg.quality.languages["zh"].gopher_quality.min_alpha_words_ratio == 0.6  # other languages untouched
    assert fits["en"]["junk_dropped"] == 1.0 and 0 < fits["en"]["lid_median_minus_sigma"] <= 0.9
    assert "langid" not in overrides  # median - sigma of wiki text is above the default 0.65: not tightened
    tight, fits = calibrate(table, junk, FilterConfig(), CalibrationConfig(drop_budget=0.0, lid_tighten=True))
    assert tight["langid"]["thresholds"]["en"] == fits["en"]["lid_median_minus_sigma"] > 0.65
    assert parse(FilterConfig, tight).langid.thresholds["zh"] == 0.5  # the other language keeps its value
    with pytest.raises(ValueError):
        CalibrationConfig(drop_budget=0.7)
