"""Prefect flow: DPO (deployment ``dpo`` in prefect.yaml), then training artifacts.

    from flows.dpo import dpo_flow
    ckpt = dpo_flow("runs/demo/sft", "runs/demo/dpo", data="prefs.jsonl", config={"beta": 0.1})

or ``longterm dpo --init runs/demo/sft --data prefs.jsonl --out runs/demo/dpo``.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows.align_common import DPO_DEMO_DATA, training_artifacts, training_config
from flows.run_artifacts import watch_training
from model.dpo import DPOConfig
from tasks.dpo import run_dpo


@task(name="dpo-train", cache_policy=NO_CACHE)
def dpo_task(config: DPOConfig, nproc: int) -> str:
    with watch_training(config.out, "dpo"):  # step / total steps, loss, tokens/s, ETA while it trains
        return run_dpo(config, nproc=nproc)


@flow(name="dpo", log_prints=True)
def dpo_flow(checkpoint: str, out: str, data: str = DPO_DEMO_DATA, tokenizer: str = "", config: dict[str, Any] | DPOConfig | None = None,
             nproc: int = 1) -> str:
    """DPO of an SFT ``checkpoint`` on preference ``data``; returns the final checkpoint path."""
    cfg = training_config(DPOConfig, checkpoint, out, data, tokenizer, config)
    ckpt = dpo_task(cfg, nproc)
    training_artifacts("dpo", cfg.out, ckpt)
    return ckpt
