"""Prefect flow: train the SentencePiece BPE tokenizer on a document dataset, then publish its card.

    from flows.tokenizer import train_tokenizer_flow
    uri = train_tokenizer_flow("runs/remix", "runs/tokenizer", {"vocab_size": 4000, "character_coverage": 0.995})

or ``longterm train-tokenizer runs/remix --out runs/tokenizer --vocab-size 4000`` (deployment
``train-tokenizer`` in prefect.yaml).
"""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows.artifacts import publish_dataset_artifacts
from flows.token_artifacts import publish_tokenizer_artifacts
from flows.validation import parse_config, require_dataset, require_output
from tasks.ops.tokenizer_training import TokenizerTrainConfig
from tasks.train_tokenizer import run_train_tokenizer


@task(name="train-tokenizer", cache_policy=NO_CACHE)
def train_tokenizer_task(input_uri: str, out: str, config: TokenizerTrainConfig, force: bool = False) -> str:
    return run_train_tokenizer(input_uri, out, config, force=force)


@task(name="train-tokenizer-artifacts", retries=2, retry_delay_seconds=[2, 10], cache_policy=NO_CACHE)
def publish_artifacts(uri: str) -> None:
    publish_dataset_artifacts(uri, "train-tokenizer")
    publish_tokenizer_artifacts(uri)


@flow(name="train-tokenizer", log_prints=True)
def train_tokenizer_flow(
    input_uri: str, out: str, config: dict[str, Any] | TokenizerTrainConfig | str | None = None, force: bool = False
) -> str:
    """Train a tokenizer on ``input_uri`` (documents) into a versioned directory under ``out``.

    ``force`` retrains even when a version with the same input, config and code exists.

    ``config``: TokenizerTrainConfig fields (vocab_size, character_coverage, sample_bytes, ...) as a
    mapping or a JSON/YAML file; unknown keys fail the run at once.
    """
    input_uri = require_dataset("input_uri", input_uri, kind="documents")
    out = require_output("out", out)
    cfg = parse_config("config", TokenizerTrainConfig, config)
    uri = train_tokenizer_task(input_uri, out, cfg, force)
    publish_artifacts(uri)
    return uri
