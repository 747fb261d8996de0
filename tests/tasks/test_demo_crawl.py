"""The built-in demo crawl: determinism, completeness of the ground truth, planted phenomena.

    python -m pytest -q tests/tasks/test_demo_crawl.py
"""

from __future__ import annotations

import gzip
import html
import hashlib
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import trafilatura
from typer.testing import CliRunner
from warcio.archiveiterator import ArchiveIterator

from tasks.demo_crawl import generate_demo_crawl
from tasks.demo_crawl.banks import real_documents
from tasks.demo_crawl.junk import JUNK_GENERATORS

OTHER_LANGS = {"fr", "de", "es", "ru", "ja", "ko"}
CORRUPT_TYPES = {"broken_json", "text_number", "text_null", "missing_text", "invalid_utf8"}


# -- independent re-implementations (not imported from the generator on purpose) -------------
def shingle_set(text: str, lang: str) -> set[str]:
    units = list(re.sub(r"\s+", "", text)) if lang == "zh" else re.findall(r"\w+", text.lower())
    sep = "" if lang == "zh" else " "
    if len(units) < 5:
        return {sep.join(units)} if units else set()
    return {sep.join(units[i : i + 5]) for i in range(len(units) - 4)}


def ingest_id(basename: str, line: int) -> str:
    """Ingest's id for an id-less JSONL record on 1-based ``line`` (tasks/readers/ids.py: 0-based index)."""
    return "doc-" + hashlib.sha1(f"{basename}:{line - 1}".encode()).hexdigest()[:24]


def tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


# -- fixtures ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def crawl(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("demo") / "crawl"
    return out, generate_demo_crawl(str(out))  # the default size: 2,000 pages, 3 dumps, seed 0


