"""The one place that talks to Ray: start or join a cluster, and map a unit function over units.

Every stage has the same shape: a list of small, JSON-able *units* (an input file, an input
shard, a dedup partition, a scaling-study run), each processed by a worker that reads and writes
its own files and returns a small result dict. Nothing large passes through the driver.

    results = map_units(unit_fn, units)                                      # Ray tasks
    results = map_units(FilterShardProcessor, units, ctor_kwargs={...})      # Ray actors
    results = map_units(FilterShardProcessor, units, ctor_kwargs={...}, executor="local")

- ``fn_or_class``: a function ``fn(unit) -> result``, or a class whose ``__init__(**ctor_kwargs)``
  does the expensive setup once per worker (load fastText, a tokenizer) and whose
  ``__call__(unit) -> result`` processes one unit.
- ``executor="ray"``: at most ``concurrency`` units in flight (default: as many as the cluster's
  CPUs fit ``resources``); a class gets ``concurrency`` actors. ``executor="local"``: the same
  calls, one after another, in this process.
- Results come back in unit order. A unit that raises ends the map with *its own* exception (the
  type is kept, the message starts with the unit's name, e.g. ``unit 3 (shard data/part-00003...)``);
  a worker or actor that dies is retried ``max_retries`` times, then fails the same way.
  ``iter_units(..., errors="return")`` yields ``(index, result or exception)`` as units finish.

``init_ray()`` joins ``RAY_ADDRESS`` (or ``address=``) when set. Otherwise it starts a local
cluster bound to the loopback interface only (no Ray port is reachable from another machine) and
a reaper (``tasks/ray_reaper.py``) that ends every process of that cluster when the driver exits,
even by ``kill -9``. Workers of a local cluster get this repository on ``PYTHONPATH``.
"""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

REPO_ROOT = str(Path(__file__).resolve().parents[1])
EXECUTORS = ("ray", "local")
DEFAULT_RESOURCES = {"num_cpus": 1.0}
LOOPBACK = "127.0.0.1"

_session: dict[str, Any] = {}  # the local cluster this process started: session_dir, reaper


def init_ray(address: str | None = None, num_cpus: int | None = None) -> None:
    """Start or join Ray once per process (idempotent). ``LONGTERM_RAY_CPUS`` caps a local cluster."""
    address = address or os.environ.get("RAY_ADDRESS") or None
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    # Ray starts workers at niceness 15, which starves a stage's workers on a shared machine.
    os.environ.setdefault("RAY_worker_niceness", "0")
    if not address:
        # Ray turns _node_ip_address="127.0.0.1" into the machine's public IP and then binds every
        # gRPC server to it (or to all interfaces) unless "clusters" are disabled: with them
        # disabled every server of a local cluster binds the loopback address. The children read
        # the environment, this process reads the constant.
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    import ray

    if ray.is_initialized():
        return
    kwargs: dict[str, Any] = {
        "ignore_reinit_error": True,
        "include_dashboard": False,
        "log_to_driver": True,
        "logging_level": logging.WARNING,
    }
    if address:
        kwargs["address"] = address
    else:
        from ray._private import ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = False
        if num_cpus is None and os.environ.get("LONGTERM_RAY_CPUS"):
            num_cpus = int(os.environ["LONGTERM_RAY_CPUS"])
        if num_cpus:
            kwargs["num_cpus"] = num_cpus
        existing = os.environ.get("PYTHONPATH", "")
        paths = [REPO_ROOT] + ([existing] if existing else [])
        kwargs["runtime_env"] = {"env_vars": {"PYTHONPATH": os.pathsep.join(paths)}}
        kwargs["_node_ip_address"] = LOOPBACK
        # a private temp root, watched from before ray.init: a driver killed while the cluster is
        # still starting leaves no agent behind (the session dir is only known after init)
        root = tempfile.mkdtemp(prefix="ltray-", dir=os.environ.get("LONGTERM_RAY_TMP", "/tmp"))  # short: Ray's socket paths live under it
        kwargs["_temp_dir"] = root
        _session.update(temp_root=root, reaper=_start_reaper(root))
    ctx = ray.init(**kwargs)
    if not address:
        _session["session_dir"] = ctx.address_info["session_dir"]


