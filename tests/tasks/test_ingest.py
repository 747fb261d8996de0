"""Ingest on every format and every kind of bad input, conservation, ids, sources, content
addressing, and the real public files in ../shared/data.

Fixtures are generated here into temporary directories. The multi-format crawl runs once on
the real local Ray cluster; the configuration variants (oversize policies) run in-process.
"""

from __future__ import annotations

import gzip
import io
import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from storage import open_dataset
from tasks.config import parse
from tasks.ingest import IngestConfig, run_ingest
from tasks.readers import derive_doc_id

EN_PARAGRAPHS = [
    "The river town woke slowly that spring, and the ferry kept its old timetable even after the new bridge opened upstream.",
    "Most of the passengers were farmers carrying crates of early vegetables, who preferred the ferry because it let them sell on the landing.",
    "The ferryman kept a ledger of every crossing since 1987, noting the weather, the height of the water and the price of onions.",
    "When the council proposed to end the service, the ledger became evidence: it showed that the crossing paid for itself in every dry year.",
    "In the end the town voted to keep the ferry for another decade, and the ferryman started a second ledger for the new passengers.",
]
ZH_PARAGRAPHS = [
    "这座小城的春天来得很慢，渡船在新桥通车以后仍然按照旧的时刻表运行。",
    "大多数乘客是带着早熟蔬菜的农民，他们更喜欢渡船，因为可以直接在码头上出售。",
    "摆渡人从一九八七年起记录每一次渡河，写下天气、水位和洋葱的价格。",
    "当议会提议停止渡船服务时，这本账簿成了证据：它表明渡船在每个干旱的年份都能自负盈亏。",
    "最后，小城投票决定再保留渡船十年，摆渡人也为新乘客开始了第二本账簿。",
]


def html_page(title: str, paragraphs: list[str], lang: str = "en", charset: str = "utf-8") -> str:
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="{charset}"><title>{title}</title></head><body>'
        f'<nav><a href="/">Home</a> | <a href="/about">About</a></nav>'
        f"<article><h1>{title}</h1>\n{body}</article>"
        f"<footer>Copyright 2024 Example Media. All rights reserved.</footer></body></html>"
    )


def write_jsonl(path: Path, records: list[dict], compress: str | None = None) -> None:
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()
    if compress == "gz":
        data = gzip.compress(data)
    elif compress == "zst":
        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)


def make_records(n: int, prefix: str) -> list[dict]:
    return [{"id": f"{prefix}-{i}", "text": f"{EN_PARAGRAPHS[i % 5]} (record {i})", "url": f"https://example.org/{prefix}/{i}"} for i in range(n)]


