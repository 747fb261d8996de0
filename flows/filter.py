"""Prefect flow of the filter stage: ``filter_flow(input_uri, out, config)``.

    python -c "from flows.filter import filter_flow; filter_flow('runs/ingest', 'runs/filter')"
    longterm filter runs/ingest --out runs/filter [--config configs/filter.yaml] [--no-prefect]
"""

from __future__ import annotations

from typing import Any

from prefect import flow, task

from flows.artifacts import publish_dataset_artifacts
from flows.validation import ParameterError, require_dataset, require_output
from tasks.filter import FilterConfig, run_filter


@task(name="filter-documents")
def filter_documents(input_uri: str, out: str, config: dict[str, Any], ray_address: str | None, force: bool = False) -> str:
    return run_filter(input_uri, out, FilterConfig.from_dict(config), ray_address=ray_address, force=force)


@flow(name="filter")
def filter_flow(
    input_uri: str,
    out: str,
    config: dict[str, Any] | None = None,
    ray_address: str | None = None,
    force: bool = False,
) -> str:
    """Language ID + quality filters over a documents dataset; returns the published version URI.

    ``config`` is a partial FilterConfig as a mapping (the same keys as a --config file).
    ``force`` recomputes even when a version with the same input, config and code exists.
    Parameters are checked (a documents dataset, no unknown config keys) before any compute.
    """
    input_uri = require_dataset("input_uri", input_uri, kind="documents")
    out = require_output("out", out)
    try:
        FilterConfig.from_dict(config or {})
    except (ValueError, TypeError) as e:
        raise ParameterError("config", str(e)) from e
    uri = filter_documents(input_uri, out, config or {}, ray_address, force)
    publish_dataset_artifacts(uri, "filter")
    return uri
