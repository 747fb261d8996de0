"""Normalisation: UTF-8 validity (counted), NFC, control characters, whitespace and paragraphs, CJK."""

from __future__ import annotations

import pyarrow as pa
import pytest

from tasks.ops.normalize import (
    NormalizeConfig,
    decode_utf8,
    normalize_text,
    normalize_texts,
    scrub_surrogates,
    truncate_utf8,
)


def test_invalid_utf8_is_replaced_and_counted() -> None:
    text, n = decode_utf8(b"caf\xc3\xa9 \xff\xfe ok \xe4\xb8")  # two bad sequences + a cut 3-byte char
    assert text.startswith("café ") and text.endswith(" ok \ufffd")
    assert n == 3
    assert decode_utf8("already \ufffd here".encode()) == ("already \ufffd here", 0)  # a literal U+FFFD is not an error
    assert decode_utf8(b"\xff" + "\ufffd".encode()) == ("\ufffd\ufffd", 1)


def test_lone_surrogates_become_replacement_characters() -> None:
    assert scrub_surrogates("a\udc80b\ud800") == ("a\ufffdb\ufffd", 2)
    assert scrub_surrogates("中文 ok") == ("中文 ok", 0)
    assert normalize_text("x\udc80y") == "x\ufffdy"


def test_nfc_composes_but_full_width_and_cjk_are_preserved() -> None:
    assert normalize_text("cafe\u0301") == "caf\u00e9"
    cjk = "ＡＢＣ１２３，全角标点：「引号」！？（括号）……——《书名》"
    assert normalize_text(cjk) == cjk  # NFKC would fold these; NFC must not
    assert normalize_text("한국어 日本語のテキスト。") == "한국어 日本語のテキスト。"


def test_control_characters_removed_newline_and_tab_kept() -> None:
    assert normalize_text("a\x00b\x07c\x1bd\x7fe\x9ff\ufeffg") == "abcdefg"
    assert normalize_text("col1\tcol2\nrow") == "col1\tcol2\nrow"


def test_whitespace_collapses_and_paragraph_breaks_survive() -> None:
    raw = "  Title  \r\n\r\n\r\n\r\nFirst\u00a0\u00a0 line\u2003here.   \nsecond line \t \t x\n\n\n\n  Next paragraph.  \n\n"
    assert normalize_text(raw) == "Title\n\nFirst line here.\nsecond line\tx\n\nNext paragraph."
    assert normalize_text("a\u2029b\u2028c\rd") == "a\n\nb\nc\nd"
    assert normalize_text("\u3000\u3000第一段。\u3000内文\n\n\n第二段，\u3000 全角！") == "第一段。\u3000内文\n\n第二段，\u3000 全角！"
    assert normalize_text(" \n\t\n \u3000 ") == ""


def test_config_switches() -> None:
    keep_all = NormalizeConfig(collapse_whitespace=False, max_blank_lines=-1)
    assert normalize_text("a  b\n\n\n\nc", keep_all) == "a  b\n\n\n\nc"
    assert normalize_text("a\n\n\n\nb", NormalizeConfig(max_blank_lines=2)) == "a\n\n\nb"
    assert normalize_text("e\u0301", NormalizeConfig(nfc=False)) == "e\u0301"


def test_batch_matches_single_and_keeps_nulls() -> None:
    texts = ["  a  b ", None, "x\r\ny", "中文，\n\n\n标点。", ""]
    out = normalize_texts(pa.array(texts, pa.large_string())).to_pylist()
    assert out == [None if t is None else normalize_text(t) for t in texts]
    assert out[1] is None and out[4] == ""
    chunked = pa.chunked_array([pa.array(texts[:2]), pa.array(texts[2:])])
    assert normalize_texts(chunked).to_pylist() == out


@pytest.mark.parametrize("limit", [1, 5, 10, 11, 100])
def test_truncate_utf8_respects_the_byte_cap_on_character_boundaries(limit: int) -> None:
    text = "中文abc" * 10
    cut = truncate_utf8(text, limit)
    assert len(cut.encode()) <= limit and text.startswith(cut)
    assert truncate_utf8("short", 100) == "short"


def test_truncate_prefers_a_line_break_near_the_end() -> None:
    text = "p" * 90 + "\n" + "q" * 100
    assert truncate_utf8(text, 100) == "p" * 90
    assert truncate_utf8("p" * 10 + "\n" + "q" * 100, 100) == ("p" * 10 + "\n" + "q" * 100)[:100]
