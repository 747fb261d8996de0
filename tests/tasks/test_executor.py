"""tasks.executor on a real local Ray cluster: the same results as in-process, errors named by unit,
the concurrency bound kept, a loopback-only cluster, and no Ray process left once the driver dies."""

from __future__ import annotations

import os
import signal
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pytest

from storage import Counts, DatasetWriter, ShardInfo, open_dataset, write_shard
from tasks.executor import UnitFailed, iter_units, map_units, session_dir, unit_label
from tasks.ray_reaper import session_pids

ROOT = Path(__file__).resolve().parents[2]


class SquareUnit:
    """Writes one shard per unit with the squares of its numbers; setup happens once per worker."""

    def __init__(self, location: str, offset: int) -> None:
        self.location = location
        self.offset = offset
        self.pid = os.getpid()

    def __call__(self, unit: dict) -> dict:
        values = [v * v + self.offset for v in unit["values"]]
        table = pa.table({"id": [str(v) for v in values], "text": [f"n={v}" for v in values]})
        info = write_shard(self.location, "data", unit["index"], table)
        return {"shard": info.to_dict(), "pid": self.pid, "first": values[0]}


def square(unit: dict) -> dict:
    return {"first": unit["values"][0] ** 2, "pid": os.getpid()}


def fails_on_two(unit: dict) -> dict:
    if unit["index"] == 2:
        raise ValueError(f"bad value {unit['values'][0]}")
    return square(unit)


def timed(unit: dict) -> dict:
    start = time.monotonic()
    time.sleep(1.0)
    return {"start": start, "end": time.monotonic(), "pid": os.getpid()}


def dies_once(unit: dict) -> dict:
    marker = Path(unit["marker"])
    if not marker.exists():
        marker.write_text("died once")
        os._exit(1)  # the worker process dies (as when killed or out of memory)
    return {"ok": unit["index"]}


def _units(n: int) -> list[dict]:
    return [{"index": i, "name": f"u{i}", "values": list(range(i * 10, i * 10 + 5))} for i in range(n)]


def _max_overlap(rows: list[dict]) -> int:
    events = sorted([(r["start"], 1) for r in rows] + [(r["end"], -1) for r in rows])
    best = now = 0
    for _, step in events:
        now += step
        best = max(best, now)
    return best


def test_class_units_run_in_ray_actors_in_order_and_write_from_workers(ray_cluster, tmp_path) -> None:
    w = DatasetWriter(str(tmp_path / "out"), kind="documents", stage="square", config={"offset": 1})
    seen: list[dict] = []  # on_result: each unit's result in the driver as it finishes (progress counting)
    results = map_units(SquareUnit, _units(6), ctor_kwargs={"location": w.location, "offset": 1}, on_result=seen.append)
    assert [r["first"] for r in results] == [(i * 10) ** 2 + 1 for i in range(6)]
    assert sorted(r["first"] for r in seen) == [r["first"] for r in results]
    assert all(r["pid"] != os.getpid() for r in results), "units must run in Ray worker processes"
    assert len({r["pid"] for r in results}) <= 2, "one actor per concurrency slot (2 CPUs), set up once each"
    w.commit([ShardInfo.from_dict(r["shard"]) for r in results], Counts(input=30, kept=30))
    assert open_dataset(str(tmp_path / "out")).read_all().num_rows == 30


@pytest.mark.parametrize("fn", [SquareUnit, square])
def test_local_and_ray_give_the_same_results(ray_cluster, tmp_path, fn) -> None:
    def run(executor: str) -> list:
        kw = {"ctor_kwargs": {"location": str(tmp_path / executor), "offset": 0}} if fn is SquareUnit else {}
        seen: list = []
        rows = map_units(fn, _units(5), executor=executor, on_result=seen.append, **kw)
        assert len(seen) == 5
        return [{k: v for k, v in r.items() if k != "pid"} for r in rows]

    assert run("local") == run("ray")


