"""Language ID with the real lid.176.ftz: kept languages, drop reasons, bad input."""

from __future__ import annotations

import pyarrow as pa
import pytest

from tasks.ops.langid import (
    REASON_LOW_SCORE,
    REASON_NO_TEXT,
    REASON_UNSUPPORTED,
    LangIdConfig,
    LanguageIdentifier,
    lid176_path,
)
from tests.tasks.filter_samples import EN_CLEAN, FR_CLEAN, ZH_CLEAN


@pytest.fixture(scope="module")
def ident() -> LanguageIdentifier:
    return LanguageIdentifier(LangIdConfig())


def test_model_is_the_bundled_ftz_and_the_full_binding() -> None:
    import fasttext

    assert lid176_path().endswith("resources/lid.176.ftz")
    assert hasattr(fasttext, "train_supervised")


def test_english_and_chinese_are_kept_with_scores(ident: LanguageIdentifier) -> None:
    dec = ident(pa.array([EN_CLEAN, ZH_CLEAN]))
    assert dec.lang == ["en", "zh"]
    assert dec.reason == [None, None]
    assert all(0.65 <= s <= 1.0 for s in dec.score)


def test_unsupported_language(ident: LanguageIdentifier) -> None:
    dec = ident([FR_CLEAN])
    assert dec.lang == ["fr"] and dec.reason == [REASON_UNSUPPORTED]


def test_keep_list_and_per_language_threshold_are_configurable() -> None:
    only_zh = LanguageIdentifier(LangIdConfig(keep=["zh"]))
    assert only_zh([EN_CLEAN, ZH_CLEAN]).reason == [REASON_UNSUPPORTED, None]
    strict_en = LanguageIdentifier(LangIdConfig(thresholds={"en": 0.999999}))
    dec = strict_en(["hello there my friend", ZH_CLEAN])
    assert dec.lang[0] == "en" and dec.reason == [REASON_LOW_SCORE, None]


def test_newlines_do_not_break_batch_prediction(ident: LanguageIdentifier) -> None:
    dec = ident(["line one of english text\nline two of english text\r\nand three", "第一行中文\n第二行中文内容"])
    assert dec.lang == ["en", "zh"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {REASON_NO_TEXT}),
        ("   \n\t ", {REASON_NO_TEXT}),
        ("!!! ??? ... ---", {REASON_NO_TEXT}),
        ("😀🎉🔥👍", {REASON_NO_TEXT}),
        ("。，！？《》", {REASON_NO_TEXT}),
        # mixed script: decided by the top label, kept or dropped with a reason
        ("This page is bilingual. 这个页面是双语的，包含中文和英文内容。 Thanks for reading.", {None, REASON_LOW_SCORE}),
        # a language fastText rarely sees (Old English) -> some non-kept label or low score
        ("Hwæt! We Gardena in geardagum, þeodcyninga, þrym gefrunon, hu ða æþelingas ellen fremedon.", {REASON_UNSUPPORTED, REASON_LOW_SCORE}),
        ((EN_CLEAN.replace("\n", " ") + " ") * 3000, {None}),  # 2 MB single line: only max_chars are scored
    ],
)
def test_bad_input_has_a_defined_outcome(ident: LanguageIdentifier, text: str, expected: set) -> None:
    dec = ident([text])
    assert dec.reason[0] in expected, (dec.lang, dec.score, dec.reason)
    assert 0.0 <= float(dec.score[0]) <= 1.0


def test_null_and_empty_batches(ident: LanguageIdentifier) -> None:
    dec = ident(pa.array([None, EN_CLEAN], pa.string()))
    assert dec.reason == [REASON_NO_TEXT, None]
    assert ident(pa.array([], pa.string())).lang == []
