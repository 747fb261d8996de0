"""Prefect flow ``curate-nightly``: curate the new dumps that appeared in a watched folder.

Every entry of ``watch`` (a folder or file per dump, e.g. ``runs/incoming/CC-MAIN-2026-40/``)
that has not been curated yet is ingested, filtered and deduplicated *against the persisted
dedup index* ``out/dedup-index`` of everything kept so far (each night appends one segment to it,
so its cost does not grow with the history; ``longterm dedup-index compact`` merges segments).
Each dump's outputs land under ``out/<stage>/<dump>``; ``out/curated.json`` lists the dumps done
with their outputs, their conservation counts and the index that covers them. The deployment
``curate-nightly`` in prefect.yaml runs it on a schedule.

    from flows.curate import curate_nightly
    curate_nightly(watch="runs/incoming", out="runs/curated")

Drop a dump in whole: copy it under a name starting with ``.`` and rename it (names starting
with ``.`` are skipped), or a run may curate half of it. One run at a time writes ``out``
(``out/.curate-nightly.lock``): a run started while another is curating (a manual run beside the
schedule) waits for it, then finds only what is still new. A rerun is a no-op: the stages reuse
their content-addressed versions and the index is not touched.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from flows.artifacts import artifact_key
from flows.deduplicate import dedup_flow
from flows.filter import filter_flow
from flows.ingest import ingest_flow
from flows.validation import require_output, require_path
from storage import open_dataset, write_bytes_atomic
from storage.lock import FileLock

STATE_FILE = "curated.json"
LOCK_FILE = ".curate-nightly.lock"
LOCK_WAIT_S = 6 * 3600.0  # a run waits this long for another one writing the same out, then fails
STAGES = ("ingest", "filter", "dedup")


def _load_state(out: str) -> dict[str, Any]:
    path = Path(out) / STATE_FILE
    return json.loads(path.read_text()) if path.is_file() else {"dumps": {}, "index": None}


def _save_state(out: str, state: dict[str, Any]) -> None:
    # temp file, fsync, rename: a killed run (or a power loss) never leaves a half-written state file
    write_bytes_atomic(str(Path(out) / STATE_FILE), json.dumps(state, indent=2).encode())


def _run_lock(out: str, wait_s: float) -> FileLock:
    """``fcntl.flock`` on ``out/.curate-nightly.lock``: one run writes ``out`` at a time.

    Without it two runs both take a new dump for theirs and race on its stage outputs and on
    ``curated.json`` (the last writer drops the other's dumps)."""
    return FileLock(os.path.join(out, LOCK_FILE), wait_s, purpose="curate-nightly", what="curate-nightly")


def night_counts(outputs: dict[str, str]) -> dict[str, Any]:
    """One dump's funnel over ingest -> filter -> dedup: ``input = kept + sum(dropped) + quarantined``.

    ``dropped`` is keyed ``<stage>/<reason>``. Raises when a stage's input is not the previous
    stage's kept documents (documents lost between the stages)."""
    counts = {s: open_dataset(outputs[s]).manifest.counts for s in STAGES}
    for prev, cur in zip(STAGES, STAGES[1:]):
        if counts[cur].input != counts[prev].kept:
            raise RuntimeError(f"{outputs[cur]}: {cur} read {counts[cur].input} documents, {prev} kept {counts[prev].kept}")
    dropped = {f"{s}/{reason}": n for s in STAGES for reason, n in sorted(counts[s].dropped.items()) if n}
    night = {"input": counts["ingest"].input, "kept": counts["dedup"].kept, "dropped": dropped,
             "quarantined": sum(c.quarantined for c in counts.values())}
    assert night["input"] == night["kept"] + sum(dropped.values()) + night["quarantined"], night
    return night


def night_rows(state: dict[str, Any]) -> list[dict[str, Any]]:
    """The artifact table: one row per dump curated, in the order they were."""
    rows = []
    for name, entry in state["dumps"].items():
        c = entry.get("counts") or night_counts(entry)
        by_stage = {s: sum(n for k, n in c["dropped"].items() if k.startswith(s + "/")) for s in STAGES}
        rows.append({"dump": name, "input": c["input"], "quarantined": c["quarantined"], "dropped_ingest": by_stage["ingest"],
                     "dropped_filter": by_stage["filter"], "dropped_dedup": by_stage["dedup"], "kept": c["kept"]})
    return rows


def _curate_dump(dump: Path, out: str, filter_config: dict[str, Any] | None, dedup_config: dict[str, Any] | None,
                 executor: str, ray_address: str | None) -> dict[str, Any]:
    """ingest -> filter -> dedup of one dump (against and appended to ``out/dedup-index``); its state entry."""
    name = dump.name
    ingested = ingest_flow([str(dump)], os.path.join(out, "ingest", name), source=name, ray_address=ray_address, executor=executor)
    filtered = filter_flow(ingested, os.path.join(out, "filter", name), config=filter_config, ray_address=ray_address,
                           executor=executor)
    deduped = dedup_flow([filtered], os.path.join(out, "dedup", name), config=dedup_config, index=os.path.join(out, "dedup-index"),
                         executor=executor, ray_address=ray_address)
    outputs = {"ingest": ingested, "filter": filtered, "dedup": deduped}
    return {**outputs, "counts": night_counts(outputs)}


@flow(name="curate-nightly", log_prints=True)
def curate_nightly(
    watch: str = "runs/incoming",
    out: str = "runs/curated",
    filter_config: dict[str, Any] | None = None,
    dedup_config: dict[str, Any] | None = None,
    ray_address: str | None = None,
    executor: Literal["ray", "local"] = "ray",
) -> dict[str, Any]:
    """Ingest, filter and dedup (against the persisted index) each dump in ``watch`` not curated yet.

    A dump that fails (an empty folder, a broken file the stages refuse) is recorded under
    ``failed`` in curated.json and tried again by the next run; the dumps after it are still
    curated, then the run fails naming it.

    Args:
        executor: ray (each stage on a Ray cluster) or local (in the flow's process: small dumps).
    """
    log = get_run_logger()
    watch = require_path("watch", watch, is_dir=True)
    out = require_output("out", out)
    with _run_lock(out, LOCK_WAIT_S):
        state = _load_state(out)
        new = [p for p in sorted(Path(watch).iterdir()) if not p.name.startswith(".") and p.name not in state["dumps"]]
        log.info("%d new dump(s) in %s: %s", len(new), watch, [p.name for p in new])
        failed: dict[str, str] = {}
        for dump in new:
            try:
                entry = _curate_dump(dump, out, filter_config, dedup_config, executor, ray_address)
            except Exception as e:  # one bad dump must not keep every later night from curating the rest
                failed[dump.name] = f"{type(e).__name__}: {e}"
                log.error("%s failed, continuing with the next dump: %s", dump.name, failed[dump.name])
                continue
            state["index"] = os.path.join(out, "dedup-index")  # the dedup stage appended this dump's segment to it
            state["dumps"][dump.name] = entry
            _save_state(out, state)  # after each dump: a failure later keeps the earlier dumps done
            c = entry["counts"]
            log.info("%s: %d in, %d kept, %d dropped, %d quarantined", dump.name, c["input"], c["kept"],
                     sum(c["dropped"].values()), c["quarantined"])
        if failed or state.get("failed"):
            state["failed"] = failed
            _save_state(out, state)
    if state["dumps"]:
        create_table_artifact(key=artifact_key("curate-nightly", "dumps"), table=night_rows(state),
                              description="Dumps curated so far: input = kept + dropped (per stage) + quarantined")
    if failed:
        raise RuntimeError(f"curate-nightly: {len(failed)} dump(s) failed (the others are curated; the next run retries them): "
                           + "; ".join(f"{k}: {v}" for k, v in failed.items()))
    return state