@pytest.mark.parametrize("executor", ["local", "ray"])
def test_a_failing_unit_raises_its_own_error_named_by_the_unit(ray_cluster, executor) -> None:
    with pytest.raises(ValueError, match=r"^unit 2 \(name u2\): bad value 20$") as e:
        map_units(fails_on_two, _units(4), executor=executor)
    assert "Ray" not in str(e.value)
    rows = list(iter_units(fails_on_two, _units(4), executor=executor, errors="return"))
    assert sorted(i for i, _ in rows) == [0, 1, 2, 3]
    failed = dict(rows)[2]
    assert isinstance(failed, ValueError) and str(failed) == "unit 2 (name u2): bad value 20"
    assert dict(rows)[3] == {"first": 900, "pid": dict(rows)[3]["pid"]}


def test_unit_labels_name_the_shard_or_file() -> None:
    assert unit_label({"index": 3, "shard": {"path": "data/part-00003.parquet", "rows": 5}}, 3) == "unit 3 (shard data/part-00003.parquet)"
    assert unit_label({"path": "/in/a.jsonl", "fmt": "jsonl"}, 0) == "unit 0 (path /in/a.jsonl)"
    assert unit_label({"ctx": {}, "part": 4, "round": 1}, 4) == "unit 4 (part 4, round 1)"
    assert unit_label({"ctx": {}, "shard": {"kind": "input", "info": {"path": "data/part-00001.parquet"}, "unit": 1}}, 1) == \
        "unit 1 (shard data/part-00001.parquet)"
    assert unit_label("plain", 7) == "unit 7"


@pytest.mark.parametrize("fn", [timed, "class"])
def test_concurrency_bound_is_respected(ray_cluster, fn) -> None:
    units = [{"index": i} for i in range(4)]
    if fn == "class":
        class Timed:  # noqa: D401 - a class runs as actors: one actor per slot
            def __call__(self, unit: dict) -> dict:
                return timed(unit)

        fn = Timed
    free = map_units(fn, units, concurrency=2)
    bounded = map_units(fn, units, concurrency=1)
    assert _max_overlap(free) == 2  # the cluster has 2 CPUs: without a bound two run at once
    assert _max_overlap(bounded) == 1
    if fn is not timed:
        assert len({r["pid"] for r in bounded}) == 1


@pytest.mark.parametrize("kind", ["function", "class"])
def test_a_dead_worker_is_retried_then_named(ray_cluster, tmp_path, kind) -> None:
    fn = dies_once
    if kind == "class":
        class DiesOnce:
            def __call__(self, unit: dict) -> dict:
                return dies_once(unit)

        fn = DiesOnce
    units = [{"index": i, "name": f"u{i}", "marker": str(tmp_path / f"{kind}-{i}")} for i in range(2)]
    assert map_units(fn, units, max_retries=1) == [{"ok": 0}, {"ok": 1}]
    units = [{"index": 0, "name": "again", "marker": str(tmp_path / f"{kind}-fresh")}]
    with pytest.raises(UnitFailed, match=r"^unit 0 \(name again\): the worker died"):
        map_units(fn, units, max_retries=0)


def test_unknown_executor_is_refused() -> None:
    with pytest.raises(ValueError, match="executor must be 'ray' or 'local', got 'dask'"):
        map_units(square, _units(1), executor="dask")


# ----------------------------------------------------------------------------- loopback, reaper


def _listening(pids: set[int]) -> list[str]:
    """``ip:port`` of every listening TCP socket (v4 and v6) held by ``pids``."""
    inodes: dict[str, int] = {}
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:["):
                    inodes[link[8:-1]] = pid
        except OSError:
            continue
    found = []
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        for line in Path(table).read_text().splitlines()[1:]:
            cols = line.split()
            local, state, inode = cols[1], cols[3], cols[9]
            if state != "0A" or inode not in inodes:  # 0A = LISTEN
                continue
            hexip, port = local.split(":")
            raw = bytes.fromhex(hexip)
            words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))  # /proc prints each 32-bit word little-endian
            import ipaddress

            ip = ipaddress.ip_address(words)
            if ip.version == 6 and ip.ipv4_mapped:
                ip = ip.ipv4_mapped
            found.append(f"{ip}:{int(port, 16)}")
    return found


