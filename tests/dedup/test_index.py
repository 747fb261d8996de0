"""The append-only dedup index: O(new) nights, cross-night duplicates, the lock, kill -9, compaction."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from dedup.index import IndexLock, compact, read_manifest
from dedup.shingles import jaccard_bottom_k, jaccard_sorted
from storage import DatasetError, open_dataset
from tasks.dedup import DedupConfig, run_dedup
from tests.dedup.corpus import doc, en_text, mutate_words, write_docs

CFG = DedupConfig(partitions=3, keep_intermediates=True)
REPO = Path(__file__).resolve().parents[2]


def du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


def nights(n: int, per_night: int = 200, dups: int = 50, seed: int = 0) -> tuple[list[list[dict]], dict[str, tuple[str, str]]]:
    """Night 1: ``per_night`` fresh docs; later nights: fresh docs + exact and near copies of earlier nights' docs."""
    rng = random.Random(seed)
    out, truth, earlier = [], {}, []
    for k in range(1, n + 1):
        fresh = per_night if k == 1 else per_night - dups
        night = [doc(f"n{k}-{i}", en_text(rng), f"https://site{k}.com/{i}", source=f"night-{k:02d}") for i in range(fresh)]
        for j in range(dups if k > 1 else 0):
            orig = rng.choice(earlier)
            if j % 2:
                night.append(doc(f"n{k}-exact-{j}", orig["text"].upper(), None, source=f"night-{k:02d}"))
                truth[f"n{k}-exact-{j}"] = ("exact_dup", orig["id"])
            else:
                text = mutate_words(rng, orig["text"], 1)
                night.append(doc(f"n{k}-near-{j}", text, None, source=f"night-{k:02d}"))
                truth[f"n{k}-near-{j}"] = ("near_dup" if text != orig["text"] else "exact_dup", orig["id"])
        earlier += night[:fresh]
        out.append(night)
    return out, truth


def dropped(uri: str) -> dict[str, tuple[str, str]]:
    return {r["id"]: (r["reason"], r["duplicate_of"]) for r in open_dataset(uri).read_all("dropped").to_pylist()}


def test_bottom_k_jaccard_is_exact_up_to_k_and_close_above() -> None:
    rng = np.random.default_rng(0)
    a = np.unique(rng.integers(0, 2**32, 100, dtype=np.uint64)).astype(np.uint32)
    b = np.unique(np.concatenate([a[:80], rng.integers(0, 2**32, 20, dtype=np.uint64).astype(np.uint32)]))
    assert jaccard_bottom_k(a, b, 256) == jaccard_sorted(a, b)
    big = np.unique(rng.integers(0, 2**32, 20_000, dtype=np.uint64)).astype(np.uint32)
    other = np.unique(np.concatenate([big[rng.random(len(big)) < 0.85], rng.integers(0, 2**32, 3000, dtype=np.uint64).astype(np.uint32)]))
    exact = jaccard_sorted(big, other)
    assert abs(jaccard_bottom_k(big, other, 256) - exact) < 4 * np.sqrt(exact * (1 - exact) / 256)
    assert jaccard_bottom_k(big, other[:256], 256) == jaccard_bottom_k(big, other, 256)  # a stored sketch is enough


