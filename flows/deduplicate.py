"""Prefect flow of the dedup stage: ``dedup_flow`` runs ``tasks.dedup.run_dedup`` and publishes
the funnel, summary and manifest artifacts plus the DeepSeek-Table-1 style report.

    python -c "from flows.deduplicate import dedup_flow; dedup_flow(['runs/filter'], 'runs/dedup')"
    longterm dedup runs/filter --out runs/dedup            # the same through the CLI
"""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.artifacts import create_table_artifact

from flows.artifacts import artifact_key, publish_dataset_artifacts
from flows.run_artifacts import PrefectProgress
from flows.validation import parse_config, require_datasets, require_output
from storage import open_dataset
from tasks.dedup import DedupConfig, run_dedup


@task(name="dedup")
def dedup_task(inputs: list[str], out: str, config: DedupConfig, index: str | None, executor: str, ray_address: str | None,
               force: bool = False) -> str:
    return run_dedup(inputs, out, config, index=index, executor=executor, ray_address=ray_address, force=force,
                     progress=PrefectProgress("dedup"))  # live: units done / total of each phase, docs/s, ETA


def by_dumps_rows(stats: dict[str, Any]) -> list[dict[str, Any]]:
    """Table 1 rows: dumps deduplicated together -> documents, removed, removed %."""
    return [
        {"dumps_together": r["dumps"], "documents": r["documents"], "removed": r["removed"], "removed_pct": r["removed_pct"],
         "dumps": ", ".join(r["names"])}
        for r in stats.get("dedup_by_dumps", [])
    ]


def cluster_rows(stats: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"cluster_size": int(k), "clusters": v} for k, v in sorted(stats.get("cluster_sizes", {}).items(), key=lambda kv: int(kv[0]))]


@flow(name="dedup")
def dedup_flow(
    inputs: list[str],
    out: str,
    config: dict[str, Any] | DedupConfig | str | None = None,
    index: str | None = None,
    executor: str = "ray",
    ray_address: str | None = None,
    force: bool = False,
) -> str:
    """Exact + URL + MinHash dedup of all ``inputs`` together, against and appended to the dedup index ``index``.

    ``force`` recomputes every phase even when a version with the same inputs, config and code exists.

    ``config``: DedupConfig fields (``minhash`` nested) as a mapping or a JSON/YAML file; parameters are
    checked (datasets exist and are documents, no unknown config keys) before any compute.
    """
    inputs = require_datasets("inputs", inputs, kind="documents")
    out = require_output("out", out)
    cfg = parse_config("config", DedupConfig, config)
    uri = dedup_task(inputs, out, cfg, index, executor, ray_address, force)
    publish_dataset_artifacts(uri, "dedup")
    stats = open_dataset(uri).manifest.stats
    create_table_artifact(
        key=artifact_key("dedup", "by-dumps"), table=by_dumps_rows(stats),
        description="Documents removed when deduplicating across 1, 2, 4, ... dumps (DeepSeek LLM Table 1, from the clusters)",
    )
    create_table_artifact(key=artifact_key("dedup", "cluster-sizes"), table=cluster_rows(stats), description="Duplicate cluster sizes")
    return uri