def write_warc(path: Path) -> dict[str, str]:
    """A WARC with the record kinds ingest must tell apart; returns {record id: expected outcome}."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    outcomes = {}
    with open(path, "wb") as fh:
        w = WARCWriter(fh, gzip=True)
        w.write_record(w.create_warcinfo_record("pages.warc.gz", {"software": "test"}))

        def response(n: int, url: str, body: bytes, ctype: str, status: str = "200 OK", outcome: str = "kept") -> None:
            rid = f"urn:uuid:00000000-0000-0000-0000-{n:012d}"
            http = StatusAndHeaders(status, [("Content-Type", ctype)], protocol="HTTP/1.1")
            rec = w.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http, warc_headers_dict={"WARC-Record-ID": f"<{rid}>"})
            w.write_record(rec)
            outcomes[rid] = outcome

        req = w.create_warc_record(
            "https://example.org/en", "request", payload=io.BytesIO(b""),
            http_headers=StatusAndHeaders("GET /en HTTP/1.1", [("Host", "example.org")], is_http_request=True),
        )
        w.write_record(req)
        response(1, "https://example.org/en", html_page("The ferry ledger", EN_PARAGRAPHS).encode(), "text/html; charset=utf-8")
        # a GBK page declared in the HTTP header: must decode to the same Chinese text
        response(2, "https://example.cn/zh", html_page("渡船账簿", ZH_PARAGRAPHS, "zh", "gbk").encode("gbk"), "text/html; charset=GBK")
        response(3, "https://example.org/logo.png", b"\x89PNG\r\n\x1a\n" + bytes(200), "image/png", outcome="ingest_not_html")
        response(4, "https://example.org/missing", html_page("Not found", ["Sorry."]).encode(), "text/html", "404 Not Found", "ingest_http_status")
        response(5, "https://example.org/empty", b"<html><body><script>var x = 1;</script></body></html>", "text/html", outcome="ingest_no_main_text")
    return outcomes


def write_wet(path: Path) -> None:
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as fh:
        w = WARCWriter(fh, gzip=True)
        w.write_record(w.create_warcinfo_record("pages.warc.wet.gz", {"software": "test"}))
        for n, text in enumerate(["\n".join(EN_PARAGRAPHS), "\n".join(ZH_PARAGRAPHS)]):
            rec = w.create_warc_record(
                f"https://example.org/wet/{n}", "conversion", payload=io.BytesIO(text.encode()),
                warc_content_type="text/plain", warc_headers_dict={"WARC-Record-ID": f"<urn:uuid:wet-{n}>"},
            )
            w.write_record(rec)


BAD_LINES = [
    b'{"id": "ok-1", "text": "A good record in a bad file.", "dump": "CC-BAD"}',
    b'{"text": "unterminated',
    b'{"text": 42}',
    b'{"text": null}',
    b'{"text": ["a", "b"]}',
    b'{"id": "no-text", "body": "x"}',
    b"[1, 2]",
    b"",
    b'{"id": "blank", "text": "   \\n\\t \\u3000 "}',
    b'{"id": "bad-bytes", "text": "invalid \xff\xfe bytes"}',
    b'{"id": "surrogate", "text": "lone \\udc80 surrogate"}',
]


@pytest.fixture(scope="module")
def crawl(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("crawl")
    d1 = root / "dump-01"
    d1.mkdir()
    write_jsonl(
        d1 / "good.jsonl",
        [
            {"id": "g-1", "text": "Caf\u0065\u0301 au lait\r\n\r\n\r\nSecond  paragraph.\x07", "url": "https://a.example/1", "dump": "CC-2024-01", "title": "T", "n": 1},
            {"text": "没有编号的中文文档，全角标点：「保留」！"},
            {"text": "Another record without an id.", "source": "wiki"},
        ],
    )
    write_jsonl(d1 / "more.jsonl.gz", make_records(40, "gz"), "gz")
    write_jsonl(d1 / "more.jsonl.zst", make_records(30, "zst"), "zst")

    d2 = root / "dump-02"
    d2.mkdir()
    (d2 / "bad.jsonl").write_bytes(b"\n".join(BAD_LINES) + b"\n")
    full = gzip.compress("".join(json.dumps(r) + "\n" for r in make_records(300, "tgz")).encode())
    (d2 / "truncated.jsonl.gz").write_bytes(full[: int(len(full) * 0.6)])
    # zstd decodes whole blocks (128 KB): enough records for several blocks
    zfull = zstandard.ZstdCompressor().compress("".join(json.dumps(r) + "\n" for r in make_records(3000, "tzst")).encode())
    (d2 / "truncated.jsonl.zst").write_bytes(zfull[: int(len(zfull) * 0.6)])
    (d2 / "empty.jsonl").write_bytes(b"")
    (d2 / "empty.jsonl.gz").write_bytes(gzip.compress(b""))
    junk = random.Random(0).randbytes(20_000)
    (d2 / "junk.jsonl.gz").write_bytes(junk)
    (d2 / "junk.parquet").write_bytes(junk)
    (d2 / "junk.warc.gz").write_bytes(junk)
    (d2 / "notes.txt").write_text("not an input type; skipped by the directory walk")

    pqd = root / "parquet"
    pqd.mkdir()
    pq.write_table(
        pa.table(
            {
                "text": ["parquet one", None, "", "parquet four", "parquet five"],
                "id": ["p1", "p2", "p3", None, "p5"],
                "url": ["u1", None, None, None, "u5"],
                "score": [0.1, 0.2, 0.3, 0.4, 0.5],
            }
        ),
        pqd / "docs.parquet",
        row_group_size=2,
    )
    pq.write_table(pa.table({"text": [1, 2, 3]}), pqd / "numbers.parquet")
    pq.write_table(pa.table({"body": ["x", "y"]}), pqd / "notext.parquet")

    wd = root / "warc"
    wd.mkdir()
    write_warc(wd / "pages.warc.gz")
    write_wet(wd / "pages.warc.wet.gz")
    data = (wd / "pages.warc.gz").read_bytes()
    (wd / "cut-body.warc.gz").write_bytes(data[: len(data) - 40])  # inside the last record's payload
    (wd / "cut-head.warc.gz").write_bytes(data[: len(data) - 150])  # inside the last record's headers

    hd = root / "html"
    hd.mkdir()
    (hd / "page.html").write_text(html_page("The ferry ledger", EN_PARAGRAPHS), encoding="utf-8")
    (hd / "page-zh.html.gz").write_bytes(gzip.compress(html_page("渡船账簿", ZH_PARAGRAPHS, "zh").encode()))
    return root


@pytest.fixture(scope="module")
def crawl_ds(crawl: Path, tmp_path_factory, ray_cluster):
    out = tmp_path_factory.mktemp("ingest-out")
    uri = run_ingest([str(crawl)], str(out), IngestConfig(rows_per_shard=25), executor="ray")
    ds = open_dataset(uri, kind="documents")
    ds.verify()
    return ds


def by_file(ds, crawl: Path, rel: str) -> dict:
    return ds.manifest.stats["by_file"][str(crawl / rel)]


def test_conservation_and_sections_agree(crawl_ds) -> None:
    m = crawl_ds.manifest
    c = m.counts
    assert c.is_conserved()
    assert c.input == c.kept + c.dropped_total + c.quarantined
    assert crawl_ds.read_all("data").num_rows == c.kept
    assert crawl_ds.read_all("dropped").num_rows == c.dropped_total
    assert crawl_ds.read_all("quarantine").num_rows == c.quarantined
    for name, f in m.stats["by_file"].items():
        assert f["input"] == f["kept"] + sum(f["dropped"].values()) + f["quarantined"], name
    assert sum(s["input"] for s in m.stats["by_source"].values()) == c.input
    assert m.stats["by_lang"] == {"unknown": {"input": c.input, "kept": c.kept, "dropped": c.dropped, "quarantined": c.quarantined}}
    assert max(s.rows for s in crawl_ds.shards("data")) <= 25  # rows_per_shard
    assert m.stats["num_skipped_files"] == 1 and m.stats["skipped_files"][0].endswith("notes.txt")
    ids = crawl_ds.read_all("data").column("id").to_pylist()
    repeated = {i for i in ids if ids.count(i) > 1}
    # the cut-*.warc.gz files are copies of pages.warc.gz (ingest does not deduplicate)
    assert repeated == {f"urn:uuid:00000000-0000-0000-0000-00000000000{n}" for n in (1, 2)}


def test_good_jsonl_ids_sources_metadata_and_normalisation(crawl_ds, crawl: Path) -> None:
    docs = {r["id"]: r for r in crawl_ds.read_all().to_pylist()}
    g1 = docs["g-1"]
    assert g1["text"] == "Caf\u00e9 au lait\n\nSecond paragraph."
    assert g1["source"] == "CC-2024-01" and g1["url"] == "https://a.example/1" and g1["lang"] is None
    assert json.loads(g1["metadata"]) == {"title": "T", "n": 1}
    zh = docs[derive_doc_id("good.jsonl", 1)]  # no id: derived from basename and 0-based line index
    assert zh["text"] == "没有编号的中文文档，全角标点：「保留」！" and zh["source"] == "dump-01"
    assert docs[derive_doc_id("good.jsonl", 2)]["source"] == "wiki"
    assert {f"gz-{i}" for i in range(40)} | {f"zst-{i}" for i in range(30)} <= set(docs)
    assert by_file(crawl_ds, crawl, "dump-01/more.jsonl.zst") == {"input": 30, "kept": 30, "dropped": {}, "quarantined": 0}


def test_bad_jsonl_lines_are_quarantined_with_line_and_preview(crawl_ds, crawl: Path) -> None:
    assert by_file(crawl_ds, crawl, "dump-02/bad.jsonl") == {"input": 10, "kept": 3, "dropped": {"ingest_empty_text": 1}, "quarantined": 6}
    q = [r for r in crawl_ds.read_all("quarantine").to_pylist() if r["source_file"].endswith("bad.jsonl")]
    errors = {r["line"]: r["error"] for r in q}
    assert "broken JSON" in errors[2]
    assert "'text' is a JSON int" in errors[3]
    assert "'text' is null" in errors[4]
    assert "'text' is a JSON list" in errors[5]
    assert "no 'text' field" in errors[6]
    assert "JSON list, expected an object" in errors[7]
    assert all(r["raw"] and r["offset"] is not None for r in q)
    assert next(r for r in q if r["line"] == 3)["raw"].strip() == '{"text": 42}'
    docs = {r["id"]: r for r in crawl_ds.read_all().to_pylist()}
    assert docs["ok-1"]["source"] == "CC-BAD"
    assert docs["bad-bytes"]["text"] == "invalid \ufffd\ufffd bytes"
    assert docs["surrogate"]["text"] == "lone \ufffd surrogate"
    assert crawl_ds.manifest.stats["invalid_utf8_replacements"] >= 3
    dropped = {r["id"]: r for r in crawl_ds.read_all("dropped").to_pylist()}
    assert dropped["blank"]["reason"] == "ingest_empty_text"


@pytest.mark.parametrize("name", ["truncated.jsonl.gz", "truncated.jsonl.zst"])
def test_truncated_compressed_files_keep_records_before_the_cut(crawl_ds, crawl: Path, name: str) -> None:
    f = by_file(crawl_ds, crawl, f"dump-02/{name}")
    total = 300 if name.endswith(".gz") else 3000
    assert 0.3 * total < f["kept"] < total
    q = [r for r in crawl_ds.read_all("quarantine").to_pylist() if r["source_file"].endswith(name)]
    trunc = [r for r in q if "EOFError" in r["error"]]
    assert len(trunc) == 1 and trunc[0]["offset"] > 0 and "records before were kept" in trunc[0]["error"]
    assert f["input"] == f["kept"] + f["quarantined"]  # the cut line (if any) plus the truncation entry
    prefix = "tgz" if name.endswith(".gz") else "tzst"
    ids = [i for i in crawl_ds.read_all().column("id").to_pylist() if i.startswith(prefix + "-")]
    assert sorted(ids, key=lambda s: int(s.split("-")[1])) == [f"{prefix}-{i}" for i in range(f["kept"])]


def test_empty_and_junk_files(crawl_ds, crawl: Path) -> None:
    stats = crawl_ds.manifest.stats
    for name in ("empty.jsonl", "empty.jsonl.gz"):
        assert by_file(crawl_ds, crawl, f"dump-02/{name}")["input"] == 0
        assert str(crawl / "dump-02" / name) in stats["empty_files"]
    q = {Path(r["source_file"]).name: r for r in crawl_ds.read_all("quarantine").to_pylist()}
    assert "binary data" in q["junk.jsonl.gz"]["error"]
    assert "not a readable Parquet file" in q["junk.parquet"]["error"]
    assert "unreadable WARC data" in q["junk.warc.gz"]["error"]
    for name in ("junk.jsonl.gz", "junk.parquet", "junk.warc.gz"):
        assert q[name]["raw"] and q[name]["offset"] == 0
        assert by_file(crawl_ds, crawl, f"dump-02/{name}") == {"input": 1, "kept": 0, "dropped": {}, "quarantined": 1}


def test_parquet(crawl_ds, crawl: Path) -> None:
    assert by_file(crawl_ds, crawl, "parquet/docs.parquet") == {"input": 5, "kept": 3, "dropped": {"ingest_empty_text": 1}, "quarantined": 1}
    docs = {r["id"]: r for r in crawl_ds.read_all().to_pylist()}
    assert docs["p1"]["url"] == "u1" and json.loads(docs["p1"]["metadata"]) == {"score": 0.1}
    assert docs[derive_doc_id("docs.parquet", 3)]["text"] == "parquet four"
    assert by_file(crawl_ds, crawl, "parquet/numbers.parquet")["quarantined"] == 3
    q = [r for r in crawl_ds.read_all("quarantine").to_pylist() if r["source_file"].endswith(".parquet")]
    assert any("no 'text' column" in r["error"] for r in q)
    assert any(r["line"] == 2 and "'text' is null" in r["error"] for r in q)


def test_warc_wet_and_html(crawl_ds, crawl: Path) -> None:
    docs = {r["id"]: r for r in crawl_ds.read_all().to_pylist()}
    en = docs["urn:uuid:00000000-0000-0000-0000-000000000001"]
    assert en["url"] == "https://example.org/en" and en["source"] == "warc"
    assert "ferryman kept a ledger" in en["text"] and "Copyright" not in en["text"]
    zh = docs["urn:uuid:00000000-0000-0000-0000-000000000002"]
    assert ZH_PARAGRAPHS[2] in zh["text"]  # GBK decoded, full-width punctuation intact
    dropped = {r["id"]: r["reason"] for r in crawl_ds.read_all("dropped").to_pylist()}
    assert dropped["urn:uuid:00000000-0000-0000-0000-000000000003"] == "ingest_not_html"
    assert dropped["urn:uuid:00000000-0000-0000-0000-000000000004"] == "ingest_http_status"
    assert dropped["urn:uuid:00000000-0000-0000-0000-000000000005"] == "ingest_no_main_text"
    assert crawl_ds.manifest.stats["warc_skipped_records"]["request"] >= 2
    assert docs["urn:uuid:wet-1"]["text"] == "\n".join(ZH_PARAGRAPHS)
    for name in ("cut-body.warc.gz", "cut-head.warc.gz"):
        cut = by_file(crawl_ds, crawl, f"warc/{name}")
        assert cut == {"input": 5, "kept": 2, "dropped": {"ingest_not_html": 1, "ingest_http_status": 1}, "quarantined": 1}, name
        (q,) = [r for r in crawl_ds.read_all("quarantine").to_pylist() if r["source_file"].endswith(name)]
        assert "truncated" in q["error"] and q["offset"] > 0 and q["line"] == 7
    page = docs[derive_doc_id("html/page.html", 0)]
    assert "second ledger" in page["text"] and page["source"] == "html"
    assert ZH_PARAGRAPHS[0] in docs[derive_doc_id("html/page-zh.html.gz", 0)]["text"]


def test_rerun_is_a_noop_and_changes_make_new_versions(crawl_ds, crawl: Path, tmp_path: Path) -> None:
    root = str(Path(crawl_ds.uri).parent)
    manifest = Path(crawl_ds.uri, "manifest.json")
    mtime = manifest.stat().st_mtime_ns
    assert run_ingest([str(crawl)], root, IngestConfig(rows_per_shard=25), executor="local") == crawl_ds.uri
    assert manifest.stat().st_mtime_ns == mtime
    # a different config and a --source override write new versions; the old one stays intact
    small = run_ingest([str(crawl / "dump-01")], root, IngestConfig(rows_per_shard=25, max_doc_bytes=10), executor="local")
    named = run_ingest([str(crawl / "dump-01")], root, IngestConfig(rows_per_shard=25), source="mine", executor="local")
    assert len({small, named, crawl_ds.uri}) == 3
    assert manifest.stat().st_mtime_ns == mtime
    open_dataset(crawl_ds.uri).verify()
    sources = set(open_dataset(named).read_all().column("source").to_pylist())
    assert sources == {"CC-2024-01", "wiki", "mine"}  # record fields win; the override replaces the dir name
    assert open_dataset(small).manifest.stats["truncated_docs"] == open_dataset(small).manifest.counts.kept


def test_glob_and_file_inputs(crawl: Path, tmp_path: Path) -> None:
    uri = run_ingest([str(crawl / "dump-01" / "*.jsonl*"), str(crawl / "parquet" / "docs.parquet")], str(tmp_path), executor="local")
    stats = open_dataset(uri).manifest.stats
    assert len(stats["by_file"]) == 4 and stats["by_format"]["jsonl"]["input"] == 73
    with pytest.raises(ValueError, match="matches no files"):
        run_ingest([str(crawl / "*.nothing")], str(tmp_path), executor="local")
    with pytest.raises(ValueError, match="no such file or directory"):
        run_ingest([str(crawl / "missing.jsonl")], str(tmp_path), executor="local")


@pytest.fixture(scope="module")
def huge_doc(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("huge")
    text = ("A fifty megabyte document. " * 40 + "\n") * 48_000  # ~52 MB
    write_jsonl(d / "huge.jsonl", [{"id": "small", "text": "fine"}, {"id": "huge", "text": text}, {"id": "after", "text": "also fine"}])
    return d


def test_oversize_document_is_truncated_by_default(huge_doc: Path, tmp_path: Path) -> None:
    ds = open_dataset(run_ingest([str(huge_doc)], str(tmp_path), IngestConfig(max_doc_bytes=1 << 20), executor="local"))
    docs = {r["id"]: r["text"] for r in ds.read_all().to_pylist()}
    assert set(docs) == {"small", "huge", "after"}
    assert 0.8 * (1 << 20) < len(docs["huge"].encode()) <= 1 << 20
    assert docs["huge"].endswith("document.")  # cut at a line break
    assert ds.manifest.stats["truncated_docs"] == 1


def test_oversize_document_can_be_quarantined(huge_doc: Path, tmp_path: Path) -> None:
    ds = open_dataset(run_ingest([str(huge_doc)], str(tmp_path), IngestConfig(oversize="quarantine"), executor="local"))
    assert ds.manifest.counts.to_dict()["quarantined"] == 1 and ds.manifest.counts.kept == 2
    (q,) = ds.read_all("quarantine").to_pylist()
    assert "above max_doc_bytes=1048576" in q["error"] and q["line"] == 2 and len(q["raw"]) <= 2000
    # a raw line above max_record_bytes is not even parsed (bounded memory)
    ds2 = open_dataset(run_ingest([str(huge_doc)], str(tmp_path / "b"), IngestConfig(max_record_bytes=8 << 20), executor="local"))
    (q2,) = ds2.read_all("quarantine").to_pylist()
    assert "exceeds max_record_bytes" in q2["error"] and ds2.manifest.counts.kept == 2


def test_bad_config_is_refused() -> None:
    with pytest.raises(ValueError, match="oversize must be"):
        IngestConfig(oversize="drop")
    with pytest.raises(ValueError, match=r"unknown key 'rows_per_shardd' \(did you mean 'rows_per_shard'\?\)"):
        parse(IngestConfig, {"rows_per_shardd": 5})
    with pytest.raises(ValueError, match=r"unknown key 'normalize.max_blank'"):
        parse(IngestConfig, {"normalize": {"max_blank": 5}})
    assert parse(IngestConfig, {"normalize": {"max_blank_lines": 2}}).normalize.max_blank_lines == 2


# ----------------------------------------------------------------------------- real public data


def test_real_commoncrawl_jsonl(shared_data: Path, tmp_path: Path) -> None:
    ds = open_dataset(run_ingest([str(shared_data / "web_text_commoncrawl_dolma")], str(tmp_path), executor="local"))
    c = ds.manifest.counts
    assert c.input == 697 + 10 + 10 + 10 and c.quarantined == 0 and c.is_conserved()
    assert c.kept >= 690
    docs = ds.read_all()
    assert "blj5uzvcoa4iybpd5o6kom5nir6ngmoj" in docs.column("id").to_pylist()
    assert set(ds.manifest.stats["by_source"]) == {"test_gz", "common-crawl"}
    zh = [t for t in docs.column("text").to_pylist() if sum("\u4e00" <= ch <= "\u9fff" for ch in t) > 50]
    assert len(zh) >= 5


def test_real_warc_files(shared_data: Path, tmp_path: Path) -> None:
    ds = open_dataset(
        run_ingest([str(shared_data / "web_warc_dolma"), str(shared_data / "web_warc_warcio_fixtures")], str(tmp_path), executor="local")
    )
    c = ds.manifest.counts
    assert c.is_conserved() and c.quarantined == 0
    docs = ds.read_all().to_pylist()
    dolma = [d for d in docs if d["source"] == "web_warc_dolma"]
    assert len(dolma) == 37  # every HTML response of the two dolma WARCs has main text
    d0 = next(d for d in dolma if d["id"] == "urn:uuid:283E41D7-F686-4C3E-B7DA-E8D248A100C1")
    assert d0["url"] == "https://www.semanticscholar.org/research/research-team" and "Semantic Scholar" in d0["text"]
    assert sum(1 for d in docs if d["url"] in ("http://example.com/", "http://www.iana.org/")) == 4


def test_real_html_pages_plain_and_in_warc(shared_data: Path, tmp_path: Path) -> None:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    zh_pages = sorted((shared_data / "web_html_newspaper4k_zh" / "html").glob("*.html"))
    readability_glob = str(shared_data / "web_html_mozilla_readability" / "[b-c]*" / "source.html.gz")  # 15 pages
    magic = json.loads((shared_data / "web_html_magic_html" / "article" / "base.json").read_text())
    pages = sorted((shared_data / "web_html_magic_html" / "article" / "htmls").glob("*.html.gz"))[:6]
    warc = tmp_path / "in" / "magic.warc.gz"
    warc.parent.mkdir()
    with open(warc, "wb") as fh:
        w = WARCWriter(fh, gzip=True)
        for p in pages:
            key = p.name.removesuffix(".html.gz")
            url = (magic.get(key) or {}).get("url", f"https://unknown/{key}")
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
            w.write_record(w.create_warc_record(url, "response", payload=io.BytesIO(gzip.decompress(p.read_bytes())), http_headers=http))
    uri = run_ingest(
        [str(p) for p in zh_pages] + [readability_glob, str(warc)],
        str(tmp_path / "out"),
        executor="local",
    )
    ds = open_dataset(uri)
    c = ds.manifest.counts
    assert c.is_conserved() and c.quarantined == 0
    assert c.input == len(zh_pages) + 15 + len(pages)
    assert c.kept >= 0.9 * c.input
    texts = ds.read_all().column("text").to_pylist()
    gold = (shared_data / "web_html_newspaper4k_zh" / "txt" / "chinese_article_002.txt").read_text(encoding="utf-8")
    first_sentence = gold.strip().split("。")[0]
    assert any(first_sentence[:20] in t for t in texts), "the gold Chinese article text was extracted"
    ids = ds.read_all().column("id").to_pylist()
    assert len(set(ids)) == len(ids), "HTML files with the same basename get distinct ids (relative path)"


# ----------------------------------------------------------------------------- readers directly


def read_items(path: Path, root: Path | None = None) -> list:
    from tasks.readers import InputFile, ReaderOptions, detect_format, read_input_file

    return list(read_input_file(InputFile(str(path), str(root or path.parent), detect_format(str(path))), ReaderOptions()))


def test_whole_json_documents_and_tiny_truncated_gzip(tmp_path: Path) -> None:
    from tasks.readers import QuarantinedRecord, RawDocument

    (tmp_path / "one.json").write_text(json.dumps({"id": "j1", "text": "pretty", "tags": ["a"]}, indent=2))
    (tmp_path / "many.json").write_text(json.dumps([{"text": "first"}, {"text": 5}], indent=2))
    (tmp_path / "meta.json").write_text(json.dumps({"title": "no text here"}, indent=2))
    one = read_items(tmp_path / "one.json")
    assert [(d.id, d.text, d.metadata) for d in one] == [("j1", "pretty", {"tags": ["a"]})]
    many = read_items(tmp_path / "many.json")
    assert isinstance(many[0], RawDocument) and many[0].id == derive_doc_id("many.json", 0)
    assert isinstance(many[1], QuarantinedRecord) and many[1].line == 2
    (meta,) = read_items(tmp_path / "meta.json")
    assert isinstance(meta, QuarantinedRecord) and "no 'text' field" in meta.error
    (tmp_path / "lines.json").write_text('{"text": broken\n{"text": "second"}\n{"text": "third"}\n')
    first, *rest = read_items(tmp_path / "lines.json")  # JSONL named .json with a broken first line
    assert isinstance(first, QuarantinedRecord) and first.line == 1 and [d.text for d in rest] == ["second", "third"]
    data = gzip.compress(b'{"text": "one"}\n{"text": "two"}\n{"text": "three"}\n')
    (tmp_path / "tiny.jsonl.gz").write_bytes(data[:-12])  # cut inside the deflate stream
    items = read_items(tmp_path / "tiny.jsonl.gz")
    assert isinstance(items[-1], QuarantinedRecord) and "EOFError" in items[-1].error
    assert all(isinstance(i, (RawDocument, QuarantinedRecord)) for i in items)


def test_unknown_explicit_file_is_quarantined(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    ds = open_dataset(run_ingest([str(tmp_path / "notes.txt")], str(tmp_path / "out"), executor="local"))
    (q,) = ds.read_all("quarantine").to_pylist()
    assert "unsupported file type" in q["error"] and ds.manifest.counts.input == 1 and q["raw"] == "hello"
