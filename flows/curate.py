"""Prefect flow ``curate-nightly``: curate the new dumps that appeared in a watched folder.

Every entry of ``watch`` (a folder or file per dump, e.g. ``runs/incoming/CC-MAIN-2026-40/``)
that has not been curated yet is ingested, filtered and deduplicated *against the persisted
dedup index* ``out/dedup-index`` of everything kept so far (each night appends one segment to it,
so its cost does not grow with the history; ``longterm dedup-index compact`` merges segments).
Each dump's outputs land under ``out/<stage>/<dump>``; ``out/curated.json`` lists the dumps done
with their outputs and the index that covers them. The deployment ``curate-nightly`` in prefect.yaml
runs it on a schedule.

    from flows.curate import curate_nightly
    curate_nightly(watch="runs/incoming", out="runs/curated")
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger

from flows.deduplicate import dedup_flow
from flows.filter import filter_flow
from flows.ingest import ingest_flow
from flows.validation import require_output, require_path
from storage import write_bytes_atomic

STATE_FILE = "curated.json"


def _load_state(out: str) -> dict[str, Any]:
    path = Path(out) / STATE_FILE
    return json.loads(path.read_text()) if path.is_file() else {"dumps": {}, "index": None}


def _save_state(out: str, state: dict[str, Any]) -> None:
    # temp file, fsync, rename: a killed run (or a power loss) never leaves a half-written state file
    write_bytes_atomic(str(Path(out) / STATE_FILE), json.dumps(state, indent=2).encode())


@flow(name="curate-nightly", log_prints=True)
def curate_nightly(
    watch: str = "runs/incoming",
    out: str = "runs/curated",
    filter_config: dict[str, Any] | None = None,
    dedup_config: dict[str, Any] | None = None,
    ray_address: str | None = None,
) -> dict[str, Any]:
    """Ingest, filter and dedup (against the persisted index) each dump in ``watch`` not curated yet."""
    log = get_run_logger()
    watch = require_path("watch", watch, is_dir=True)
    out = require_output("out", out)
    state = _load_state(out)
    new = [p for p in sorted(Path(watch).iterdir()) if not p.name.startswith(".") and p.name not in state["dumps"]]
    log.info("%d new dump(s) in %s: %s", len(new), watch, [p.name for p in new])
    for dump in new:
        name = dump.name
        ingested = ingest_flow([str(dump)], os.path.join(out, "ingest", name), source=name, ray_address=ray_address)
        filtered = filter_flow(ingested, os.path.join(out, "filter", name), config=filter_config, ray_address=ray_address)
        dedup_out = os.path.join(out, "dedup", name)
        index = os.path.join(out, "dedup-index")
        deduped = dedup_flow([filtered], dedup_out, config=dedup_config, index=index, ray_address=ray_address)
        state["index"] = index  # the dedup stage appended this dump's segment to it
        state["dumps"][name] = {"ingest": ingested, "filter": filtered, "dedup": deduped}
        _save_state(out, state)  # after each dump: a failure later keeps the earlier dumps done
    return state
