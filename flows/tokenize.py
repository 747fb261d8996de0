"""Prefect flow: tokenize a document dataset into token shards, then publish counts as artifacts.

    from flows.tokenize import tokenize_flow
    uri = tokenize_flow("runs/remix", "runs/tokenizer", "runs/tokens")

or ``longterm tokenize runs/remix --tokenizer runs/tokenizer --out runs/tokens``.
"""

from __future__ import annotations

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows.artifacts import publish_dataset_artifacts
from flows.token_artifacts import publish_token_artifacts
from tasks.ops.tokenize import TokenizeConfig
from tasks.tokenize import run_tokenize


@task(name="tokenize-shards", cache_policy=NO_CACHE)
def tokenize_task(input_uri: str, tokenizer_uri: str, out: str, config: TokenizeConfig, ray_address: str | None) -> str:
    return run_tokenize(input_uri, tokenizer_uri, out, config, executor="ray", ray_address=ray_address)


@task(name="tokenize-artifacts", retries=2, retry_delay_seconds=[2, 10], cache_policy=NO_CACHE)
def publish_artifacts(uri: str) -> None:
    publish_dataset_artifacts(uri, "tokenize")
    publish_token_artifacts(uri)


@flow(name="tokenize", log_prints=True)
def tokenize_flow(
    input_uri: str, tokenizer_uri: str, out: str, config: TokenizeConfig | None = None, ray_address: str | None = None
) -> str:
    """Tokenize ``input_uri`` with the tokenizer at ``tokenizer_uri`` into token shards under ``out``."""
    uri = tokenize_task(input_uri, tokenizer_uri, out, config or TokenizeConfig(), ray_address)
    publish_artifacts(uri)
    return uri
