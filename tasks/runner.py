"""Run a per-unit processor over many units (input files or input shards) on Ray Data.

Every stage of the data plane has the same shape: a list of independent *units* (an input
file for ingest, an input shard for filter/tokenize, a band partition for dedup), each
processed by a worker that streams through its unit with bounded memory, writes its own
output shards straight into the staging version of the output dataset (``storage.write_shard``)
and returns a small metadata row (shard infos and counts). The driver collects those rows and
publishes the manifest. Nothing large ever passes through the driver.

``processor_cls`` is a callable class: ``__init__(**ctor_kwargs)`` does expensive setup once
per Ray actor (load fastText, a tokenizer); ``__call__(unit: dict) -> dict`` processes one unit.

    results = run_units(FilterUnit, units, ctor_kwargs={"cfg": cfg})      # Ray Data actors
    results = run_units(FilterUnit, units, executor="local")              # same code, in-process

``RAY_ADDRESS`` (or ``ray_address=``) joins an existing cluster; otherwise a local cluster
is started. Workers of a local cluster get this repository on ``PYTHONPATH``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

REPO_ROOT = str(Path(__file__).resolve().parents[1])


def init_ray(address: str | None = None, num_cpus: int | None = None) -> None:
    """Start or join Ray once per process (idempotent)."""
    import ray

    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS") or None
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    # Ray starts workers at niceness 15, which starves a stage's workers on a shared machine.
    os.environ.setdefault("RAY_worker_niceness", "0")
    kwargs: dict[str, Any] = {
        "ignore_reinit_error": True,
        "include_dashboard": False,
        "log_to_driver": True,
        "logging_level": logging.WARNING,
    }
    if address:
        kwargs["address"] = address
    else:
        if num_cpus is None and os.environ.get("LONGTERM_RAY_CPUS"):
            num_cpus = int(os.environ["LONGTERM_RAY_CPUS"])
        if num_cpus:
            kwargs["num_cpus"] = num_cpus
        existing = os.environ.get("PYTHONPATH", "")
        paths = [REPO_ROOT] + ([existing] if existing else [])
        kwargs["runtime_env"] = {"env_vars": {"PYTHONPATH": os.pathsep.join(paths)}}
    ray.init(**kwargs)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False


class _RayAdapter:
    """Wraps a processor class for ``map_batches``: one unit per batch, JSON in, JSON out."""

    def __init__(self, processor_cls: type, ctor_kwargs: dict[str, Any]) -> None:
        self.processor = processor_cls(**ctor_kwargs)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        out = []
        for unit_json in batch["unit"]:
            unit = json.loads(unit_json)
            order = unit.pop("_order")
            result = dict(self.processor(unit))
            result["_order"] = order
            out.append(json.dumps(result, default=str))
        return {"result": out}


def run_units(
    processor_cls: type,
    units: Sequence[dict[str, Any]],
    *,
    ctor_kwargs: dict[str, Any] | None = None,
    executor: str = "ray",
    ray_address: str | None = None,
    concurrency: int | None = None,
    num_cpus_per_worker: float = 1.0,
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Process every unit and return the workers' result dicts in unit order.

    Units and results must be JSON-serialisable (they are small: paths, counts, shard infos).
    ``on_result(result)`` is called in the driver as each unit finishes (in completion order):
    drivers count progress with it (tasks/progress.py).
    """
    ctor_kwargs = ctor_kwargs or {}
    if not units:
        return []
    if executor == "local":
        processor = processor_cls(**ctor_kwargs)
        out = []
        for u in units:
            out.append(processor(dict(u)))
            if on_result is not None:
                on_result(out[-1])
        return out
    if executor != "ray":
        raise ValueError(f"executor must be 'ray' or 'local', got {executor!r}")

    import ray

    init_ray(ray_address)
    total_cpus = int(ray.cluster_resources().get("CPU", 1))
    workers = concurrency or max(1, min(len(units), int(total_cpus / num_cpus_per_worker)))
    items = [{"unit": json.dumps({**u, "_order": i}, default=str)} for i, u in enumerate(units)]
    ds = ray.data.from_items(items, override_num_blocks=len(items))
    ds = ds.map_batches(
        _RayAdapter,
        fn_constructor_kwargs={"processor_cls": processor_cls, "ctor_kwargs": ctor_kwargs},
        batch_size=1,
        compute=ray.data.ActorPoolStrategy(size=workers),
        num_cpus=num_cpus_per_worker,
        batch_format="default",
    )
    results = []
    for row in ds.iter_rows():  # streams: a unit's row arrives when its actor finishes it
        results.append(json.loads(row["result"]))
        if on_result is not None:
            on_result({k: v for k, v in results[-1].items() if k != "_order"})
    results.sort(key=lambda r: r.get("_order", 0))
    for r in results:
        r.pop("_order", None)
    return results
