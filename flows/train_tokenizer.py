"""Prefect flow: train the SentencePiece BPE tokenizer on a document dataset, then publish its card.

    from flows.train_tokenizer import train_tokenizer_flow
    uri = train_tokenizer_flow("runs/remix", "runs/tokenizer", TokenizerTrainConfig(vocab_size=4000))

or ``longterm train-tokenizer runs/remix --out runs/tokenizer --vocab-size 4000``.
"""

from __future__ import annotations

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows.artifacts import publish_dataset_artifacts
from flows.token_artifacts import publish_tokenizer_artifacts
from tasks.ops.tokenizer_training import TokenizerTrainConfig
from tasks.train_tokenizer import run_train_tokenizer


@task(name="train-tokenizer", cache_policy=NO_CACHE)
def train_tokenizer_task(input_uri: str, out: str, config: TokenizerTrainConfig) -> str:
    return run_train_tokenizer(input_uri, out, config)


@task(name="train-tokenizer-artifacts", retries=2, retry_delay_seconds=[2, 10], cache_policy=NO_CACHE)
def publish_artifacts(uri: str) -> None:
    publish_dataset_artifacts(uri, "train-tokenizer")
    publish_tokenizer_artifacts(uri)


@flow(name="train-tokenizer", log_prints=True)
def train_tokenizer_flow(input_uri: str, out: str, config: TokenizerTrainConfig | None = None) -> str:
    """Train a tokenizer on ``input_uri`` (a documents dataset) into a versioned directory under ``out``."""
    uri = train_tokenizer_task(input_uri, out, config or TokenizerTrainConfig())
    publish_artifacts(uri)
    return uri
