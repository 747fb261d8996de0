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


# ----------------------------------------------------------------------------- same values as the previous implementation


def _reference_shingle_sets(texts, langs, n_grams, char_n_grams, seed=0):
    """shingle_sets before the speed-up (regex script detection, NFKC per call, np.lexsort)."""
    import re
    import unicodedata
    from itertools import chain

    from dedup.hashing import hash_strings, mix64
    from dedup.shingles import _CJK_RE, _LETTER_RE, CJK_LANGS, CJK_TOKEN_RE, NON_CJK_LANGS_HINT, TOKEN_RE, _ngram_hashes

    def cjk_text(text):
        if not text:
            return False
        head = text[:2000]
        letters = len(_LETTER_RE.findall(head))
        return letters > 0 and len(_CJK_RE.findall(head)) / letters > 0.3

    def cjk_of(lang, text):
        if lang:
            base = re.split(r"[_\-]", lang.strip().lower(), maxsplit=1)[0]
            if base in CJK_LANGS:
                return True
            if base in NON_CJK_LANGS_HINT:
                return False
        return cjk_text(text)

    num_docs = len(texts)
    cjk = [cjk_of(lang, text) for text, lang in zip(texts, langs)]
    token_lists = [(CJK_TOKEN_RE if c else TOKEN_RE).findall(unicodedata.normalize("NFKC", t).casefold()) if t else [] for t, c in zip(texts, cjk)]
    lengths = np.fromiter((len(t) for t in token_lists), dtype=np.int64, count=num_docs)
    starts = np.zeros(num_docs, dtype=np.int64)
    starts[1:] = np.cumsum(lengths)[:-1]
    tok = hash_strings(chain.from_iterable(token_lists), seed=seed, count=int(lengths.sum()))
    n_of_doc = np.fromiter((char_n_grams if c else n_grams for c in cjk), dtype=np.int64, count=num_docs)
    all_h, all_d = [], []
    for n in np.unique(n_of_doc):
        sel = np.nonzero(n_of_doc == n)[0]
        h, d = _ngram_hashes(tok, starts[sel], lengths[sel], int(n))
        all_h.append(h)
        all_d.append(sel[d])
    h32 = (mix64(np.concatenate(all_h)) >> np.uint64(32)).astype(np.uint32)
    docs = np.concatenate(all_d)
    order = np.lexsort((h32, docs))
    h32, docs = h32[order], docs[order]
    keep = np.ones(len(h32), dtype=bool)
    keep[1:] = (h32[1:] != h32[:-1]) | (docs[1:] != docs[:-1])
    h32, docs = h32[keep], docs[keep]
    offsets = np.zeros(num_docs + 1, dtype=np.int64)
    np.cumsum(np.bincount(docs, minlength=num_docs), out=offsets[1:])
    return h32, offsets


def _awkward_corpus():
    import random

    from tasks.demo_crawl.compose import DocumentComposer, compose_other_lang

    rng = random.Random(7)
    texts, langs = [], []
    for lang in ("en", "zh"):
        comp = DocumentComposer(lang)
        for i in range(60):
            texts.append(comp.compose(rng).text())
            langs.append([lang, None, "zh_Hani" if lang == "zh" else "en-US", "xx"][i % 4])
    for lang in ("de", "ja", "ko", "ru"):
        for _ in range(10):
            texts.append(compose_other_lang(rng, lang))
            langs.append(None)
    texts += ["", None, "?!", "Hello", "ﬁne Ｆｕｌｌｗｉｄｔｈ ǅ Straße ΣΑΣ", "𝐁𝐨𝐥𝐝 math letters 𠀀𠀁 astral han", "😀 emoji only 😀",
              "数学" * 3 + "abc " * 20, "中" + " english" * 3, "mixed 中文中文 and more 字", "\u00a0\t\n", "a" * 5000 + " 中" * 900]
    langs += [None] * 12
    return texts, langs


def test_shingle_sets_equal_the_previous_implementation() -> None:
    from dedup.shingles import is_cjk_text

    texts, langs = _awkward_corpus()
    for n, c in ((5, 5), (3, 2), (1, 1)):
        v, o = shingle_sets(texts, langs, n, c, seed=1)
        rv, ro = _reference_shingle_sets(texts, langs, n, c, seed=1)
        assert np.array_equal(o, ro) and np.array_equal(v, rv)
    # script detection by code-point table = by regex, on every text and on every head length
    from dedup.shingles import _CJK_RE, _LETTER_RE

    def by_regex(t):
        letters = len(_LETTER_RE.findall(t[:2000])) if t else 0
        return letters > 0 and len(_CJK_RE.findall(t[:2000])) / letters > 0.3

    probes = [t for t in texts if t] + [t[:k] for t in texts if t for k in (1, 3, 10)] + ["中a", "中ab", "中abc", "1中2", "_中_", "中中中abcdefg"]
    assert [is_cjk_text(t) for t in probes] == [by_regex(t) for t in probes]
    assert any(is_cjk_text(t) for t in probes) and not all(is_cjk_text(t) for t in probes)


def test_pairwise_jaccard_equals_the_scalar_functions() -> None:
    from dedup.shingles import jaccard_bottom_k, jaccard_bottom_k_pairs, jaccard_pairs

    rng = np.random.default_rng(3)

    def csr(n):
        sets_ = []
        for i in range(n):
            size = [0, 1, 3, 40, 300, 700][i % 6]
            base = rng.integers(0, 2000 if i % 2 else 2**32, size=size, dtype=np.uint64)
            sets_.append(np.unique(base).astype(np.uint32))
        offsets = np.concatenate([[0], np.cumsum([len(x) for x in sets_])]).astype(np.int64)
        return sets_, np.concatenate(sets_) if sets_ else np.zeros(0, np.uint32), offsets

    A, va, oa = csr(60)
    B, vb, ob = csr(50)
    ia = rng.integers(0, 60, size=500)
    ib = rng.integers(0, 50, size=500)
    B[7], A[8] = A[8].copy(), A[8]  # identical and overlapping sets, not only random ones
    vb = np.concatenate(B); ob = np.concatenate([[0], np.cumsum([len(x) for x in B])]).astype(np.int64)
    ia[:3], ib[:3] = 8, 7
    got = jaccard_pairs(va, oa, ia, vb, ob, ib)
    want = np.array([jaccard_sorted(A[x], B[y]) for x, y in zip(ia, ib)])
    assert np.array_equal(got, want) and (got == 1.0).any() and ((got > 0) & (got < 1)).any()
    for k in (1, 16, 256):
        got = jaccard_bottom_k_pairs(va, oa, ia, vb, ob, ib, k)
        want = np.array([jaccard_bottom_k(A[x], B[y], k) for x, y in zip(ia, ib)])
        assert np.array_equal(got, want)
    assert len(jaccard_pairs(va, oa, ia[:0], vb, ob, ib[:0])) == 0
