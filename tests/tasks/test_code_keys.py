"""Code-keyed caches: a stage's key includes the digest of the code that computes it.

The digest is read from a temporary copy of the repository in which one module is edited
(``tasks.code_digest.REPO_ROOT`` pointed at the copy), so the real stages run while their keys
see the edit: the edited stage recomputes, the stages before it are reused, the stages after it
recompute through their input digests, and ``force`` recomputes on request. Also: a stage
rerun after a crash before publishing (or with shards lost) publishes the clean run's digest.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import tasks.code_digest as cd
from storage import open_dataset, resolve_dataset_uri
from tasks.code_digest import code_digest, code_files, stage_code_digest
from tasks.dedup import DedupConfig, run_dedup
from tasks.filter import FilterConfig, run_filter
from tasks.ingest import IngestConfig, run_ingest
from tests.tasks.filter_samples import EN_CLEAN, ZH_CLEAN

REPO = Path(__file__).resolve().parents[2]


def repo_copy(dest: Path) -> Path:
    """The Python source of the packages a code digest covers, copied to ``dest``."""
    for package in cd.REPO_PACKAGES:
        shutil.copytree(REPO / package, dest / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


def append_comment(root: Path, rel: str) -> None:
    with open(root / rel, "a", encoding="utf-8") as f:
        f.write("\n# an edit: a bug fix would change this file the same way\n")


# ----------------------------------------------------------------------------- the digest itself


def test_digest_covers_what_the_stage_imports_and_nothing_else(tmp_path: Path) -> None:
    copy = repo_copy(tmp_path / "repo")
    stages = ("ingest", "filter", "dedup", "tokenize", "pretrain")
    before = {s: stage_code_digest(s, copy) for s in stages}
    assert before == {s: stage_code_digest(s) for s in stages}, "a copy of the same tree has the same digests"
    filter_files, ingest_files = set(code_files(["tasks.filter"])), set(code_files(["tasks.ingest"]))
    assert {"tasks/filter.py", "tasks/ops/quality.py", "tasks/ops/langid.py", "storage/dataset.py", "tasks/__init__.py"} <= filter_files
    assert "tasks/ops/quality.py" not in ingest_files and "tasks/readers/jsonl.py" in ingest_files
    assert not any(f.startswith("flows/") for f in filter_files | ingest_files)

    append_comment(copy, "tasks/ops/quality.py")  # imported by filter only
    after = {s: code_digest([cd.STAGE_MODULES[s]], copy) for s in stages}
    assert after["filter"] != before["filter"]
    assert {s: after[s] for s in stages if s != "filter"} == {s: before[s] for s in stages if s != "filter"}

    append_comment(copy, "storage/manifest.py")  # every stage publishes through storage
    assert all(code_digest([cd.STAGE_MODULES[s]], copy) != after[s] for s in stages)


def test_lazy_relative_and_from_imports_are_followed(tmp_path: Path) -> None:
    pkg = tmp_path / "tasks"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "stage.py").write_text("from .sub import helper\nimport json\n\ndef run():\n    from tasks import lazy\n")
    (pkg / "sub" / "helper.py").write_text("from ..deep import value\n")
    (pkg / "deep.py").write_text("value = 1\n")
    (pkg / "lazy.py").write_text("import numpy\n")
    (pkg / "unused.py").write_text("x = 1\n")
    assert code_files(["tasks.stage"], tmp_path) == [
        "tasks/__init__.py", "tasks/deep.py", "tasks/lazy.py", "tasks/stage.py", "tasks/sub/__init__.py", "tasks/sub/helper.py",
    ]
    d = code_digest(["tasks.stage"], tmp_path)
    (pkg / "unused.py").write_text("x = 2\n")
    assert code_digest(["tasks.stage"], tmp_path) == d
    with pytest.raises(ValueError, match="unknown stage"):
        stage_code_digest("no-such-stage")


# ----------------------------------------------------------------------------- stages keyed on code


@pytest.fixture
def crawl(tmp_path: Path) -> Path:
    d = tmp_path / "crawl" / "dump-01"
    d.mkdir(parents=True)
    records = [{"id": f"en-{i}", "text": EN_CLEAN + f"\nPage {i}.", "url": f"https://example.com/{i}"} for i in range(4)]
    records += [{"id": "zh-0", "text": ZH_CLEAN, "url": "https://example.cn/0"}]
    records += [dict(records[0], id="en-copy", url="https://example.com/copy")]  # an exact duplicate for dedup
    (d / "docs.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return d


def _pipeline(crawl: Path, out: Path, force: str = "") -> dict[str, str]:
    ingest = run_ingest([str(crawl)], str(out / "ingest"), IngestConfig(), executor="local", force=force == "ingest")
    filtered = run_filter(ingest, str(out / "filter"), FilterConfig(), executor="local", force=force == "filter")
    dedup = run_dedup([filtered], str(out / "dedup"), DedupConfig(partitions=2, report_by_dumps=False), executor="local",
                      force=force == "dedup")
    return {"ingest": ingest, "filter": filtered, "dedup": dedup}


def _manifest_bytes(uris: dict[str, str]) -> dict[str, bytes]:
    return {k: Path(v, "manifest.json").read_bytes() for k, v in uris.items()}


def test_editing_filter_code_recomputes_filter_and_after_not_ingest(crawl: Path, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "out"
    first = _pipeline(crawl, out)
    written = _manifest_bytes(first)
    m = open_dataset(first["filter"]).manifest
    assert m.code_digest == stage_code_digest("filter") and len(m.code_digest) == 64
    assert json.loads(written["ingest"])["code_digest"] == stage_code_digest("ingest")

    assert _pipeline(crawl, out) == first, "a rerun without change reuses every stage"
    assert _manifest_bytes(first) == written, "... and rewrites no manifest"

    copy = repo_copy(tmp_path / "repo")
    append_comment(copy, "tasks/ops/quality.py")
    monkeypatch.setattr(cd, "REPO_ROOT", copy)
    second = _pipeline(crawl, out)
    assert second["ingest"] == first["ingest"], "ingest does not import the edited module: reused"
    assert second["filter"] != first["filter"], "filter imports it: recomputed into a new version"
    assert second["dedup"] != first["dedup"], "dedup's input digest changed: recomputed"
    assert open_dataset(second["filter"]).manifest.code_digest == code_digest(["tasks.filter"], copy)
    assert resolve_dataset_uri(str(out / "filter")) == second["filter"]
    assert _manifest_bytes({k: first[k] for k in first}) == written, "old versions stay intact"


def test_force_recomputes_one_stage_and_latest_follows(crawl: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = _pipeline(crawl, out)
    forced = _pipeline(crawl, out, force="filter")
    assert forced["ingest"] == first["ingest"]
    assert forced["filter"] != first["filter"] and Path(forced["filter"]).name.startswith(Path(first["filter"]).name + "-f")
    assert resolve_dataset_uri(str(out / "filter")) == forced["filter"]
    # the same code on the same input computes the same content: the digest, and so dedup's key, are unchanged
    assert open_dataset(forced["filter"]).digest == open_dataset(first["filter"]).digest
    assert forced["dedup"] == first["dedup"]
    assert _pipeline(crawl, out) == forced, "later reruns reuse the forced version"
    redone = _pipeline(crawl, out, force="dedup")
    assert redone["dedup"] != first["dedup"] and open_dataset(redone["dedup"]).manifest.run["phases"]["signatures"]["skipped"] == 0


def test_filter_rerun_after_a_crash_publishes_the_clean_digest(crawl: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    clean = _pipeline(crawl, out)
    digest = open_dataset(clean["filter"]).digest
    # killed before publishing: no manifest, one shard lost, LATEST still names the previous state
    Path(clean["filter"], "manifest.json").unlink()
    next(Path(clean["filter"], "data").glob("*.parquet")).unlink()
    again = run_filter(clean["ingest"], str(out / "filter"), FilterConfig(), executor="local")
    assert again == clean["filter"] and open_dataset(again).digest == digest
