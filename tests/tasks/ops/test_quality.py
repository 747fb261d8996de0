"""Heuristic quality filters: one input per drop reason, in English and Chinese."""

from __future__ import annotations

import pytest

from tasks.ops.quality import QualityChecker, QualityConfig, QualityFilter, chinese_quality, english_quality
from tests.tasks.filter_samples import EN_CLEAN, EN_SENTENCES, ZH_CLEAN, ZH_SENTENCES

EN = QualityChecker(english_quality())
ZH = QualityChecker(chinese_quality())
EN_BODY = " ".join(EN_SENTENCES)
ZH_BODY = "".join(ZH_SENTENCES)

NOUNS = (
    "garden river window kettle saddle lantern meadow harbor pencil ribbon castle orchard violin "
    "blanket carpet ladder mirror barrel candle basket feather helmet jacket marble needle pillow "
    "rocket shovel tunnel wallet anchor bucket cactus dragon engine falcon goblet hammock igloo "
    "jigsaw kayak lemon magnet napkin oyster parrot quilt radish sandal teapot umbrella vessel "
    "walrus yogurt zipper"
).split()
NAV_ZH = "首页新闻体育娱乐财经科技汽车房产旅游教育健康时尚游戏军事历史文化读书彩票视频图片论坛博客"

EN_CASES = {
    "gopher_short_doc": " ".join(EN_SENTENCES[:2]),
    "gopher_rep_dup_line_frac": "\n".join([EN_SENTENCES[0]] * 6 + EN_SENTENCES[1:4]),
    "gopher_rep_dup_para_frac": "\n\n".join([EN_SENTENCES[0]] * 4 + EN_SENTENCES[1:3]),
    "gopher_rep_top_2_gram": EN_BODY + " " + " ".join(["buy now"] * 60),
    "gopher_rep_duplicated_5_n_grams": EN_BODY + " " + " ".join(EN_SENTENCES[:3]) + " " + " ".join(EN_SENTENCES[:3]),
    "gopher_too_many_hashes": EN_BODY + " " + " ".join(f"#tag{i}" for i in range(40)),
    "gopher_too_many_bullets": "\n".join(f"- {s}" for s in EN_SENTENCES),
    "gopher_too_many_end_ellipsis": "\n".join(s[:-1] + "..." for s in EN_SENTENCES),
    "gopher_below_alpha_threshold": EN_BODY + " " + " ".join(str(1000 + 7 * i) for i in range(200)),
    "gopher_too_few_stop_words": " ".join(
        " ".join(NOUNS[i : i + 6]).capitalize() + "." for i in range(0, len(NOUNS), 6)
    ),
    "c4_lorem_ipsum": EN_CLEAN + "\nLorem ipsum dolor sit amet, consectetur adipiscing elit.",
    "c4_curly_brace": EN_CLEAN + "\nfunction main() { return window.location; } is the code we used.",
    "c4_too_few_sentences": "\n".join(EN_SENTENCES[:4]),
    "fineweb_short_line_ratio": EN_CLEAN + "\n" + "\n".join(" ".join(NOUNS[i : i + 3]) for i in range(0, 48, 3)),
    "quality_empty": "   \n  ",
}
ZH_CASES = {
    "gopher_short_doc": ZH_SENTENCES[0],
    "gopher_rep_dup_line_frac": "\n".join([ZH_SENTENCES[0]] * 6 + ZH_SENTENCES[1:4]),
    "gopher_rep_top_2_gram": ZH_BODY + "优惠" * 200,
    "gopher_too_many_bullets": "\n".join(f"• {s}" for s in ZH_SENTENCES),
    "gopher_too_many_end_ellipsis": "\n".join(s[:-1] + "……" for s in ZH_SENTENCES),
    "gopher_below_alpha_threshold": ZH_BODY + "".join(f"{1000 + 7 * i}，" for i in range(150)),
    "gopher_too_few_stop_words": "苹果手机，价格优惠。索尼相机，限时特价。小米耳机，包邮发货。联想电脑，全新正品。"
    "佳能镜头，低价促销。戴尔显示器，原装进口。罗技鼠标，现货秒发。",
    "c4_lorem_ipsum": ZH_CLEAN + "\nLorem ipsum dolor sit amet，这是占位文字。",
    "c4_curly_brace": ZH_CLEAN + "\n代码如下：function main() { return 1; } 请复制使用。",
    "fineweb_line_punct_ratio": "\n".join(f"{s[:-1]}及其他相关内容" for s in ZH_SENTENCES),
    "fineweb_short_line_ratio": ZH_CLEAN + "\n" + "\n".join(NAV_ZH[i : i + 2] + "。" for i in range(0, len(NAV_ZH), 2)),
}


