"""The only Ray-aware module of ``dedup/``: run a phase's units on Ray (or in-process).

A unit function is a plain module-level function ``fn(unit: dict) -> dict`` (small JSON-able
dicts in and out; data moves through checksummed files, never through Ray's object store).
Every result gets ``_cpu_s`` (CPU seconds of the unit) and ``_peak_rss_mb`` (peak RSS of the
worker process so far), which the pipeline sums / maxes per phase for the benchmarks.

- ``executor="local"``: a loop in this process (tests of the algorithms, debugging).
- ``executor="ray"``: one Ray task per unit, at most ``max_workers`` in flight, results in
  unit order. ``use_ray_data=True`` runs the units through Ray Data ``map_batches`` instead
  (one unit per batch, actors pinned to ``max_workers``): used for the signature phase.

Ray must already be initialised by the caller (``tasks.runner.init_ray``), which also puts
this repository on the workers' ``PYTHONPATH``.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

UnitFn = Callable[[dict[str, Any]], dict[str, Any]]


def run_measured(fn: UnitFn, unit: dict[str, Any]) -> dict[str, Any]:
    """Run one unit and add its CPU seconds and the worker's peak RSS (MB) to the result."""
    cpu = time.process_time()
    result = dict(fn(unit))
    result["_cpu_s"] = time.process_time() - cpu
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result["_peak_rss_mb"] = rss / (1 << 20) if sys.platform == "darwin" else rss / 1024
    return result


def cluster_cpus() -> int:
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", 1)))


class _BatchAdapter:
    def __init__(self, fn: UnitFn) -> None:
        self.fn = fn

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        return {"result": [json.dumps(run_measured(self.fn, json.loads(u)), default=str) for u in batch["unit"]]}


def run_units(
    fn: UnitFn,
    units: Sequence[dict[str, Any]],
    *,
    executor: str = "ray",
    max_workers: int | None = None,
    use_ray_data: bool = False,
) -> list[dict[str, Any]]:
    """Run ``fn`` on every unit; return the results in unit order."""
    if not units:
        return []
    if executor == "local":
        return [run_measured(fn, dict(u)) for u in units]
    if executor != "ray":
        raise ValueError(f"executor must be 'ray' or 'local', got {executor!r}")
    import ray

    if not ray.is_initialized():
        raise RuntimeError("dedup.ray_ops: Ray is not initialised; call tasks.runner.init_ray() first")
    workers = max(1, min(len(units), max_workers or cluster_cpus()))
    if use_ray_data:
        items = [{"unit": json.dumps({**u, "_order": i}, default=str)} for i, u in enumerate(units)]
        ds = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
            _BatchAdapter, fn_constructor_kwargs={"fn": _ordered(fn)}, batch_size=1, concurrency=workers,
            num_cpus=1, batch_format="default",
        )
        results = [json.loads(r["result"]) for r in ds.take_all()]
        results.sort(key=lambda r: r.pop("_order"))
        return results
    remote = ray.remote(num_cpus=1, max_retries=2)(run_measured)
    pending: dict[Any, int] = {}
    results: list[dict[str, Any] | None] = [None] * len(units)
    next_unit = 0
    while next_unit < len(units) or pending:
        while next_unit < len(units) and len(pending) < workers:
            pending[remote.remote(fn, dict(units[next_unit]))] = next_unit
            next_unit += 1
        done, _ = ray.wait(list(pending), num_returns=1)
        for ref in done:
            results[pending.pop(ref)] = ray.get(ref)
    return [r for r in results if r is not None]


def _ordered(fn: UnitFn) -> UnitFn:
    return _OrderedFn(fn)


class _OrderedFn:
    """Carries the unit's ``_order`` through to the result (Ray Data does not keep order)."""

    def __init__(self, fn: UnitFn) -> None:
        self.fn = fn

    def __call__(self, unit: dict[str, Any]) -> dict[str, Any]:
        order = unit.pop("_order")
        return {**self.fn(unit), "_order": order}
