"""The fast subset of ``python -m benchmarks.faults`` (the full run and its figures: RELIABILITY.md).

A dozen bad-input kinds lose and duplicate no good record; ``longterm ingest`` killed between
``manifest.json`` and ``LATEST`` leaves a root whose reader finds the complete version, and the
rerun of the same command publishes the digest of a clean run and repairs LATEST.

    python -m pytest tests/benchmarks/test_faults.py -q
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from benchmarks import faults
from tasks.readers import derive_doc_id

FAST_KINDS = ["symlink_loop", "dangling_symlink", "symlink_file_outside_root", "nul_prefixed_jsonl", "utf8_bom_jsonl",
              "deep_nesting_10k", "int_beyond_int64_field", "gbk_mislabelled", "mixed_line_endings", "truncated_gzip",
              "parquet_wrong_schema", "empty_texts", "non_utf8_file_name"]


def test_the_full_suite_has_at_least_30_distinct_kinds() -> None:
    names = [k.name for k in faults.all_kinds()]
    assert len(names) >= 30 and len(set(names)) == len(names)
    assert set(FAST_KINDS) <= set(names)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", FAST_KINDS)
def test_bad_input_kind_is_contained_and_loses_no_good_record(name: str, tmp_path: Path) -> None:
    (kind,) = [k for k in faults.all_kinds() if k.name == name]
    row = faults.measure_kind(kind, tmp_path)
    assert row["lost"] == 0 and row["duplicated"] == 0, row
    assert row["contained"] and row["conserved"], row


def test_a_file_name_that_is_not_utf8_is_read_and_stored_by_its_escaped_name(tmp_path: Path) -> None:
    """A Latin-1 / binary file or directory name: its records are ingested (they used to be quarantined, and before
    that ingest died with UnicodeEncodeError); manifests and Parquet columns name it with its bytes as \\xNN."""
    from storage import open_dataset
    from tasks.ingest import IngestConfig, run_ingest

    (kind,) = [k for k in faults.all_kinds() if k.name == "non_utf8_file_name"]
    row = faults.measure_kind(kind, tmp_path / "kind")
    assert row["good_kept"] == 9 and row["lost"] == 0 and row["quarantined"] == 0, row
    root = tmp_path / "in"
    root.mkdir()
    with open(os.fsencode(root) + b"/bad-\xff.jsonl", "wb") as f:  # a broken line and id-less records in a bad-named file
        f.write(b'{"text": "first record without an id"}\n{broken\n{"text": "second record without an id"}\n')
    with open(os.fsencode(root) + b"/t\xe9.parquet", "wb") as f:
        pq.write_table(pa.table({"id": ["pq-0"], "text": ["a parquet row under a Latin-1 name"]}), f)
    ds = open_dataset(run_ingest([str(root)], str(tmp_path / "out"), IngestConfig(), executor="local"), kind="documents")
    docs = ds.read_all().to_pylist()
    assert sorted(d["text"] for d in docs) == ["a parquet row under a Latin-1 name", "first record without an id", "second record without an id"]
    assert {d["id"] for d in docs if d["id"] != "pq-0"} == {derive_doc_id("bad-\\xff.jsonl", n) for n in (0, 2)}
    (q,) = ds.read_all("quarantine").to_pylist()
    assert q["source_file"] == str(root / "bad-\\xff.jsonl") and q["line"] == 2
    assert {Path(u.uri).name for u in ds.manifest.inputs} == {"bad-\\xff.jsonl", "t\\xe9.parquet"}
    assert set(map(lambda k: Path(k).name, ds.manifest.stats["by_file"])) == {"bad-\\xff.jsonl", "t\\xe9.parquet"}


@pytest.mark.timeout(180)
def test_ingest_killed_between_manifest_and_latest_reruns_to_the_clean_digest(tmp_path: Path) -> None:
    from storage import open_dataset
    from tasks.demo_crawl import generate_demo_crawl
    from tasks.ingest import IngestConfig, run_ingest

    crawl = tmp_path / "crawl"
    generate_demo_crawl(str(crawl), num_docs=60, num_dumps=2, seed=0)
    dumps = sorted(str(d) for d in crawl.glob("dump-*"))
    clean = open_dataset(run_ingest(dumps, str(tmp_path / "clean"), IngestConfig(), executor="local"))

    out = tmp_path / "out"
    args = ["ingest", *dumps, "--out", str(out), "--no-prefect"]
    killed = faults.run_and_kill(args, tmp_path / "killed.log", None, die_at="before_latest", timeout=150)
    assert killed.rc == -signal.SIGKILL, killed.log[-2000:]
    view = faults.reader_view(out)
    assert view["pending"] and view["LATEST"] is None, view  # died after manifest.json, before LATEST
    assert view["reader"] == "complete version" and view["digest"] == clean.digest, view

    rerun = faults.run_cli(args, tmp_path / "rerun.log", timeout=150)
    assert rerun["rc"] == 0, rerun["tail"]
    after = faults.reader_view(out)
    assert after["digest"] == clean.digest and after["LATEST"] == Path(clean.uri).name and not after["pending"], after