@pytest.fixture(scope="module")
def truth(crawl) -> list[dict]:
    out, _ = crawl
    return [json.loads(line) for line in (out / "ground_truth.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def jsonl_lines(crawl) -> dict[tuple[str, int], bytes]:
    """(relative file, 1-based line) -> raw line bytes, for every JSONL part."""
    out, summary = crawl
    lines = {}
    for rel in summary["files"]:
        if rel.endswith(".jsonl.gz"):
            with gzip.open(out / rel, "rb") as f:
                for number, raw in enumerate(f.read().split(b"\n")[:-1], start=1):
                    lines[(rel, number)] = raw
    return lines


@pytest.fixture(scope="module")
def warc_records(crawl) -> dict[str, tuple[str, bytes, str]]:
    """WARC-Record-ID (no brackets) -> (target URI, HTML payload, relative file) for every response."""
    out, summary = crawl
    records = {}
    for rel in summary["warc_files"]:
        with open(out / rel, "rb") as f:
            for record in ArchiveIterator(f):
                if record.rec_type == "response":
                    rid = record.rec_headers.get_header("WARC-Record-ID").strip("<>")
                    records[rid] = (record.rec_headers.get_header("WARC-Target-URI"), record.content_stream().read(), rel)
    return records


@pytest.fixture(scope="module")
def texts(truth, jsonl_lines) -> dict[str, str]:
    """id -> text for every parseable JSONL page."""
    out = {}
    for row in truth:
        if row["format"] == "jsonl" and row["kind"] != "corrupt":
            out[row["id"]] = json.loads(jsonl_lines[(row["file"], row["line"])])["text"]
    return out


# -- tests ------------------------------------------------------------------------------------
def test_same_seed_gives_identical_bytes_and_other_seed_differs(crawl, tmp_path: Path) -> None:
    out, summary = crawl
    again = generate_demo_crawl(str(tmp_path / "again"))
    assert tree_digest(tmp_path / "again") == tree_digest(out)
    assert {k: v for k, v in again.items() if k not in ("out", "ground_truth", "readme")} == \
        {k: v for k, v in summary.items() if k not in ("out", "ground_truth", "readme")}
    generate_demo_crawl(str(tmp_path / "other"), num_docs=300, num_dumps=2, seed=1)
    generate_demo_crawl(str(tmp_path / "other0"), num_docs=300, num_dumps=2, seed=0)
    assert tree_digest(tmp_path / "other") != tree_digest(tmp_path / "other0")


def test_counts_and_language_mix(crawl, truth) -> None:
    out, summary = crawl
    assert summary["num_pages"] == 2000
    assert summary["num_records"] == len(truth) == 2000 + sum(r["kind"] == "corrupt" for r in truth)
    assert sorted({r["dump"] for r in truth}) == ["dump-00", "dump-01", "dump-02"]
    assert all(600 <= n <= 720 for n in summary["by_dump"].values())
    langs = Counter(r["lang"] for r in truth if r["kind"] != "corrupt")
    assert 0.50 <= langs["en"] / 2000 <= 0.62
    assert 0.30 <= langs["zh"] / 2000 <= 0.42
    assert set(langs) - {"en", "zh"} == OTHER_LANGS
    assert sum(langs[lang] for lang in OTHER_LANGS) == summary["by_kind"]["other_lang"]
    assert summary["by_kind"]["clean"] >= 800  # 60% of dump-00; later dumps also re-crawl 25% (recrawl_fraction)
    assert (out / "README.txt").read_text(encoding="utf-8").count("ground_truth.jsonl") >= 1
    for rel in summary["files"]:
        assert re.fullmatch(r"dump-\d\d/(part-\d{4}\.jsonl\.gz|crawl-\d{4}\.warc\.gz)", rel) and (out / rel).is_file()


def test_ground_truth_has_one_row_per_record(truth, jsonl_lines, warc_records) -> None:
    rows_by_place = {(r["file"], r["line"]): r for r in truth if r["format"] == "jsonl"}
    assert set(rows_by_place) == set(jsonl_lines)  # every JSONL line has exactly one row, and no extra rows
    warc_rows = {r["id"]: r for r in truth if r["format"] == "warc"}
    assert set(warc_rows) == set(warc_records)
    ids = [r["id"] for r in truth if r["id"] is not None]
    assert len(ids) == len(set(ids))
    for (rel, line), raw in jsonl_lines.items():
        row = rows_by_place[(rel, line)]
        try:
            record = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            record = None
        if row["kind"] == "corrupt":
            assert record is None or not isinstance(record.get("text"), str) or row["corrupt_type"] == "invalid_utf8"
            if record is not None and "id" in record:
                assert row["id"] == record["id"]
            continue
        assert isinstance(record["text"], str) and record["text"].strip()
        assert record["url"] == row["url"] and record["dump"] == row["dump"] == rel.split("/")[0]
        if "id" in record:
            assert row["id"] == record["id"] and row["id_in_record"]
        else:
            assert row["id"] == ingest_id(Path(rel).name, line) and not row["id_in_record"]
    for rid, (uri, _, rel) in warc_records.items():
        assert warc_rows[rid]["url"] == uri and warc_rows[rid]["file"] == rel


def test_every_phenomenon_is_planted(truth) -> None:
    kinds = Counter(r["kind"] for r in truth)
    assert set(kinds) == {"clean", "exact_dup", "near_dup", "junk", "other_lang", "corrupt"}
    assert {r["junk_type"] for r in truth if r["kind"] == "junk"} == set(JUNK_GENERATORS)
    assert {r["lang"] for r in truth if r["kind"] == "junk"} == {"en", "zh"}
    for rel in {r["file"] for r in truth if r["format"] == "jsonl"}:  # every part file has every kind of corruption
        assert {r["corrupt_type"] for r in truth if r["file"] == rel and r["kind"] == "corrupt"} == CORRUPT_TYPES
    assert any(r["kind"] == "corrupt" and r["id"] is None for r in truth)
    assert sum(not r["id_in_record"] and r["kind"] != "corrupt" for r in truth) >= 20
    for kind in ("exact_dup", "near_dup"):
        rows = [r for r in truth if r["kind"] == kind]
        assert any(r["cross_dump"] for r in rows) and any(r["cross_dump"] is False for r in rows)
    dups = [r for r in truth if r["kind"] in ("exact_dup", "near_dup")]
    assert sum(r["cross_dump"] for r in dups) > 0.4 * len(dups)  # cross-dump duplication is substantial
    near = [r["near_dup_jaccard"] for r in truth if r["kind"] == "near_dup"]
    assert sum(j > 0.8 for j in near) >= 50 and sum(0.5 <= j <= 0.8 for j in near) >= 50
    assert all(0.5 <= j < 1.0 for j in near)
    popular = Counter(r["duplicate_of"] for r in dups)
    assert max(popular.values()) >= 3  # some pages are re-crawled again and again
    assert any(r["kind"] == "exact_dup" and r["format"] == "warc" for r in truth)


def test_duplicates_point_to_earlier_clean_originals(truth, texts, warc_records) -> None:
    order = {r["id"]: i for i, r in enumerate(truth) if r["id"] is not None}
    by_id = {r["id"]: r for r in truth if r["id"] is not None}
    variants = Counter()
    for i, row in enumerate(truth):
        if row["kind"] not in ("exact_dup", "near_dup"):
            assert row["duplicate_of"] is None
            continue
        original = by_id[row["duplicate_of"]]
        assert original["kind"] == "clean" and order[original["id"]] < i and original["lang"] == row["lang"]
        assert row["cross_dump"] == (original["dump"] != row["dump"])
        if row["kind"] == "exact_dup":
            if row["format"] == "jsonl":
                assert texts[row["id"]] == texts[original["id"]]
            else:
                assert warc_records[row["id"]][1] == warc_records[original["id"]][1]
        if row["url"] != original["url"]:
            variants.update(k for k, hit in (("utm", "utm_" in row["url"]), ("fragment", "#" in row["url"]),
                                             ("scheme", row["url"].split(":")[0] != original["url"].split(":")[0])) if hit)
    assert set(variants) == {"utm", "fragment", "scheme"}


def test_recorded_near_dup_jaccard_matches_recomputation(truth, texts) -> None:
    for row in truth:
        if row["kind"] == "near_dup":
            a = shingle_set(texts[row["id"]], row["lang"])
            b = shingle_set(texts[row["duplicate_of"]], row["lang"])
            value = len(a & b) / len(a | b)
            assert row["near_dup_jaccard"] == pytest.approx(value, abs=1e-6), row["id"]


def test_clean_documents_are_not_near_duplicates_of_each_other(truth, texts) -> None:
    for lang in ("en", "zh"):
        ids = [r["id"] for r in truth if r["kind"] == "clean" and r["lang"] == lang and r["format"] == "jsonl"]
        sets = [shingle_set(texts[i], lang) for i in ids]
        postings: dict[str, list[int]] = defaultdict(list)
        for i, s in enumerate(sets):
            for g in s:
                postings[g].append(i)
        values = []
        for i, s in enumerate(sets):
            shared = Counter(j for g in s for j in postings[g] if j > i)
            values += [k / (len(s) + len(sets[j]) - k) for j, k in shared.items()]
        values.sort()
        assert len(ids) > 300
        assert values[-1] < 0.45, f"{lang}: two clean documents have shingle Jaccard {values[-1]:.2f}"
        assert values[int(0.999 * len(values))] < 0.3


def test_urls_sit_on_language_and_topic_domains(truth) -> None:
    host = lambda url: url.split("://", 1)[1].split("/", 1)[0]  # noqa: E731
    pages = [r for r in truth if r["kind"] != "corrupt"]
    assert all(host(r["url"]).endswith(".cn") for r in pages if r["lang"] == "zh")
    assert not any(host(r["url"]).endswith(".cn") for r in pages if r["lang"] == "en")
    groups = {r["domain_group"] for r in pages if r["kind"] == "clean"}
    assert groups == {"news", "encyclopedia", "forum", "other"}  # real text: no code or academic pages
    clean_urls = [r["url"] for r in pages if r["kind"] == "clean"]
    assert len(clean_urls) == len(set(clean_urls))


def _is_run_of_sentences(paragraph: str, by_prefix: dict[str, list[str]], joiner: str) -> bool:
    """``paragraph`` is ``joiner``-joined sentences, each one of the indexed ones (longest match first)."""
    if not paragraph:
        return True
    for sentence in by_prefix.get(paragraph[:1], []):
        if paragraph == sentence or (paragraph.startswith(sentence + joiner)
                                     and _is_run_of_sentences(paragraph[len(sentence + joiner):], by_prefix, joiner)):
            return True
    return False


def test_clean_pages_are_real_vendored_text(truth, texts) -> None:
    """Every paragraph of a clean JSONL page is a run of sentences of the vendored real text, from every corpus."""
    sources: dict[str, Counter] = {"en": Counter(), "zh": Counter()}
    for lang in ("en", "zh"):
        by_prefix: dict[str, list[str]] = defaultdict(list)
        for sentence in sorted({s for d in real_documents(lang) for p in d.paragraphs for s in p}, key=len, reverse=True):
            by_prefix[sentence[:1]].append(sentence)
        for row in truth:
            if row["kind"] == "clean" and row["format"] == "jsonl" and row["lang"] == lang:
                title, *paragraphs = texts[row["id"]].split("\n\n")
                joiner = "" if lang == "zh" else " "
                assert paragraphs and all(_is_run_of_sentences(p, by_prefix, joiner) for p in paragraphs), row["id"]
                sources[lang][row["source"].split("/", 1)[0]] += 1
    assert set(sources["en"]) == {"wikitext2", "ud_ewt", "shakespeare"}, sources
    assert set(sources["zh"]) == {"hongloumeng", "cmrc2018", "cmrc2019", "ud_gsdsimp"}, sources


def test_warc_pages_have_boilerplate_around_extractable_text(truth, warc_records) -> None:
    rows = {r["id"]: r for r in truth if r["format"] == "warc"}
    clean = [rid for rid in warc_records if rows[rid]["kind"] == "clean"]
    assert len(clean) >= 5
    for rid in clean[:5]:
        page = warc_records[rid][1].decode("utf-8")
        assert "<nav>" in page and "<footer>" in page and 'class="cookie-banner"' in page and "<article>" in page
        extracted = trafilatura.extract(page) or ""
        first_paragraph = re.search(r"<p>([^<]{20,})</p>", page.split("<article>", 1)[1]).group(1)
        assert html.unescape(first_paragraph)[:20] in extracted
    other = {rows[rid]["kind"] for rid in warc_records}
    assert {"clean", "exact_dup"} <= other


def test_cli_writes_a_crawl_and_rejects_bad_sizes(tmp_path: Path) -> None:
    from flows.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["demo-data", str(tmp_path / "c"), "--docs", "200", "--dumps", "2", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "demo crawl written" in result.output
    assert (tmp_path / "c" / "ground_truth.jsonl").is_file() and list((tmp_path / "c").glob("dump-01/*.jsonl.gz"))
    assert runner.invoke(app, ["demo-data", str(tmp_path / "d"), "--docs", "5"]).exit_code == 2
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "keep.txt").write_text("not a crawl")
    assert runner.invoke(app, ["demo-data", str(tmp_path / "foreign"), "--docs", "100"]).exit_code == 2
    assert (tmp_path / "foreign" / "keep.txt").read_text() == "not a crawl"


@pytest.mark.slow
def test_ingest_keeps_every_page_under_its_ground_truth_id(ray_cluster, tmp_path: Path) -> None:
    """The cross-branch contract: ids (given, derived, WARC) and quarantine places line up with ingest."""
    from storage import open_dataset
    from tasks.ingest import IngestConfig, run_ingest

    out = tmp_path / "crawl"
    generate_demo_crawl(str(out), num_docs=100, num_dumps=2, seed=5)
    rows = [json.loads(line) for line in (out / "ground_truth.jsonl").read_text(encoding="utf-8").splitlines()]
    # ground_truth.jsonl sits in OUT, so ingest the dump directories, not OUT itself
    ds = open_dataset(run_ingest([str(out / "dump-*")], str(tmp_path / "ingest"), IngestConfig(), executor="ray"))
    kept = ds.read_all("data", columns=["id", "source"])
    expected = {r["id"] for r in rows if r["kind"] != "corrupt" or r["corrupt_type"] == "invalid_utf8"}
    assert set(kept.column("id").to_pylist()) == expected
    assert set(kept.column("source").to_pylist()) == {"dump-00", "dump-01"}
    quarantined = sum(r["kind"] == "corrupt" and r["corrupt_type"] != "invalid_utf8" for r in rows)
    assert ds.manifest.counts.quarantined == quarantined and ds.manifest.counts.input == len(rows)


def test_recrawls_make_removal_rise_with_the_number_of_dumps(tmp_path: Path) -> None:
    """Like Common Crawl (DeepSeek LLM Table 1), later dumps re-fetch earlier pages (same URL, some edited),
    so the share of duplicates among the first k dumps grows with k."""
    generate_demo_crawl(str(tmp_path / "c"), num_docs=1500, num_dumps=5, seed=4)
    rows = [json.loads(line) for line in (tmp_path / "c" / "ground_truth.jsonl").read_text(encoding="utf-8").splitlines()]
    rows = [r for r in rows if r["kind"] != "corrupt"]
    dumps = sorted({r["dump"] for r in rows})
    share = []
    for k in range(1, len(dumps) + 1):
        inside = [r for r in rows if r["dump"] in dumps[:k]]
        share.append(sum(r["kind"] in ("exact_dup", "near_dup") for r in inside) / len(inside))
    assert all(b > a for a, b in zip(share, share[1:])), share
    assert share[-1] > share[0] + 0.15, share
    recrawls = [r for r in rows if r["cross_dump"] and r["url"] == next(o["url"] for o in rows if o["id"] == r["duplicate_of"])]
    assert {r["kind"] for r in recrawls} == {"exact_dup", "near_dup"}  # same URL, unchanged or edited
