from dedup.exact import group_edges, text_hashes, url_hashes
from dedup.normalize import normalize_text, normalize_url

import numpy as np


def test_url_normalisation_drops_scheme_www_slash_tracking_and_fragment() -> None:
    canon = normalize_url("http://example.com/a?a=1&b=2")
    assert canon == "example.com/a?a=1&b=2"
    for variant in (
        "https://www.Example.com/a/?b=2&a=1",
        "https://example.com/a?utm_source=news&a=1&b=2&fbclid=XYZ",
        "http://EXAMPLE.com:80/a/?a=1&gclid=1&b=2#section-3",
        "example.com/a?b=2&a=1&utm_campaign=spring",
    ):
        assert normalize_url(variant) == canon, variant


def test_url_normalisation_keeps_what_identifies_a_page() -> None:
    assert normalize_url("https://example.com/a?id=1") != normalize_url("https://example.com/a?id=2")
    assert normalize_url("https://example.com:8080/a") == "example.com:8080/a"
    assert normalize_url("https://blog.example.com/a") != normalize_url("https://example.com/a")
    assert normalize_url("") is None and normalize_url(None) is None and normalize_url("http://[broken") is None


def test_text_normalisation_is_case_width_and_whitespace_insensitive() -> None:
    assert normalize_text("Hello   World\n") == normalize_text("hello world") == "hello world"
    assert normalize_text("ＡＢＣ１") == "abc1"  # NFKC folds full-width forms
    assert normalize_text("hello world!") != normalize_text("hello world")


def test_hashes_missing_urls_never_match() -> None:
    h = url_hashes([None, "", "https://a.com/x", "http://www.a.com/x/"])
    assert h[0] == 0 and h[1] == 0 and h[2] == h[3] != 0
    t = text_hashes(["A  b", "a b", "a c"])
    assert t[0] == t[1] != t[2]


def test_group_edges_star_to_the_smallest_node() -> None:
    keys = np.array([5, 5, 5, 7, 0, 0, 9], dtype=np.uint64)
    nodes = np.array([30, 10, 20, 40, 50, 60, 70], dtype=np.int64)
    a, b = group_edges(keys, nodes)
    assert sorted(zip(a.tolist(), b.tolist())) == [(20, 10), (30, 10)]  # key 0 = missing, singletons no edge