def test_four_nights_write_flat_bytes_and_remove_cross_night_duplicates(tmp_path: Path) -> None:
    docs, truth = nights(4)
    index = tmp_path / "index"
    written, seg_bytes = [], []
    for k, night in enumerate(docs, start=1):
        uri = write_docs(str(tmp_path / f"in{k}"), night, shard_size=50)
        before = du(index)
        out = run_dedup([uri], str(tmp_path / f"out{k}"), CFG, index=str(index), executor="local")
        written.append(du(tmp_path / f"out{k}") + du(index) - before)  # output + intermediates + the index's growth
        m = open_dataset(out).manifest
        assert m.counts.input == 200 and m.counts.is_conserved()
        assert m.counts.input == m.counts.kept + sum(m.counts.dropped.values())
        want = {i: v for i, v in truth.items() if i.startswith(f"n{k}-")}
        assert dropped(out) == want  # every copy of an earlier night's doc removed, pointing at the original
        assert m.run["index"]["segments_read"] == k - 1
        seg_bytes.append(m.run["index"]["segment_bytes"])
    assert [e["rows"] for e in read_manifest(str(index))["segments"]] == [200, 150, 150, 150]
    # nights 2-4 see the same docs_in and kept; what they write must not grow with the history
    assert max(written[1:]) <= 1.05 * min(written[1:]), written
    assert max(seg_bytes[1:]) <= 1.05 * min(seg_bytes[1:]), seg_bytes
    # the segments' hash columns are plain (no dictionary, no zstd: both made random hashes larger and slower to read)
    import pyarrow.parquet as pq

    seen = set()
    for f in (index / "segments").rglob("*.parquet"):
        md = pq.ParquetFile(f).metadata.row_group(0)
        for i in range(md.num_columns):
            c = md.column(i)
            assert "PLAIN_DICTIONARY" not in c.encodings and "RLE_DICTIONARY" not in c.encodings, (f.name, c.path_in_schema)
            if c.path_in_schema.split(".")[0] in {"band_key", "text_hash", "url_hash", "key", "shingles"}:
                assert c.compression == "UNCOMPRESSED", (f.name, c.path_in_schema)
                seen.add(c.path_in_schema.split(".")[0])
    assert seen == {"band_key", "text_hash", "url_hash", "key", "shingles"}


def test_compacted_index_gives_the_same_answers(tmp_path: Path) -> None:
    docs, truth = nights(4, per_night=80, dups=20, seed=1)
    index = tmp_path / "index"
    for k, night in enumerate(docs[:3], start=1):
        run_dedup([write_docs(str(tmp_path / f"in{k}"), night)], str(tmp_path / f"out{k}"), CFG, index=str(index), executor="local")
    last = write_docs(str(tmp_path / "in4"), docs[3], shard_size=30)
    shutil.copytree(index, tmp_path / "uncompacted")
    from typer.testing import CliRunner

    from flows.cli import app

    shown = CliRunner().invoke(app, ["dedup-index", "show", str(index)])
    assert shown.exit_code == 0 and "3 segment(s)" in shown.output
    res = CliRunner().invoke(app, ["dedup-index", "compact", str(index)])
    assert res.exit_code == 0, res.output
    assert "1 segment(s), 200 docs" in res.output
    m = read_manifest(str(index))
    assert len(m["segments"]) == 1 and m["segments"][0]["rows"] == 80 + 60 + 60
    assert sorted(p.name for p in (index / "segments").iterdir()) == [m["segments"][0]["name"]]  # old segments deleted
    a = run_dedup([last], str(tmp_path / "a"), CFG, index=str(index), executor="local")
    b = run_dedup([last], str(tmp_path / "b"), CFG, index=str(tmp_path / "uncompacted"), executor="local")
    assert dropped(a) == dropped(b) == {i: v for i, v in truth.items() if i.startswith("n4-")}
    assert compact(str(index))["segments"][0]["rows"] == 260  # compacting two segments again


def test_a_second_writer_fails_clearly_or_waits(tmp_path: Path) -> None:
    uri = write_docs(str(tmp_path / "in"), nights(1, per_night=20)[0][0])
    index = str(tmp_path / "index")
    with IndexLock(index, purpose="night 7"):
        with pytest.raises(DatasetError, match=r"locked by another run .*night 7"):
            run_dedup([uri], str(tmp_path / "out"), CFG, index=index, executor="local", lock_wait_s=0.3)
        with pytest.raises(DatasetError, match="locked"):
            compact(index, wait_s=0.1)
    assert read_manifest(index) is None  # the refused run wrote nothing to the index

    holder = IndexLock(index, purpose="holder").__enter__()
    threading.Timer(1.0, holder.__exit__, args=(None, None, None)).start()
    t0 = time.monotonic()
    out = run_dedup([uri], str(tmp_path / "out"), CFG, index=index, executor="local", lock_wait_s=30)
    assert time.monotonic() - t0 >= 0.9 and open_dataset(out).manifest.counts.kept == 20


KILLED_NIGHT = """
import sys
from tasks.dedup import DedupConfig, run_dedup
run_dedup([sys.argv[1]], sys.argv[2], DedupConfig(partitions=3), index=sys.argv[3], executor="local")
"""