def test_clean_documents_are_kept_unchanged() -> None:
    for checker, text in ((EN, EN_CLEAN), (ZH, ZH_CLEAN)):
        res = checker.check(text)
        assert res.reason is None, res
        assert res.text == text and res.removed_lines == 0


@pytest.mark.parametrize("reason", sorted(EN_CASES))
def test_english_reason(reason: str) -> None:
    res = EN.check(EN_CASES[reason])
    assert res.reason == reason, (res.reason, res.detail)


@pytest.mark.parametrize("reason", sorted(ZH_CASES))
def test_chinese_reason(reason: str) -> None:
    res = ZH.check(ZH_CASES[reason])
    assert res.reason == reason, (res.reason, res.detail)


def test_c4_removes_javascript_and_policy_lines_but_keeps_the_document() -> None:
    text = EN_CLEAN + "\nPlease enable JavaScript in your browser to see this page.\nThis site uses cookies to improve your visit."
    res = EN.check(text)
    assert res.reason is None
    assert res.removed_lines == 2
    assert "JavaScript" not in res.text and "cookies" not in res.text and EN_SENTENCES[0] in res.text
    zh = ZH.check(ZH_CLEAN + "\n继续访问即表示您同意我们的隐私政策和使用条款。")
    assert zh.reason is None and "隐私政策" not in zh.text and zh.removed_lines == 1


def test_chinese_is_not_judged_by_english_word_rules() -> None:
    # datatrove's English defaults drop clean Chinese (one "word" per sentence, no English stop words)
    assert EN.check(ZH_CLEAN).reason is not None
    assert ZH.check(ZH_CLEAN).reason is None
    # MediaWiki conversion markup -{...}- is not code
    assert ZH.check(ZH_CLEAN + "\n他出生于-{后}-汉时期的一个小村庄，后来成为著名的学者。").reason is None


def test_quality_filter_uses_language_config_and_default() -> None:
    qf = QualityFilter(QualityConfig())
    reasons = [r.reason for r in qf([EN_CLEAN, ZH_CLEAN, EN_CLEAN], ["en", "zh", "fr"])]
    assert reasons == [None, None, None]


@pytest.mark.parametrize(
    "text",
    ["", "\n\n\n", "!!!???...", "😀🎉😀🎉", "{" * 5000, "a" * 2_000_000, "x\n" * 50_000, "中" * 100_000, "\x00\x01\x02"],
)
def test_bad_input_has_a_defined_outcome(text: str) -> None:
    for checker in (EN, ZH):
        res = checker.check(text)
        assert res.reason is None or isinstance(res.reason, str)
        assert res.reason is not None  # none of these is a real document


def test_datatrove_compatible_config_decides_like_datatrove() -> None:
    from datatrove.data import Document
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )

    from tasks.ops.quality import datatrove_compatible_quality

    filters = [GopherRepetitionFilter(), GopherQualityFilter(), C4QualityFilter(filter_no_terminal_punct=False), FineWebQualityFilter()]
    ours = QualityChecker(datatrove_compatible_quality())
    texts = [EN_CLEAN] + [t for r, t in EN_CASES.items() if r != "quality_empty"]
    for text in texts:
        doc = Document(text=text, id="x")
        theirs = all(f.filter(doc) is True for f in filters)
        assert (ours.check(text).reason is None) == theirs, text[:80]


def test_english_default_counts_alpha_ratio_over_words(shared_data) -> None:
    from tasks.ops.quality import datatrove_compatible_quality
    from tasks.reference_texts import wikitext_articles

    docs = wikitext_articles(shared_data)[:40]
    ours = sum(EN.check(d).reason is None for d in docs) / len(docs)
    compat = QualityChecker(datatrove_compatible_quality())
    theirs = sum(compat.check(d).reason is None for d in docs) / len(docs)
    assert ours >= 0.85 and theirs < 0.3, (ours, theirs)
