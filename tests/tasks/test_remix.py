"""remix: domain labels without network, planned rates, deterministic sampling, conservation, mixture stats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from storage import open_dataset
from tasks.config import parse
from tasks.ops.remix import Cell, DomainGrouper, RemixConfig, copies_of, plan_rates, with_metadata
from tasks.ops.tokenize import TokenizeConfig
from tasks.ops.tokenizer_training import TokenizerTrainConfig
from tasks.remix import run_remix
from tasks.tokenize import run_tokenize
from tasks.train_tokenizer import run_train_tokenizer
from tests.tasks.tokens_fixtures import make_documents, write_documents

TARGETS = {"en": {"news": 0.4, "encyclopedia": 0.2, "forum": 0.1, "code": 0.1, "academic": 0.1, "other": 0.1},
           "*": {"news": 0.5, "other": 0.5}}


def test_domain_groups_from_bundled_suffix_list() -> None:
    g = DomainGrouper(RemixConfig().groups)
    assert g.label("https://www.bbc.co.uk/news/1") == ("bbc.co.uk", "news")
    assert g.label("https://zh.wikipedia.org/wiki/x") == ("wikipedia.org", "encyclopedia")
    assert g.label("https://news.sina.com.cn/c/1.shtml") == ("sina.com.cn", "news")
    assert g.label("https://cs.stanford.edu/x") == ("stanford.edu", "academic")
    assert g.label("https://foo.github.io/x") == ("github.io", "code")
    assert g.label("https://forum.example.com/t/1") == ("example.com", "forum")
    assert g.label("https://shop.example.com/") == ("example.com", "other")
    assert g.label(None) == ("", "other") and g.label("not a url") == ("", "other")
    custom = DomainGrouper({"mine": ["source:dump-01"]})
    assert custom.label("https://x.org", "dump-01")[1] == "mine" and custom.label("https://x.org", "dump-00")[1] == "other"


def test_plan_rates_hits_targets_and_renormalises_missing_groups() -> None:
    cfg = RemixConfig(targets={"en": {"news": 0.5, "other": 0.3, "code": 0.2}})
    cells = {"en": {"news": Cell(10, 100), "other": Cell(90, 900)}, "fr": {"other": Cell(5, 50)}}
    plan = plan_rates(cells, cfg)
    # code has no data: its 0.2 is spread over news/other -> 0.625 / 0.375 of 1000 bytes
    assert plan["en"]["news"]["rate"] == pytest.approx(6.25) and plan["en"]["other"]["rate"] == pytest.approx(375 / 900)
    assert plan["en"]["code"] == {"share": 0.2, "effective_share": 0.0, "rate": 0.0}
    assert plan["fr"]["other"]["rate"] == 1.0  # no targets for fr and no "*": unchanged


def test_copies_are_deterministic_and_capped() -> None:
    cfg = RemixConfig(max_repeats=3, seed=1)
    ids = [f"d{i}" for i in range(4000)]
    assert [copies_of(i, 0.25, cfg) for i in ids] == [copies_of(i, 0.25, cfg) for i in ids]
    assert sum(copies_of(i, 0.25, cfg) for i in ids) / len(ids) == pytest.approx(0.25, abs=0.03)
    assert sum(copies_of(i, 1.5, cfg) for i in ids) / len(ids) == pytest.approx(1.5, abs=0.03)
    assert {copies_of(i, 10.0, cfg) for i in ids} == {3}


def test_config_file_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "remix.yaml"
    bad.write_text("targets:\n  en: {news: 1.0, sport: 0.5}\n")
    with pytest.raises(ValueError, match=r"remix.yaml: invalid RemixConfig: .*targets\['en'\] names groups \['sport'\]"):
        parse(RemixConfig, str(bad))
    bad.write_text("target: {}\n")
    with pytest.raises(ValueError, match=r"remix.yaml: unknown key 'target' \(did you mean 'targets'\?\)"):
        parse(RemixConfig, str(bad))
    bad.write_text("targets: {en: {news: high}}\n")
    with pytest.raises(ValueError, match=r"remix.yaml: 'targets.en.news' should be a valid number, got 'high'"):
        parse(RemixConfig, bad)
    assert parse(RemixConfig, str(Path(__file__).parents[2] / "configs" / "remix.yaml")).max_repeats == 3


def test_metadata_keeps_existing_fields() -> None:
    assert json.loads(with_metadata('{"a": 1}', group="news")) == {"a": 1, "group": "news"}
    assert json.loads(with_metadata("not json", group="x")) == {"original": "not json", "group": "x"}


@pytest.fixture(scope="module")
def remixed(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict], str]:
    root = tmp_path_factory.mktemp("remix")
    docs = make_documents(num_en=120, num_zh=60, hard=False)
    uri = write_documents(root / "docs", docs, shards=3)
    return docs, run_remix(uri, str(root / "remix"), RemixConfig(targets=TARGETS, max_repeats=3), executor="local")


def test_remix_output_conserves_and_records_the_mixture(remixed: tuple[list[dict], str]) -> None:
    docs, uri = remixed
    ds = open_dataset(uri, kind="documents")
    m = ds.manifest
    data, repeats, dropped = ds.read_all("data"), ds.read_all("repeats"), ds.read_all("dropped")
    # conservation over distinct documents; repeats are extra rows of kept documents
    assert m.counts.input == len(docs) == data.num_rows + dropped.num_rows
    assert m.counts.dropped == {"remix_downsampled": dropped.num_rows} and m.stats["repeats"] == repeats.num_rows > 0
    assert set(repeats.column("id").to_pylist()) <= set(data.column("id").to_pylist())
    assert set(data.column("id").to_pylist()).isdisjoint(dropped.column("id").to_pylist())
    assert set(dropped.column("reason").to_pylist()) == {"remix_downsampled"}
    metas = [json.loads(x) for x in data.column("metadata").to_pylist()]
    assert all(x["group"] in TARGETS["en"] for x in metas) and all("domain" in x for x in metas)
    assert {json.loads(x)["remix_copy"] for x in repeats.column("metadata").to_pylist()} <= {2, 3}
    rows = {(r["lang"], r["group"]): r for r in m.stats["mixture"]["rows"]}
    en_news = rows[("en", "news")]
    assert en_news["byte_share_after"] > en_news["byte_share_before"]  # the under-represented group grew
    assert sum(r["docs_after"] for r in rows.values()) == data.num_rows + repeats.num_rows
    assert sum(r["docs_before"] for r in rows.values()) == len(docs)
    assert m.stats["by_lang"]["en"]["input"] == 120


def test_tokenize_reads_repeats_and_reports_groups(remixed: tuple[list[dict], str], tmp_path: Path) -> None:
    _, uri = remixed
    tok = run_train_tokenizer(uri, str(tmp_path / "tok"), TokenizerTrainConfig(
        vocab_size=600, character_coverage=0.99, heldout_fraction=0.1, num_threads=1))
    tokens = open_dataset(run_tokenize(uri, tok, str(tmp_path / "tokens"), TokenizeConfig(val_fraction=0.1),
                                       executor="local")).manifest
    remix = open_dataset(uri).manifest
    assert tokens.counts.input == remix.stats["rows_with_repeats"]
    docs_by_group = tokens.stats["docs"]["by_group"]
    after = {}
    for r in remix.stats["mixture"]["rows"]:
        after[r["group"]] = after.get(r["group"], 0) + r["docs_after"]
    assert {g: v["train"] + v["val"] for g, v in docs_by_group.items()} == {g: n for g, n in after.items() if n}


def test_remix_on_real_common_crawl_urls(shared_data: Path, tmp_path: Path) -> None:
    import gzip

    path = shared_data / "web_text_commoncrawl_dolma" / "CC-MAIN-20190717121559-20190717143559-00140.jsonl.gz"
    docs = []
    for line in gzip.open(path, "rt", encoding="utf-8"):
        r = json.loads(line)
        docs.append({"id": r["id"], "text": r["text"], "url": r["metadata"]["url"], "lang": "web", "source": "cc-2019-30"})
    uri = write_documents(tmp_path / "docs", docs, shards=2)
    targets = {"*": {"other": 0.5, "encyclopedia": 0.2, "forum": 0.1, "academic": 0.1, "code": 0.05, "news": 0.05}}
    out = run_remix(uri, str(tmp_path / "remix"), RemixConfig(targets=targets, max_repeats=4), executor="local")
    m = open_dataset(out).manifest
    rows = {r["group"]: r for r in m.stats["mixture"]["rows"]}
    # real URLs (no scheme) land in several groups via the bundled suffix list
    assert {g for g, r in rows.items() if r["docs_before"] > 0} >= {"other", "encyclopedia", "forum", "academic", "code"}
    assert rows["other"]["byte_share_before"] > 0.6 and rows["other"]["byte_share_after"] < rows["other"]["byte_share_before"]
    assert rows["forum"]["byte_share_after"] > rows["forum"]["byte_share_before"]
    assert m.counts.input == len(docs) and m.counts.is_conserved()
