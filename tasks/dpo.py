"""Stage driver for DPO (pure of Prefect): ``run_dpo(cfg, nproc=1) -> last checkpoint path``.

    from model.dpo import DPOConfig
    ckpt = run_dpo(DPOConfig(init="runs/sft", data="prefs.jsonl", tokenizer="runs/tok", out="runs/dpo"))
"""

from __future__ import annotations

from model.dpo import DPOConfig, main
from tasks.launch import launch_training


def run_dpo(cfg: DPOConfig, *, nproc: int = 1) -> str:
    return launch_training("model.dpo", main, cfg, nproc=nproc)
