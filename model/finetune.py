"""Pieces SFT and DPO share before their loop (``model.loop.run_loop``): the init checkpoint's config,
the vocabulary check and the tokenizer it was trained with."""

from __future__ import annotations

from typing import Any

from model.checkpoint import CheckpointError, read_meta
from model.llama import ModelConfig
from model.tokenizer import Tokenizer


def load_init_config(init: str) -> tuple[ModelConfig, dict[str, Any]]:
    meta = read_meta(init)
    return ModelConfig(**meta["model_config"]), meta


def check_vocab(tok: Tokenizer, model_cfg: ModelConfig, init: str) -> None:
    if tok.vocab_size > model_cfg.vocab_size:
        raise CheckpointError(
            f"{init}: the model's vocabulary ({model_cfg.vocab_size}) is smaller than the tokenizer's ({tok.vocab_size}); "
            f"the checkpoint was trained with another tokenizer"
        )


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