def session_dir() -> str | None:
    """The session directory of the local cluster this process started (None when joined or not started)."""
    return _session.get("session_dir")


def _start_reaper(root: str) -> subprocess.Popen:
    """A watchdog that holds the read end of a pipe whose write end only this process has: when
    this process exits (however it exits), the pipe closes and the watchdog ends the session."""
    read_fd, write_fd = os.pipe()  # both non-inheritable: no Ray child holds the write end
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([REPO_ROOT] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tasks.ray_reaper", root], stdin=read_fd, env=env, cwd=REPO_ROOT,
        start_new_session=True,  # a Ctrl-C or a kill of the driver's process group leaves it running to clean up
    )
    os.close(read_fd)
    _session["reaper_pipe"] = write_fd  # kept open for the life of this process
    return proc


def check_executor(executor: str) -> None:
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be 'ray' or 'local', got {executor!r}")


def unit_label(unit: Any, index: int) -> str:
    """``unit 3 (shard data/part-00003.parquet)``: the unit's position and what it works on."""
    parts = []
    if isinstance(unit, dict):
        for key in ("name", "id", "path", "shard", "file", "part", "round"):
            value = unit.get(key)
            if isinstance(value, dict):  # a shard's info, or dedup's {"info": {...}, "unit": n}
                info = value.get("info") if isinstance(value.get("info"), dict) else {}
                value = value.get("path") or info.get("path") or value.get("name") or value.get("unit")
            if value is not None and not isinstance(value, (dict, list)):
                parts.append(f"{key} {value}")
    return f"unit {index}" + (f" ({', '.join(parts)})" if parts else "")


def _named(exc: BaseException, label: str) -> BaseException:
    """The unit's own exception, its message prefixed with the unit's name (type kept)."""
    if exc.args and isinstance(exc.args[0], str):
        if not exc.args[0].startswith(label):
            exc.args = (f"{label}: {exc.args[0]}", *exc.args[1:])
    else:
        exc.add_note(f"while processing {label}")
    return exc


class UnitFailed(RuntimeError):
    """A unit's worker or actor died (killed, out of memory) and retries were used up."""


def map_units(
    fn_or_class: Callable[..., Any],
    units: Sequence[Any],
    *,
    executor: str = "ray",
    concurrency: int | None = None,
    resources: dict[str, Any] | None = None,
    ctor_kwargs: dict[str, Any] | None = None,
    address: str | None = None,
    max_retries: int = 2,
    on_result: Callable[[Any], None] | None = None,
) -> list[Any]:
    """Process every unit; return the results in unit order (see the module docstring).

    ``on_result(result)`` is called in the driver as each unit finishes (completion order): stage
    drivers count progress with it (tasks/progress.py)."""
    results: list[Any] = [None] * len(units)
    for i, result in iter_units(fn_or_class, units, executor=executor, concurrency=concurrency, resources=resources,
                                ctor_kwargs=ctor_kwargs, address=address, max_retries=max_retries):
        results[i] = result
        if on_result is not None:
            on_result(result)
    return results


def iter_units(
    fn_or_class: Callable[..., Any],
    units: Sequence[Any],
    *,
    executor: str = "ray",
    concurrency: int | None = None,
    resources: dict[str, Any] | None = None,
    ctor_kwargs: dict[str, Any] | None = None,
    address: str | None = None,
    max_retries: int = 2,
    errors: str = "raise",
) -> Iterator[tuple[int, Any]]:
    """Yield ``(unit index, result)`` as units finish. ``errors="return"`` yields a failed unit's
    exception (named as in ``map_units``) instead of raising it, and carries on with the rest."""
    check_executor(executor)
    if errors not in ("raise", "return"):
        raise ValueError(f"errors must be 'raise' or 'return', got {errors!r}")
    if not units:
        return
    if executor == "local":
        yield from _iter_local(fn_or_class, units, ctor_kwargs or {}, errors)
    else:
        yield from _iter_ray(fn_or_class, units, concurrency, {**DEFAULT_RESOURCES, **(resources or {})},
                             ctor_kwargs or {}, address, max_retries, errors)


