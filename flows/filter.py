"""Prefect flow of the filter stage: ``filter_flow(input_uri, out, config)``.

    python -c "from flows.filter import filter_flow; filter_flow('runs/ingest', 'runs/filter')"
    longterm filter runs/ingest --out runs/filter [--config configs/filter.yaml] [--no-prefect]
"""

from __future__ import annotations

from typing import Any, Literal

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows.artifacts import publish_dataset_artifacts
from flows.run_artifacts import PrefectProgress
from flows.validation import parse_config, require_dataset, require_output
from tasks.filter import FilterConfig, run_filter


@task(name="filter-documents", cache_policy=NO_CACHE)
def filter_documents(input_uri: str, out: str, config: FilterConfig, ray_address: str | None, force: bool = False,
                     executor: str = "ray") -> str:
    return run_filter(input_uri, out, config, executor=executor, ray_address=ray_address, force=force,
                      progress=PrefectProgress("filter"))


@flow(name="filter")
def filter_flow(
    input_uri: str,
    out: str,
    config: dict[str, Any] | FilterConfig | str | None = None,
    ray_address: str | None = None,
    force: bool = False,
    executor: Literal["ray", "local"] = "ray",
) -> str:
    """Language ID + quality filters over a documents dataset; returns the published version URI.

    ``config``: FilterConfig overrides as a mapping (the same keys as a --config file) or a JSON/YAML
    file. ``force`` recomputes even when a version with the same input, config and code exists.
    Parameters are checked (a documents dataset, no unknown config keys) before any compute.
    ``executor``: ray (shards filtered by Ray actors) or local (in the flow's process: small inputs).
    """
    input_uri = require_dataset("input_uri", input_uri, kind="documents")
    out = require_output("out", out)
    cfg = parse_config("config", FilterConfig, config)
    uri = filter_documents(input_uri, out, cfg, ray_address, force, executor)
    publish_dataset_artifacts(uri, "filter")
    return uri
