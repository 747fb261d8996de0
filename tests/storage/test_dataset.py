"""Storage: atomic publish (SIGKILLed writer), checksum refusal, content addressing, LATEST,
conservation, and object-store URIs against a real S3-compatible server (moto) on loopback."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow as pa
import pytest

from storage import (
    DOCUMENT_SCHEMA,
    Counts,
    DatasetError,
    DatasetWriter,
    conform_documents,
    open_dataset,
    resolve_dataset_uri,
    write_shard,
)

REPO = Path(__file__).resolve().parents[2]


def docs_table(n: int, start: int = 0) -> pa.Table:
    return conform_documents(
        pa.table({"id": [f"d{i}" for i in range(start, start + n)], "text": [f"text {i}" for i in range(start, start + n)], "source": ["s"] * n})
    )


def publish(root: str, config: dict, n: int = 5) -> str:
    w = DatasetWriter(root, kind="documents", stage="unit", config=config)
    if w.is_complete():
        return w.location
    info = w.write("data", 0, docs_table(n))
    w.commit([info], Counts(input=n, kept=n))
    return w.location


# ----------------------------------------------------------------------------- atomicity

KILLED_WRITER = textwrap.dedent(
    """
    import sys, pyarrow as pa
    from storage import DatasetWriter, conform_documents
    root, ready = sys.argv[1], sys.argv[2]
    w = DatasetWriter(root, kind="documents", stage="unit", config={"run": "killed"})
    big = conform_documents(pa.table({"id": [str(i) for i in range(200_000)], "text": ["x" * 50] * 200_000}))
    i = 0
    while True:
        w.write("data", i, big)
        if i == 0:
            open(ready, "w").write(w.location)
        i += 1
    """
)


def test_sigkilled_writer_leaves_nothing_a_reader_trusts(tmp_path: Path) -> None:
    root = tmp_path / "out"
    old = publish(str(root), {"run": "old"})  # a complete earlier version
    ready = tmp_path / "ready"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(root), str(ready)], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        deadline = time.time() + 60
        while not ready.exists() and time.time() < deadline:
            assert proc.poll() is None, "writer subprocess died before writing a shard"
            time.sleep(0.05)
        assert ready.exists(), "writer never wrote its first shard"
        time.sleep(0.3)  # let it get into the middle of a later shard
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    killed = ready.read_text()
    assert any(Path(killed, "data").iterdir()), "the killed writer wrote shards"
    with pytest.raises(DatasetError, match="incomplete"):
        open_dataset(killed)
    # the root still resolves to the previous complete version, which reads back intact
    ds = open_dataset(str(root))
    assert ds.uri == old
    ds.verify()
    assert ds.read_all().num_rows == 5


# ----------------------------------------------------------------------------- checksums


def test_corrupted_shard_is_refused_naming_the_shard(tmp_path: Path) -> None:
    loc = publish(str(tmp_path / "out"), {"a": 1})
    ds = open_dataset(loc)
    shard = ds.shards("data")[0]
    path = Path(loc, shard.path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, different content
    path.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match=rf"checksum mismatch in shard {shard.path}.*rerun"):
        ds.verify()
    with pytest.raises(DatasetError, match=shard.path):
        ds.read_all()
    path.write_bytes(bytes(data[:100]))  # truncated
    with pytest.raises(DatasetError, match=rf"shard {shard.path} has 100 bytes"):
        open_dataset(loc).verify()
    path.unlink()
    with pytest.raises(DatasetError, match=rf"shard {shard.path} .*cannot be read"):
        open_dataset(loc).verify()


# ----------------------------------------------------------------------------- content addressing and LATEST


def test_same_config_is_a_noop_and_new_config_writes_a_new_version(tmp_path: Path) -> None:
    root = str(tmp_path / "out")
    first = publish(root, {"threshold": 0.5})
    manifest = Path(first, "manifest.json")
    before = (manifest.read_bytes(), manifest.stat().st_mtime_ns)
    again = DatasetWriter(root, kind="documents", stage="unit", config={"threshold": 0.5})
    assert again.location == first and again.is_complete()
    assert publish(root, {"threshold": 0.5}) == first
    assert (manifest.read_bytes(), manifest.stat().st_mtime_ns) == before

    second = publish(root, {"threshold": 0.7}, n=3)
    assert second != first
    assert (manifest.read_bytes(), manifest.stat().st_mtime_ns) == before  # old version untouched
    open_dataset(first).verify()
    assert open_dataset(first).read_all().num_rows == 5
    # LATEST follows the newest publish; explicit versions still open
    assert resolve_dataset_uri(root) == second
    assert open_dataset(root).read_all().num_rows == 3
    assert Path(root, "LATEST").read_text().strip() == Path(second).name


def test_inputs_change_the_key(tmp_path: Path) -> None:
    root = str(tmp_path / "out")
    up = open_dataset(publish(str(tmp_path / "up"), {"x": 1}))
    a = DatasetWriter(root, kind="documents", stage="unit", config={}, inputs=[up.ref()])
    up2 = open_dataset(publish(str(tmp_path / "up"), {"x": 2}))
    b = DatasetWriter(root, kind="documents", stage="unit", config={}, inputs=[up2.ref()])
    assert a.key != b.key


def test_latest_pointing_at_a_missing_version_and_missing_paths_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "out"
    loc = publish(str(root), {"a": 1})
    Path(loc, "manifest.json").unlink()
    with pytest.raises(DatasetError, match="LATEST points to .* no manifest.json"):
        open_dataset(str(root))
    with pytest.raises(DatasetError, match="no such dataset"):
        open_dataset(str(tmp_path / "nowhere"))
    (tmp_path / "plain").mkdir()
    with pytest.raises(DatasetError, match="no manifest.json here"):
        open_dataset(str(tmp_path / "plain"))


def test_wrong_kind_is_refused(tmp_path: Path) -> None:
    loc = publish(str(tmp_path / "out"), {})
    with pytest.raises(DatasetError, match="is a 'documents' dataset .* 'tokens' dataset is needed"):
        open_dataset(loc, kind="tokens")


# ----------------------------------------------------------------------------- conservation


def test_conservation_is_checked_at_commit(tmp_path: Path) -> None:
    w = DatasetWriter(str(tmp_path / "out"), kind="documents", stage="unit", config={})
    info = w.write("data", 0, docs_table(4))
    with pytest.raises(AssertionError, match="conservation violated: input 10"):
        w.commit([info], Counts(input=10, kept=4, dropped={"too_short": 3}, quarantined=2))
    with pytest.raises(AssertionError, match="data shards hold 4 rows but counts.kept is 5"):
        w.commit([info], Counts(input=5, kept=5))
    assert not Path(w.location, "manifest.json").exists()
    m = w.commit([info], Counts(input=9, kept=4, dropped={"too_short": 5}))
    assert m.counts.is_conserved() and m.counts.dropped_total == 5


def test_manifest_records_provenance(tmp_path: Path) -> None:
    loc = publish(str(tmp_path / "out"), {"threshold": 0.5})
    d = json.loads(Path(loc, "manifest.json").read_text())
    assert d["schema_version"] == 1 and d["stage"] == "unit" and d["config"] == {"threshold": 0.5}
    (shard,) = d["shards"]
    assert shard["rows"] == 5 and len(shard["sha256"]) == 64 and shard["bytes"] > 0
    assert d["code_version"] and d["created_at"] and d["finished_at"]
    assert not [p for p in Path(loc).rglob("*") if p.name.startswith(".tmp-")]


# ----------------------------------------------------------------------------- object store


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_server():
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        import boto3

        boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1").create_bucket(Bucket="datasets")
        yield env["AWS_ENDPOINT_URL"]
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        server.stop()


def test_dataset_roundtrip_on_s3(s3_server: str) -> None:
    root = "s3://datasets/runs/filtered"
    w = DatasetWriter(root, kind="documents", stage="unit", config={"on": "s3"})
    assert w.location.startswith("s3://datasets/runs/filtered/unit-")
    infos = [write_shard(w.location, "data", i, docs_table(3, start=3 * i)) for i in range(2)]
    w.commit(infos, Counts(input=6, kept=6))
    ds = open_dataset(root)  # through LATEST on the object store
    assert ds.uri == w.location
    ds.verify()
    table = ds.read_all()
    assert table.schema == DOCUMENT_SCHEMA
    assert sorted(table.column("id").to_pylist()) == [f"d{i}" for i in range(6)]
    assert DatasetWriter(root, kind="documents", stage="unit", config={"on": "s3"}).is_complete()

    import boto3

    s3 = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="datasets", Prefix="runs/filtered/")["Contents"]}
    version = w.location.rsplit("/", 1)[1]
    assert {f"runs/filtered/{version}/manifest.json", "runs/filtered/LATEST", f"runs/filtered/{version}/data/part-00000.parquet"} <= keys
    assert not [k for k in keys if "/.tmp-" in k]
    # corrupt a shard on the server: the reader refuses it by name
    s3.put_object(Bucket="datasets", Key=f"runs/filtered/{version}/data/part-00001.parquet", Body=b"garbage")
    with pytest.raises(DatasetError, match="data/part-00001.parquet"):
        open_dataset(root).verify()


# ----------------------------------------------------------------------------- code digest, --force


def test_code_digest_changes_the_key_and_is_recorded_in_the_manifest(tmp_path: Path) -> None:
    root = str(tmp_path / "out")
    old = DatasetWriter(root, kind="documents", stage="unit", config={"a": 1}, code_digest="c0de" * 16)
    new = DatasetWriter(root, kind="documents", stage="unit", config={"a": 1}, code_digest="beef" * 16)
    assert old.key != new.key and old.location != new.location
    m = old.commit([old.write("data", 0, docs_table(2))], Counts(input=2, kept=2))
    d = json.loads(Path(old.location, "manifest.json").read_text())
    assert d["code_digest"] == "c0de" * 16 == m.code_digest
    assert open_dataset(old.location).manifest.code_digest == "c0de" * 16
    # a version made by other code is not reused
    assert not new.is_complete()
    assert DatasetWriter(root, kind="documents", stage="unit", config={"a": 1}, code_digest="c0de" * 16).is_complete()


def test_force_writes_a_fresh_version_that_latest_and_later_reruns_follow(tmp_path: Path) -> None:
    root = str(tmp_path / "out")
    first = publish(root, {"t": 1})
    before = Path(first, "manifest.json").read_bytes()
    forced = DatasetWriter(root, kind="documents", stage="unit", config={"t": 1}, force=True)
    assert forced.key == DatasetWriter(root, kind="documents", stage="unit", config={"t": 1}).key
    assert forced.location != first and not forced.is_complete() and not forced.reuse()
    forced.commit([forced.write("data", 0, docs_table(4))], Counts(input=4, kept=4))
    assert Path(first, "manifest.json").read_bytes() == before, "the old version is left intact"
    assert resolve_dataset_uri(root) == forced.location
    # a rerun without --force reuses the newest complete version of that key: the forced one
    again = DatasetWriter(root, kind="documents", stage="unit", config={"t": 1})
    assert again.location == forced.location and again.reuse()
    # ... and a second forced run writes yet another one
    forced2 = DatasetWriter(root, kind="documents", stage="unit", config={"t": 1}, force=True)
    assert forced2.location not in (first, forced.location)


def test_identical_recompute_under_force_has_the_same_manifest_digest(tmp_path: Path) -> None:
    root = str(tmp_path / "out")
    a = open_dataset(publish(root, {"t": 1}))
    w = DatasetWriter(root, kind="documents", stage="unit", config={"t": 1}, force=True)
    m = w.commit([w.write("data", 0, docs_table(5))], Counts(input=5, kept=5), run={"cpu_s": 1.23})
    assert m.digest == a.digest, "same content: downstream keys (input digests) stay the same"
    assert open_dataset(w.location).manifest.run == {"cpu_s": 1.23}


def test_run_section_is_not_part_of_the_digest_but_stats_are(tmp_path: Path) -> None:
    root = str(tmp_path / "out")
    w = DatasetWriter(root, kind="documents", stage="unit", config={})
    info = w.write("data", 0, docs_table(2))
    m1 = w.commit([info], Counts(input=2, kept=2), stats={"n": 1}, run={"units_skipped": 0, "cpu_s": 0.5})
    m2 = w.commit([info], Counts(input=2, kept=2), stats={"n": 1}, run={"units_skipped": 3, "cpu_s": 0.1})
    m3 = w.commit([info], Counts(input=2, kept=2), stats={"n": 2})
    assert m1.digest == m2.digest != m3.digest


# ----------------------------------------------------------------------------- LATEST after a crash


class _CrashBeforeLatest(Exception):
    pass


def _commit_crashing_before_latest(monkeypatch: pytest.MonkeyPatch, w: DatasetWriter, n: int) -> None:
    """Publish ``w`` but die where a kill -9 between manifest.json and LATEST would."""
    import storage.dataset as sd

    real = sd.write_bytes_atomic

    def crash_on_latest(uri: str, data: bytes) -> None:
        if uri.endswith("/LATEST"):
            raise _CrashBeforeLatest(uri)
        real(uri, data)

    monkeypatch.setattr(sd, "write_bytes_atomic", crash_on_latest)
    with pytest.raises(_CrashBeforeLatest):
        w.commit([w.write("data", 0, docs_table(n))], Counts(input=n, kept=n))
    monkeypatch.setattr(sd, "write_bytes_atomic", real)


def test_crash_between_manifest_and_latest_is_derived_and_repaired(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = str(tmp_path / "out")
    old = publish(root, {"v": "old"})
    new = DatasetWriter(root, kind="documents", stage="unit", config={"v": "new"})
    _commit_crashing_before_latest(monkeypatch, new, 3)
    assert Path(root, "LATEST").read_text().strip() == Path(old).name, "the crash left LATEST stale"
    # a reader does not trust the stale LATEST: the newer complete version is what the root names
    assert resolve_dataset_uri(root) == new.location
    assert open_dataset(root).read_all().num_rows == 3
    # the rerun finds the complete version by key, does nothing, and re-points LATEST
    again = DatasetWriter(root, kind="documents", stage="unit", config={"v": "new"})
    assert again.reuse()
    assert Path(root, "LATEST").read_text().strip() == Path(new.location).name
    assert sorted(p.name for p in Path(root).iterdir() if not p.is_dir()) == ["LATEST"]
    assert resolve_dataset_uri(root) == new.location


def test_a_rerun_that_finds_latest_right_writes_nothing(tmp_path: Path) -> None:
    """curate-nightly reruns a finished dump with every stage reused: no file may change (before:
    each reuse rewrote LATEST by temp file + rename, a new inode and mtime, a PUT on object stores)."""
    root = str(tmp_path / "out")
    first = publish(root, {"v": 1})
    latest = Path(root, "LATEST")
    before = latest.stat()
    assert DatasetWriter(root, kind="documents", stage="unit", config={"v": 1}).reuse()
    after = latest.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    # LATEST naming another version is still re-pointed by the reuse
    publish(root, {"v": 2})
    assert DatasetWriter(root, kind="documents", stage="unit", config={"v": 1}).reuse()
    assert latest.read_text().strip() == Path(first).name


def test_rerunning_an_older_config_after_the_crash_points_latest_at_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = str(tmp_path / "out")
    old = publish(root, {"v": "old"})
    _commit_crashing_before_latest(monkeypatch, DatasetWriter(root, kind="documents", stage="unit", config={"v": "new"}), 3)
    assert DatasetWriter(root, kind="documents", stage="unit", config={"v": "old"}).reuse()
    assert resolve_dataset_uri(root) == old


def test_latest_never_names_a_partial_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Killed after announcing the publish but before manifest.json: readers keep the old version."""
    import storage.dataset as sd

    root = str(tmp_path / "out")
    old = publish(root, {"v": "old"})
    w = DatasetWriter(root, kind="documents", stage="unit", config={"v": "new"})
    info = w.write("data", 0, docs_table(3))
    real = sd.write_bytes_atomic

    def crash_on_manifest(uri: str, data: bytes) -> None:
        if uri.endswith("/manifest.json"):
            raise _CrashBeforeLatest(uri)
        real(uri, data)

    monkeypatch.setattr(sd, "write_bytes_atomic", crash_on_manifest)
    with pytest.raises(_CrashBeforeLatest):
        w.commit([info], Counts(input=3, kept=3))
    monkeypatch.setattr(sd, "write_bytes_atomic", real)
    assert resolve_dataset_uri(root) == old
    assert open_dataset(root).read_all().num_rows == 5
    # the rerun completes it and LATEST follows
    again = DatasetWriter(root, kind="documents", stage="unit", config={"v": "new"})
    assert not again.reuse()
    again.commit([again.write("data", 0, docs_table(3))], Counts(input=3, kept=3))
    assert resolve_dataset_uri(root) == again.location == w.location


def test_atomic_write_leaves_no_temp_file_and_replaces_whole(tmp_path: Path) -> None:
    from storage import write_bytes_atomic

    target = tmp_path / "d" / "pipeline.json"
    write_bytes_atomic(str(target), b"one")
    write_bytes_atomic(str(target), b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["pipeline.json"]


def test_exchange_paths_swaps_two_directories_in_one_step(tmp_path: Path) -> None:
    from storage import exchange_paths

    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "v").write_text("2")
    (tmp_path / "cur").mkdir()
    (tmp_path / "cur" / "v").write_text("1")
    assert exchange_paths(str(tmp_path / "new"), str(tmp_path / "cur"))  # Linux with glibc >= 2.28, as CI
    assert (tmp_path / "cur" / "v").read_text() == "2" and (tmp_path / "new" / "v").read_text() == "1"
    with pytest.raises(FileNotFoundError, match="cannot exchange"):
        exchange_paths(str(tmp_path / "new"), str(tmp_path / "missing"))
    assert (tmp_path / "new" / "v").read_text() == "1" and not (tmp_path / "missing").exists()
