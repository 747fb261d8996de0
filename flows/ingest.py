"""Prefect flow for the ingest stage: raw crawl files -> a documents dataset, plus artifacts.

    from flows.ingest import ingest_flow
    uri = ingest_flow(["runs/demo-crawl"], "runs/ingest")

or from the shell: ``longterm ingest runs/demo-crawl --out runs/ingest``. Without a configured
Prefect server (``PREFECT_API_URL``) Prefect runs it against a temporary local server.

Retries wrap only the I/O-only steps (listing the inputs, publishing artifacts to the Prefect
API); the ingest itself is deterministic compute and is not retried (a rerun of the flow is a
cheap no-op for everything already published, thanks to content addressing).
"""

from __future__ import annotations

import os
from typing import Any, Literal

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows.artifacts import publish_dataset_artifacts
from flows.run_artifacts import PrefectProgress
from flows.validation import parse_config
from tasks.ingest import IngestConfig, run_ingest
from tasks.readers import list_input_files


@task(name="ingest-list-inputs", retries=2, retry_delay_seconds=[2, 10], cache_policy=NO_CACHE)
def list_inputs(inputs: list[str]) -> dict[str, int]:
    """Resolve the inputs once up front (fails fast on a typo) and report how much there is."""
    files, skipped = list_input_files(inputs)
    readable = [f for f in files if not f.problem]  # links out of the root etc. are never stat'ed
    return {
        "files": len(readable),
        "bytes": sum(os.path.getsize(f.path) for f in readable),
        "skipped_files": len(skipped),
        "unread_paths": len(files) - len(readable),
    }


@task(name="ingest-files", cache_policy=NO_CACHE)
def ingest_files(inputs: list[str], out: str, config: IngestConfig, source: str | None, ray_address: str | None,
                 force: bool = False, executor: str = "ray") -> str:
    return run_ingest(inputs, out, config, source=source, executor=executor, ray_address=ray_address, force=force,
                      progress=PrefectProgress("ingest"))


@task(name="ingest-artifacts", retries=2, retry_delay_seconds=[2, 10], cache_policy=NO_CACHE)
def publish_artifacts(uri: str) -> dict[str, str]:
    return publish_dataset_artifacts(uri, "ingest")


@flow(name="ingest", log_prints=True)
def ingest_flow(
    inputs: list[str],
    out: str,
    source: str | None = None,
    config: dict[str, Any] | IngestConfig | str | None = None,
    ray_address: str | None = None,
    force: bool = False,
    executor: Literal["ray", "local"] = "ray",
) -> str:
    """Ingest JSONL / Parquet / WARC / WET / HTML files into a versioned documents dataset under ``out``.

    ``config``: IngestConfig overrides as a mapping or a JSON/YAML file; unknown keys fail the run at once.
    ``force`` recomputes even when a version with the same inputs, config and code exists.
    ``executor``: ray (files read by Ray tasks) or local (in the flow's process: small inputs).
    """
    config = parse_config("config", IngestConfig, config)
    listing = list_inputs(inputs)
    print(f"ingest: {listing['files']} input files, {listing['bytes'] / 1e6:.1f} MB")
    uri = ingest_files(inputs, out, config, source, ray_address, force, executor)
    publish_artifacts(uri)
    return uri
