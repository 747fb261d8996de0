"""Fixtures for the alignment/eval tests: a tiny real SentencePiece tokenizer and a tiny model.

Import the fixtures into a test module (``from tests.model.align_fixtures import tiny_tok, tiny_tok_dir``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from model.llama import ModelConfig, Transformer
from model.tokenizer import MODEL_FILE, META_FILE, Tokenizer
from tasks.ops.tokenizer_training import TokenizerTrainConfig, tokenizer_meta, train_sentencepiece_bpe, training_chunks
from tests.tasks.tokens_fixtures import make_documents

torch.set_num_threads(1)  # 2 cores shared by many test processes: one thread is faster than two contending

CHAT_TEXTS = [
    "What is the capital of France? The capital of France is Paris.",
    "Please write a function that adds two numbers. def add(a, b): return a + b",
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
    "How many clips did Natalia sell altogether? The answer is 72.",
    "请问今天天气怎么样？今天天气很好，适合散步。",
    "The following are multiple choice questions (with answers). Answer: A B C D",
]


def write_tiny_tokenizer(out: Path, vocab_size: int = 700) -> str:
    """Train a small real SentencePiece BPE (English + Chinese + chat-like text) into ``out``."""
    texts = [d["text"] for d in make_documents(num_en=40, num_zh=30, seed=1)] + CHAT_TEXTS * 3
    cfg = TokenizerTrainConfig(vocab_size=vocab_size, character_coverage=0.995, num_threads=1)
    proto = train_sentencepiece_bpe(training_chunks(texts), cfg)
    meta = tokenizer_meta(proto, cfg, sample={"docs": len(texts)})
    out.mkdir(parents=True, exist_ok=True)
    (out / MODEL_FILE).write_bytes(proto)
    (out / META_FILE).write_text(json.dumps(meta.__dict__))
    return str(out)


@pytest.fixture(scope="module")
def tiny_tok_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return write_tiny_tokenizer(tmp_path_factory.mktemp("tok"))


@pytest.fixture(scope="module")
def tiny_tok(tiny_tok_dir: str) -> Tokenizer:
    return Tokenizer.load(tiny_tok_dir)


def tiny_model(vocab_size: int, seed: int = 0, **overrides) -> Transformer:
    torch.manual_seed(seed)
    model = Transformer(ModelConfig.from_preset("tiny", vocab_size=vocab_size, **overrides))
    # a larger init than pretraining's 0.006 so an untrained model has non-flat, input-dependent logits
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.normal_(0.0, 0.08)
    return model.eval()


def write_tiny_checkpoint(run_dir: Path, model: Transformer, tokenizer_dir: str, step: int = 0) -> str:
    """Save ``model`` as a complete checkpoint (the pretraining format) recording its tokenizer."""
    from model.checkpoint import Checkpointer

    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    path = Checkpointer(run_dir).save(step, model, opt, meta={"model_config": model.cfg.to_dict(), "tokenizer": tokenizer_dir},
                                      rank_state={})
    return str(path)
