"""Prefect flow: tokenize a document dataset into token shards, then publish counts as artifacts.

    from flows.tokenize import tokenize_flow
    uri = tokenize_flow("runs/remix", "runs/tokenizer", "runs/tokens")

or ``longterm tokenize runs/remix --tokenizer runs/tokenizer --out runs/tokens`` (deployment ``tokenize``).
"""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows.artifacts import publish_dataset_artifacts
from flows.run_artifacts import PrefectProgress
from flows.token_artifacts import publish_token_artifacts
from flows.validation import parse_config, require_dataset, require_output
from tasks.ops.tokenize import TokenizeConfig
from tasks.tokenize import run_tokenize


@task(name="tokenize-shards", cache_policy=NO_CACHE)
def tokenize_task(input_uri: str, tokenizer: str, out: str, config: TokenizeConfig, ray_address: str | None,
                  force: bool = False) -> str:
    return run_tokenize(input_uri, tokenizer, out, config, executor="ray", ray_address=ray_address, force=force,
                        progress=PrefectProgress("tokenize"))


@task(name="tokenize-artifacts", retries=2, retry_delay_seconds=[2, 10], cache_policy=NO_CACHE)
def publish_artifacts(uri: str) -> None:
    publish_dataset_artifacts(uri, "tokenize")
    publish_token_artifacts(uri)


@flow(name="tokenize", log_prints=True)
def tokenize_flow(
    input_uri: str,
    tokenizer: str,
    out: str,
    config: dict[str, Any] | TokenizeConfig | str | None = None,
    ray_address: str | None = None,
    force: bool = False,
) -> str:
    """Tokenize ``input_uri`` with the tokenizer directory ``tokenizer`` into token shards under ``out``.

    ``force`` recomputes even when a version with the same inputs, config and code exists.

    ``config``: TokenizeConfig fields (val_fraction, split_seed, add_bos, max_shard_tokens, ...).
    """
    input_uri = require_dataset("input_uri", input_uri, kind="documents")
    tokenizer = require_dataset("tokenizer", tokenizer, kind="tokenizer")
    out = require_output("out", out)
    cfg = parse_config("config", TokenizeConfig, config)
    uri = tokenize_task(input_uri, tokenizer, out, cfg, ray_address, force)
    publish_artifacts(uri)
    return uri
