"""Prefect flow: remix a document dataset to target group proportions, then publish the mixture.

    from flows.remix import remix_flow
    uri = remix_flow("runs/dedup", "runs/remix", "configs/remix.yaml")

or ``longterm remix runs/dedup --out runs/remix --config configs/remix.yaml`` (deployment ``remix``).
Without ``config`` the repository's ``configs/remix.yaml`` is used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows.artifacts import publish_dataset_artifacts
from flows.run_artifacts import PrefectProgress
from flows.token_artifacts import publish_mixture_artifacts
from flows.validation import parse_config, require_dataset, require_output
from tasks.ops.remix import RemixConfig
from tasks.remix import run_remix

DEFAULT_CONFIG = str(Path(__file__).resolve().parents[1] / "configs" / "remix.yaml")


@task(name="remix-documents", cache_policy=NO_CACHE)
def remix_task(input_uri: str, out: str, config: RemixConfig, ray_address: str | None, force: bool = False) -> str:
    return run_remix(input_uri, out, config, executor="ray", ray_address=ray_address, force=force, progress=PrefectProgress("remix"))


@task(name="remix-artifacts", retries=2, retry_delay_seconds=[2, 10], cache_policy=NO_CACHE)
def publish_artifacts(uri: str) -> None:
    publish_dataset_artifacts(uri, "remix")
    publish_mixture_artifacts(uri)


@flow(name="remix", log_prints=True)
def remix_flow(
    input_uri: str,
    out: str,
    config: dict[str, Any] | RemixConfig | str | None = None,
    ray_address: str | None = None,
    force: bool = False,
) -> str:
    """Resample ``input_uri`` to the per-language group shares of ``config`` into a new version under ``out``.

    ``force`` recomputes even when a version with the same input, config and code exists.

    ``config``: RemixConfig fields (targets, groups, unit, scale, max_repeats, seed) as a mapping or a
    JSON/YAML file; default ``configs/remix.yaml``.
    """
    input_uri = require_dataset("input_uri", input_uri, kind="documents")
    out = require_output("out", out)
    cfg = parse_config("config", RemixConfig, DEFAULT_CONFIG if config is None else config)
    uri = remix_task(input_uri, out, cfg, ray_address, force)
    publish_artifacts(uri)
    return uri
