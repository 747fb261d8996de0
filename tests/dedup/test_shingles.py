import numpy as np

from dedup.shingles import is_cjk, jaccard_sorted, shingle_sets, tokenize


def sets(texts, langs=None, n=5, c=5):
    values, offsets = shingle_sets(texts, langs or [None] * len(texts), n, c)
    return [values[offsets[i] : offsets[i + 1]] for i in range(len(texts))]


def test_tokens_cjk_chars_one_by_one_words_whole() -> None:
    assert tokenize("Hello, World! 你好世界 abc123") == ["hello", "world", "你", "好", "世", "界", "abc123"]
    assert tokenize("") == [] and tokenize(None) == [] and tokenize("!!! ...") == []


def test_language_from_column_then_script() -> None:
    assert is_cjk("zh", "plain ascii") and is_cjk("zh_Hani", "") and is_cjk("ja", "")
    assert not is_cjk("en", "中文中文中文中文")  # the lang column wins
    assert is_cjk(None, "今天天气很好 ok") and not is_cjk(None, "mostly english words 一")


def test_defined_outcomes_for_short_and_empty_docs() -> None:
    empty, punct, one, short, long_ = sets(["", "?!", "Hello", "hello there world", "one two three four five six"])
    assert len(empty) == 0 and len(punct) == 0  # no shingles: exact/URL dedup only
    assert len(one) == 1 and len(short) == 1  # shorter than n: one shingle of all tokens
    assert len(long_) == 2  # 6 words -> 2 five-grams
    assert np.array_equal(sets(["HELLO!"])[0], one)  # case and punctuation do not matter


def test_chinese_without_punctuation_uses_char_ngrams() -> None:
    a = "今天天气很好我们一起去公园散步然后回家吃饭"
    b = a[:-2] + "睡觉"
    sa, sb = sets([a, b], ["zh", "zh"])
    assert len(sa) == len(a) - 4
    assert 0.7 < jaccard_sorted(sa, sb) < 1.0


def test_mixed_scripts_share_one_token_stream() -> None:
    a = "Python 是一种广泛使用的 programming language 它的设计哲学强调代码的可读性"
    sa, sb = sets([a, a.replace("Python", "python")])
    assert jaccard_sorted(sa, sb) == 1.0
    assert jaccard_sorted(*sets([a, a.replace("language", "tool")])) < 1.0


def test_shingles_are_deterministic_across_calls() -> None:
    texts = ["the cat sat on the mat today", "猫坐在垫子上"]
    assert all(np.array_equal(x, y) for x, y in zip(sets(texts), sets(texts)))
