"""Stage driver for SFT (pure of Prefect): ``run_sft(cfg, nproc=1) -> last checkpoint path``.

    from model.sft import SFTConfig
    ckpt = run_sft(SFTConfig(init="runs/pretrain", data="chat.jsonl", tokenizer="runs/tok", out="runs/sft"))

Rerunning with the same ``out`` resumes (or, when the run is complete, returns its final checkpoint).
"""

from __future__ import annotations

from model.sft import SFTConfig, main
from tasks.launch import launch_training


def run_sft(cfg: SFTConfig, *, nproc: int = 1) -> str:
    return launch_training("model.sft", main, cfg, nproc=nproc)