def _copy(unit: Any) -> Any:
    return dict(unit) if isinstance(unit, dict) else unit


def _iter_local(fn_or_class: Any, units: Sequence[Any], ctor_kwargs: dict[str, Any], errors: str) -> Iterator[tuple[int, Any]]:
    call = fn_or_class(**ctor_kwargs) if isinstance(fn_or_class, type) else fn_or_class
    for i, unit in enumerate(units):
        try:
            result = call(_copy(unit))
        except Exception as e:  # noqa: BLE001 - named and re-raised (or returned on request)
            _named(e, unit_label(unit, i))
            if errors == "raise":
                raise
            result = e
        yield i, result


def _call_unit(fn: Callable[[Any], Any], unit: Any) -> Any:
    return fn(unit)


class UnitWorker:
    """One worker of a class's actor pool (process title ``ray::UnitWorker``): set up once, then one unit per call."""

    def __init__(self, cls: type, ctor_kwargs: dict[str, Any]) -> None:
        self.processor = cls(**ctor_kwargs)

    def run(self, unit: Any) -> Any:
        return self.processor(unit)


def _iter_ray(fn_or_class: Any, units: Sequence[Any], concurrency: int | None, resources: dict[str, Any],
              ctor_kwargs: dict[str, Any], address: str | None, max_retries: int, errors: str) -> Iterator[tuple[int, Any]]:
    import ray
    from ray.exceptions import RayActorError, RayTaskError

    init_ray(address)
    if concurrency is None:
        cpus = float(ray.cluster_resources().get("CPU", 1))
        per_unit = float(resources.get("num_cpus") or 0)
        concurrency = int(cpus // per_unit) if per_unit > 0 else len(units)
    slots = max(1, min(len(units), concurrency))
    is_class = isinstance(fn_or_class, type)
    if is_class:
        actor_cls = ray.remote(UnitWorker).options(**resources)
        free = [actor_cls.remote(fn_or_class, ctor_kwargs) for _ in range(slots)]

        def submit(i: int) -> tuple[Any, Any]:
            actor = free.pop()
            return actor.run.remote(_copy(units[i])), actor
    else:
        task = ray.remote(_call_unit).options(**resources, max_retries=max_retries)
        fn_ref = ray.put(fn_or_class)

        def submit(i: int) -> tuple[Any, Any]:
            return task.remote(fn_ref, _copy(units[i])), None

    pending: dict[Any, tuple[int, Any]] = {}
    attempts = [0] * len(units)
    queue = list(range(len(units)))[::-1]  # popped from the end: unit order
    try:
        while queue or pending:
            while queue and len(pending) < slots:
                i = queue.pop()
                ref, actor = submit(i)
                pending[ref] = (i, actor)
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                i, actor = pending.pop(ref)
                label = unit_label(units[i], i)
                try:
                    result = ray.get(ref)
                except RayTaskError as e:  # the unit raised: its own exception, named
                    cause = e.cause if isinstance(getattr(e, "cause", None), Exception) else None
                    result = _named(cause, label) if cause is not None else UnitFailed(f"{label}: {e}")
                    if cause is not None and getattr(e, "traceback_str", ""):
                        cause.add_note(f"worker traceback:\n{e.traceback_str}")
                except (RayActorError, ray.exceptions.RayError) as e:  # the worker died (killed, OOM)
                    if actor is not None:
                        ray.kill(actor)
                        actor = actor_cls.remote(fn_or_class, ctor_kwargs)
                    if attempts[i] < max_retries and is_class:
                        attempts[i] += 1
                        log.warning("%s: worker died (%s); retrying (%d/%d)", label, type(e).__name__, attempts[i], max_retries)
                        free.append(actor)
                        queue.append(i)
                        continue
                    result = UnitFailed(f"{label}: the worker died: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
                if actor is not None:
                    free.append(actor)
                if isinstance(result, BaseException) and errors == "raise":
                    raise result
                yield i, result
    finally:  # a failed unit (or a consumer that stops early) leaves nothing running
        if not is_class:
            for ref in pending:
                ray.cancel(ref, force=True)
        else:
            for actor in free + [a for _, a in pending.values() if a is not None]:
                ray.kill(actor)