def test_local_cluster_listens_on_loopback_only(ray_cluster) -> None:
    sd = session_dir()
    assert sd, "the test session's cluster was started by init_ray"
    pids = set(session_pids(sd)) | {os.getpid()}
    ray_cluster.get(ray_cluster.remote(lambda: 1).remote())  # at least one worker is up
    addrs = _listening(pids)
    assert addrs, "Ray's GCS and raylet listen somewhere"
    exposed = [a for a in addrs if not (a.startswith("127.") or a.startswith("::1:"))]
    assert not exposed, f"Ray processes of this session listen beyond loopback: {exposed}"


DRIVER = """
import sys, time
from tasks.executor import init_ray, map_units, session_dir
init_ray(num_cpus=1)
map_units(abs, [-1, -2])  # a worker started
print(session_dir(), flush=True)
time.sleep(600)
"""


@pytest.mark.timeout(180)
def test_ray_processes_end_with_a_killed_driver(tmp_path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("RAY_ADDRESS", None)
    driver = subprocess.Popen([sys.executable, "-c", DRIVER], stdout=subprocess.PIPE, env=env, cwd=tmp_path, text=True)
    try:
        sd = driver.stdout.readline().strip()
        assert sd and Path(sd).is_dir(), f"driver did not start a cluster (exit {driver.poll()})"
        started = session_pids(sd)
        names = {Path(f"/proc/{p}/comm").read_text().strip() for p in started if Path(f"/proc/{p}/comm").exists()}
        assert {"gcs_server", "raylet"} <= names and len(started) >= 5, names
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    deadline = time.monotonic() + 20
    while session_pids(sd) and time.monotonic() < deadline:
        time.sleep(0.5)
    left = {p: Path(f"/proc/{p}/cmdline").read_bytes()[:80] for p in session_pids(sd) if Path(f"/proc/{p}").exists()}
    assert not left, f"Ray processes outlived the killed driver by 20 s: {left}"


STARTING_DRIVER = """
from tasks.executor import init_ray
init_ray(num_cpus=1)
import time; time.sleep(600)
"""


@pytest.mark.timeout(180)
def test_a_driver_killed_while_ray_starts_leaves_no_process() -> None:
    """Killed inside ray.init (the session dir exists, init has not returned): before, the reaper
    started only after init, so the agents Ray had started outlived the driver (benchmarks.faults:
    1-3 survivors of a kill at half a stage's run)."""
    parent = tempfile.mkdtemp(prefix="lt", dir="/tmp")  # short: Ray's socket paths live under it
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LONGTERM_RAY_TMP": parent}
    env.pop("RAY_ADDRESS", None)
    driver = subprocess.Popen([sys.executable, "-c", STARTING_DRIVER], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not list(Path(parent).glob("ltray-*/session_*/logs/*")) and time.monotonic() < deadline:
            time.sleep(0.02)
        roots = list(Path(parent).glob("ltray-*"))
        assert len(roots) == 1, f"init_ray keeps the cluster under one private root in LONGTERM_RAY_TMP: {roots}"
        assert session_pids(str(roots[0])), "Ray had started processes when the driver was killed"
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    deadline = time.monotonic() + 20
    while session_pids(str(roots[0])) and time.monotonic() < deadline:
        time.sleep(0.5)
    left = {p: Path(f"/proc/{p}/cmdline").read_bytes()[:80] for p in session_pids(str(roots[0])) if Path(f"/proc/{p}").exists()}
    shutil.rmtree(parent, ignore_errors=True)
    assert not left, f"Ray processes outlived a driver killed during ray.init by 20 s: {left}"
