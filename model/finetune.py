"""Pieces SFT and DPO share around their loops: the init checkpoint's config, the vocabulary check,
the final save and the run summary."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from model.checkpoint import CheckpointError, Checkpointer, list_checkpoints, read_meta
from model.llama import ModelConfig
from model.loop import write_json
from model.pretrain import BadStepGuard
from model.tokenizer import Tokenizer
from model.trainer import Runtime


def load_init_config(init: str) -> tuple[ModelConfig, dict[str, Any]]:
    meta = read_meta(init)
    return ModelConfig(**meta["model_config"]), meta


def check_vocab(tok: Tokenizer, model_cfg: ModelConfig, init: str) -> None:
    if tok.vocab_size > model_cfg.vocab_size:
        raise CheckpointError(
            f"{init}: the model's vocabulary ({model_cfg.vocab_size}) is smaller than the tokenizer's ({tok.vocab_size}); "
            f"the checkpoint was trained with another tokenizer"
        )


def save_final(out: Path, ckpt: Checkpointer, summary: dict[str, Any], save: Callable[[int], None], *, start: int, total_steps: int,
               resumed: bool) -> None:
    """Save the last step (unless a resumed run had nothing left to do) and record the final checkpoint."""
    if total_steps > start or not resumed:
        save(total_steps)
    ckpt.wait()
    if "last_checkpoint" not in summary:  # the run was already complete
        summary["last_checkpoint"] = str(list_checkpoints(out)[-1][1])


def write_summary(out: Path, summary: dict[str, Any], guard: BadStepGuard, rt: Runtime) -> dict[str, Any]:
    summary["skipped_steps"] = guard.total
    if rt.is_main:
        write_json(out / "summary.json", summary)  # the done-marker: complete or absent
    return summary


def recorded_tokenizer(meta: dict[str, Any]) -> str:
    """The tokenizer a checkpoint was trained with: SFT/DPO record it; pretraining records its token
    dataset, whose stats name the tokenizer. Empty when neither is known."""
    if meta.get("tokenizer"):
        return str(meta["tokenizer"])
    data = (meta.get("train_config") or {}).get("data")
    if not data:
        return ""
    try:
        from storage import open_dataset

        return str(open_dataset(data, kind="tokens").manifest.stats.get("tokenizer_uri", ""))
    except (ValueError, OSError):
        return ""


def tokenizer_for(tokenizer: str, meta: dict[str, Any], where: str) -> str:
    """The given tokenizer directory, else the one the checkpoint records."""
    tok = tokenizer or recorded_tokenizer(meta)
    if not tok:
        raise ValueError(f"{where}: the checkpoint records no tokenizer; pass --tokenizer DIR")
    return tok
