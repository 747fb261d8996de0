"""Default filters on real clean text from ../shared/data: >= 90% of clean documents kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasks.ops.langid import LanguageIdentifier
from tasks.ops.quality import QualityFilter
from tasks.reference_texts import reference_documents


@pytest.fixture(scope="module")
def ident() -> LanguageIdentifier:
    return LanguageIdentifier()


def kept_fraction(ident: LanguageIdentifier, docs: list[str], lang: str) -> tuple[float, float]:
    dec = ident(docs)
    res = QualityFilter()(docs, [lang] * len(docs))
    kept = sum(1 for r, q in zip(dec.reason, res) if r is None and q.reason is None)
    return kept / len(docs), sum(1 for x in dec.lang if x == lang) / len(docs)


def test_chinese_defaults_keep_clean_chinese(shared_data: Path, ident: LanguageIdentifier) -> None:
    sets = reference_documents(shared_data, "zh")
    total = kept = 0
    for name, docs in sets.items():
        assert len(docs) >= 50, name
        frac, lang_ok = kept_fraction(ident, docs, "zh")
        assert lang_ok >= 0.98, (name, lang_ok)
        assert frac >= 0.8, (name, frac)  # every source well above chance, magic_html gold holds some page chrome
        total += len(docs)
        kept += round(frac * len(docs))
    assert kept / total >= 0.90, kept / total