def test_a_night_killed_mid_run_leaves_the_previous_manifest_valid(tmp_path: Path) -> None:
    docs, truth = nights(2, per_night=3000, dups=300, seed=2)
    index = tmp_path / "index"
    run_dedup([write_docs(str(tmp_path / "in1"), docs[0], shard_size=500)], str(tmp_path / "out1"), CFG, index=str(index), executor="local")
    manifest = (index / "MANIFEST.json").read_bytes()
    second = write_docs(str(tmp_path / "in2"), docs[1], shard_size=500)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", KILLED_NIGHT, second, str(tmp_path / "out2"), str(index)], env=env, cwd=REPO)
    deadline = time.monotonic() + 120
    while not list((tmp_path / "out2").glob("_work/*/signatures/completions/u*.json")):
        assert proc.poll() is None and time.monotonic() < deadline, "the night ended before it could be killed"
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (index / "MANIFEST.json").read_bytes() == manifest  # the previous manifest, untouched and readable
    assert [e["rows"] for e in read_manifest(str(index))["segments"]] == [3000]
    with IndexLock(str(index), wait_s=0):  # the kernel released the dead night's lock
        pass
    out = run_dedup([second], str(tmp_path / "out2"), DedupConfig(partitions=3), index=str(index), executor="local")
    m = open_dataset(out).manifest
    assert dropped(out) == {i: v for i, v in truth.items() if i.startswith("n2-")}
    assert m.counts.is_conserved() and m.run["phases"]["signatures"]["skipped"] >= 1  # resumed from the killed run's units
    assert [e["rows"] for e in read_manifest(str(index))["segments"]] == [3000, 2700]


def test_a_night_reads_each_index_docs_file_at_most_twice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Verify (units of up to 8 new shards) and survivors each read an index shard once per night, not once per new shard.

    Before: one verify unit per new shard and each filter unit looked up index survivors itself, so a
    night of 4 shards read an index docs file up to 8 times (at night 10 of the soak: 900 reads)."""
    import dedup.pipeline as pipeline

    reads: dict[str, int] = {}
    shards: set[tuple[int, int]] = set()
    real = pipeline._index_docs

    def counting(ctx, s, columns=None):
        shards.add((s["lo"], s["hi"]))
        for d in s["infos"]:
            reads[d["path"]] = reads.get(d["path"], 0) + 1
        return real(ctx, s, columns)

    monkeypatch.setattr(pipeline, "_index_docs", counting)
    (n1, n2), truth = nights(2, per_night=400, dups=200, seed=3)
    index = str(tmp_path / "index")
    run_dedup([write_docs(str(tmp_path / "in1"), n1, shard_size=100)], str(tmp_path / "out1"), CFG, index=index, executor="local")
    assert not reads
    out = run_dedup([write_docs(str(tmp_path / "in2"), n2, shard_size=100)], str(tmp_path / "out2"), CFG, index=index, executor="local")
    got = dropped(out)
    assert {k: v for k, v in truth.items()} == {k: got[k] for k in truth}  # every cross-night copy found
    assert len(reads) >= 3 and max(reads.values()) <= 2, reads
    # night 1's four docs files (one per input shard of 100) are one doc shard of night 2: per-shard costs
    # (finalize's request files, survivors units) no longer grow with the count of earlier files
    assert len(reads) == 4 and shards == {(0, 400)}, (reads, shards)


def test_index_doc_shards_group_consecutive_files_up_to_max_rows() -> None:
    from dedup.index import index_doc_shards

    def doc(lo: int, hi: int) -> dict:
        return {"path": f"files/docs-{lo}.parquet", "rows": hi - lo, "attrs": {"lo": lo, "hi": hi}}

    seg = {"name": "s", "docs": [doc(100, 250), doc(0, 100), doc(250, 300), doc(300, 700)]}
    got = index_doc_shards(seg, max_rows=300)
    assert [(g["lo"], g["hi"], g["rows"], [d["attrs"]["lo"] for d in g["infos"]]) for g in got] == [
        (0, 300, 300, [0, 100, 250]), (300, 700, 400, [300])]
    assert all(g["kind"] == "index" and g["segment"] == "s" for g in got)
