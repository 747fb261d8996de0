"""Prefect flow: supervised fine-tuning (deployment ``sft`` in prefect.yaml), then training artifacts.

    from flows.sft import sft_flow
    ckpt = sft_flow("runs/demo/pretrain", "runs/demo/sft", data="chat.jsonl", config={"epochs": 4, "lr": 1e-5})

or ``longterm sft --init runs/demo/pretrain --data chat.jsonl --out runs/demo/sft``.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows.align_common import SFT_DEMO_DATA, training_artifacts, training_config
from flows.run_artifacts import watch_training
from model.sft import SFTConfig
from tasks.sft import run_sft


@task(name="sft-train", cache_policy=NO_CACHE)
def sft_task(config: SFTConfig, nproc: int) -> str:
    with watch_training(config.out, "sft"):  # step / total steps, loss, tokens/s, ETA while it trains
        return run_sft(config, nproc=nproc)


@flow(name="sft", log_prints=True)
def sft_flow(checkpoint: str, out: str, data: str = SFT_DEMO_DATA, tokenizer: str = "", config: dict[str, Any] | SFTConfig | None = None,
             nproc: int = 1) -> str:
    """Supervised fine-tuning of ``checkpoint`` on ``data`` (chat JSONL); returns the final checkpoint path."""
    cfg = training_config(SFTConfig, checkpoint, out, data, tokenizer, config)
    ckpt = sft_task(cfg, nproc)
    training_artifacts("sft", cfg.out, ckpt)
    return ckpt
