"""tasks.runner on a real local Ray cluster: units run in Ray Data actors and results come back in order."""

from __future__ import annotations

import os

import pyarrow as pa

from storage import Counts, DatasetWriter, open_dataset, write_shard
from tasks.runner import run_units


class SquareUnit:
    """Writes one shard per unit with the squares of its numbers; setup happens once per actor."""

    def __init__(self, location: str, offset: int) -> None:
        self.location = location
        self.offset = offset
        self.pid = os.getpid()

    def __call__(self, unit: dict) -> dict:
        values = [v * v + self.offset for v in unit["values"]]
        table = pa.table({"id": [str(v) for v in values], "text": [f"n={v}" for v in values]})
        info = write_shard(self.location, "data", unit["index"], table)
        return {"shard": info.to_dict(), "pid": self.pid, "first": values[0]}


def _units(n: int) -> list[dict]:
    return [{"index": i, "values": list(range(i * 10, i * 10 + 5))} for i in range(n)]


def test_run_units_on_ray_keeps_order_and_writes_from_workers(ray_cluster, tmp_path) -> None:
    w = DatasetWriter(str(tmp_path / "out"), kind="documents", stage="square", config={"offset": 1})
    seen: list[dict] = []  # on_result: each unit's result in the driver as it finishes (progress counting)
    results = run_units(SquareUnit, _units(6), ctor_kwargs={"location": w.location, "offset": 1}, executor="ray",
                        on_result=seen.append)
    assert [r["first"] for r in results] == [(i * 10) ** 2 + 1 for i in range(6)]
    assert sorted(r["first"] for r in seen) == [r["first"] for r in results] and not any("_order" in r for r in seen)
    assert all(r["pid"] != os.getpid() for r in results), "units must run in Ray worker processes"
    from storage import ShardInfo

    shards = [ShardInfo.from_dict(r["shard"]) for r in results]
    w.commit(shards, Counts(input=30, kept=30))
    ds = open_dataset(str(tmp_path / "out"))
    assert ds.read_all().num_rows == 30


def test_local_executor_matches_ray(ray_cluster, tmp_path) -> None:
    loc_a, loc_b = str(tmp_path / "a"), str(tmp_path / "b")
    a = run_units(SquareUnit, _units(3), ctor_kwargs={"location": loc_a, "offset": 0}, executor="local")
    b = run_units(SquareUnit, _units(3), ctor_kwargs={"location": loc_b, "offset": 0}, executor="ray")
    assert [r["shard"]["sha256"] for r in a] == [r["shard"]["sha256"] for r in b]
