"""End-to-end dedup stage: planted duplicates in en + zh, determinism, restart, incremental, bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from storage import DatasetError, open_dataset
from tasks.dedup import DedupConfig, run_dedup
from tests.dedup.corpus import doc, planted_corpus, write_docs
from dedup.index import read_manifest
from dedup.minhash import MinhashConfig

FAST = dict(partitions=3, report_by_dumps=False)


def dropped_map(uri: str) -> dict[str, tuple[str, str]]:
    return {r["id"]: (r["reason"], r["duplicate_of"]) for r in open_dataset(uri).read_all("dropped").to_pylist()}


def kept_ids(uri: str) -> list[str]:
    return open_dataset(uri).read_all("data", columns=["id"]).column("id").to_pylist()


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict]:
    docs, truth = planted_corpus()
    return write_docs(str(tmp_path_factory.mktemp("planted")), docs, shard_size=37), truth


def test_exact_url_and_near_duplicates_en_and_zh(planted: tuple[str, dict], tmp_path: Path) -> None:
    uri, truth = planted
    out = run_dedup([uri], str(tmp_path / "out"), DedupConfig(partitions=3), executor="local")
    assert dropped_map(out) == truth  # every planted dup removed with its reason and original, nothing else
    m = open_dataset(out).manifest
    assert m.counts.input == 125 and m.counts.kept == 80 and m.counts.is_conserved()
    assert m.stats["by_lang"]["zh"]["dropped"] == {"exact_dup": 10}  # zh near dups have lang=None (script detection)
    assert m.stats["cluster_sizes"] == {"2": 45}
    table1 = {r["dumps"]: (r["documents"], r["removed"]) for r in m.stats["dedup_by_dumps"]}
    assert table1 == {1: (80, 0), 2: (120, 40), 3: (125, 45)}
    assert m.stats["minhash"]["threshold"] == pytest.approx((1 / 20) ** (1 / 6), abs=1e-4)


def test_same_input_same_output(planted: tuple[str, dict], tmp_path: Path) -> None:
    uri, _ = planted
    cfg = DedupConfig(**FAST)
    a = open_dataset(run_dedup([uri], str(tmp_path / "a"), cfg, executor="local")).manifest
    b = open_dataset(run_dedup([uri], str(tmp_path / "b"), cfg, executor="local")).manifest
    assert [(s.path, s.sha256) for s in a.shards] == [(s.path, s.sha256) for s in b.shards]
    assert a.key == b.key and a.counts == b.counts and a.stats == b.stats
    # the same data written under two roots is one dataset: where the index went is run metadata
    # (manifest.run["index"]["root"]), not content (before: stats["index"] made the digests differ)
    assert a.digest == b.digest and a.run["index"]["root"] != b.run["index"]["root"]


def test_rerun_recomputes_only_the_damaged_phase(planted: tuple[str, dict], tmp_path: Path) -> None:
    uri, truth = planted
    cfg = DedupConfig(keep_intermediates=True, **FAST)
    out = run_dedup([uri], str(tmp_path / "out"), cfg, executor="local")
    first = open_dataset(out).manifest
    assert run_dedup([uri], str(tmp_path / "out"), cfg, executor="local") == out  # complete: no-op
    work = tmp_path / "out" / "_work" / Path(out).name
    # corrupt one verify output and delete one signature shard, then lose the published output
    victim = sorted((work / "verify" / "files").glob("*.arrow"))[0]
    victim.write_bytes(b"garbage")
    next(iter(sorted((work / "signatures" / "files").glob("u00001-sig.arrow")))).unlink()
    shutil.rmtree(out)
    again = open_dataset(run_dedup([uri], str(tmp_path / "out"), cfg, executor="local")).manifest
    phases = {k: (v["units"], v["skipped"]) for k, v in again.run["phases"].items()}
    assert phases["signatures"] == (4, 3)
    assert phases["candidates"] == (3, 3)
    assert phases["verify"][1] == phases["verify"][0] - 1  # verify runs only on doc shards that got candidates
    assert phases["components"][1] == phases["components"][0]
    assert [(s.path, s.sha256) for s in again.shards] == [(s.path, s.sha256) for s in first.shards]
    assert dropped_map(out) == truth
    # the resumed run publishes the clean run's manifest digest (timings and skips live in manifest.run)
    assert again.digest == first.digest and again.stats == first.stats
    assert "phases" not in again.stats and first.run["phases"]["signatures"]["skipped"] == 0


def test_incremental_against_index_matches_joint_run(tmp_path: Path) -> None:
    docs, truth = planted_corpus()
    old = [d for d in docs if d["source"] == "dump-01"]
    new = [d for d in docs if d["source"] != "dump-01"] + [doc("fresh", "a completely new page about nothing in particular at all")]
    old_uri = write_docs(str(tmp_path / "old"), old, shard_size=30)
    new_uri = write_docs(str(tmp_path / "new"), new, shard_size=30)
    cfg = DedupConfig(**FAST)
    index = str(tmp_path / "index")
    first = run_dedup([old_uri], str(tmp_path / "d1"), cfg, index=index, executor="local")
    m1 = read_manifest(index)
    assert [e["rows"] for e in m1["segments"]] == [80] and open_dataset(first).manifest.run["index"]["root"] == index
    second = run_dedup([new_uri], str(tmp_path / "d2"), cfg, index=index, executor="local")
    assert dropped_map(second) == truth  # every dup of an already-kept doc removed, pointing at the old doc
    assert kept_ids(second) == ["fresh"]
    sm = open_dataset(second).manifest
    assert sm.run["phases"]["signatures"]["units"] == 2  # only the new shards are shingled; the index is read by partition
    assert sm.run["index"]["segments_read"] == 1 and sm.run["index"]["docs_read"] == 80
    assert [e["rows"] for e in read_manifest(index)["segments"]] == [80, 1]  # appended, the first segment untouched
    assert read_manifest(index)["segments"][0] == m1["segments"][0]
    # a finished night rerun is a no-op: the index is not part of the key, and the index is unchanged
    assert run_dedup([new_uri], str(tmp_path / "d2"), cfg, index=index, executor="local") == second
    assert read_manifest(index)["version"] == 2
    # a third dump duplicating the doc kept in the second run is caught through the appended segment
    third_uri = write_docs(str(tmp_path / "third"), [doc("fresh-again", "A completely new page about nothing in particular at all")])
    third = run_dedup([third_uri], str(tmp_path / "d3"), cfg, index=index, executor="local")
    assert dropped_map(third) == {"fresh-again": ("exact_dup", "fresh")}
    with pytest.raises(DatasetError, match="num_perm"):
        run_dedup([third_uri], str(tmp_path / "d4"), DedupConfig(minhash=MinhashConfig(num_perm=112, bands=14, rows=8), **FAST),
                  index=index, executor="local")
    with pytest.raises(DatasetError, match="partitions"):
        run_dedup([third_uri], str(tmp_path / "d4"), DedupConfig(partitions=2, report_by_dumps=False), index=index, executor="local")


def test_survivor_policy_longest(tmp_path: Path) -> None:
    base = " ".join(f"word{i}" for i in range(200))
    docs = [doc("short", base), doc("long", base + " extra tail words here"), doc("other", "unrelated text " * 20)]
    uri = write_docs(str(tmp_path / "in"), docs)
    first = run_dedup([uri], str(tmp_path / "f"), DedupConfig(**FAST), executor="local")
    longest = run_dedup([uri], str(tmp_path / "l"), DedupConfig(minhash=MinhashConfig(survivor="longest"), **FAST), executor="local")
    assert dropped_map(first) == {"long": ("near_dup", "short")}
    assert dropped_map(longest) == {"short": ("near_dup", "long")}


def test_bad_inputs_have_defined_outcomes(tmp_path: Path) -> None:
    zh = "今天天气很好我们一起去公园散步然后回家吃饭晚上看电影"
    mixed = "Python 是一种广泛使用的 programming language 它的设计哲学强调代码的可读性和简洁的语法"
    docs = [
        doc("empty-1", ""), doc("empty-2", "   \n"),  # empty: exact dups of each other
        doc("word-1", "Hello"), doc("word-2", "hello"), doc("word-3", "Hello!"),  # one word: exact, then one-shingle near dup
        doc("short-1", "the quick brown"), doc("short-2", "the quick brown fox jumps"),  # shorter than a shingle: distinct
        doc("zh-1", zh, lang="zh"), doc("zh-2", zh[:-2] + "看书", lang="zh"),  # Chinese, no punctuation
        doc("mix-1", mixed, lang=None), doc("mix-2", mixed.replace("Python", "PYTHON 3"), lang=None),  # mixed scripts
    ]
    uri = write_docs(str(tmp_path / "in"), docs)
    out = run_dedup([uri], str(tmp_path / "out"), DedupConfig(**FAST), executor="local")
    assert dropped_map(out) == {
        "empty-2": ("exact_dup", "empty-1"),
        "word-2": ("exact_dup", "word-1"),
        "word-3": ("near_dup", "word-1"),
        "zh-2": ("near_dup", "zh-1"),
        "mix-2": ("near_dup", "mix-1"),
    }
    assert kept_ids(out) == ["empty-1", "word-1", "short-1", "short-2", "zh-1", "mix-1"]


def test_empty_input_dataset(tmp_path: Path) -> None:
    uri = write_docs(str(tmp_path / "in"), [])
    m = open_dataset(run_dedup([uri], str(tmp_path / "out"), DedupConfig(**FAST), executor="local")).manifest
    assert (m.counts.input, m.counts.kept) == (0, 0)


def test_ten_thousand_identical_docs_are_one_cluster(tmp_path: Path) -> None:
    text = "the same boilerplate page repeated across the whole crawl again and again"
    docs = [doc(f"d{i:05d}", text, f"https://site.com/p{i}") for i in range(10_000)]
    uri = write_docs(str(tmp_path / "in"), docs, shard_size=2500)
    m = open_dataset(run_dedup([uri], str(tmp_path / "out"), DedupConfig(**FAST), executor="local")).manifest
    assert m.counts.kept == 1 and m.counts.dropped == {"exact_dup": 9999}
    assert m.stats["cluster_sizes"] == {"10000": 1}
    assert m.stats["candidate_pairs"] == 0  # identical texts collapse inside LSH buckets


def test_one_run_on_the_real_ray_cluster(ray_cluster, planted: tuple[str, dict], tmp_path: Path) -> None:
    uri, truth = planted
    out = run_dedup([uri], str(tmp_path / "out"), DedupConfig(**FAST), executor="ray")
    assert dropped_map(out) == truth
    local = run_dedup([uri], str(tmp_path / "local"), DedupConfig(**FAST), executor="local")
    assert [(s.path, s.sha256) for s in open_dataset(out).manifest.shards] == [
        (s.path, s.sha256) for s in open_dataset(local).manifest.shards
    ]
    assert not (tmp_path / "out" / "_work" / open_dataset(out).manifest.key).exists()  # intermediates removed on success
    assert pq.read_table(str(Path(out) / "dropped" / "part-00002.parquet")).num_rows > 0
