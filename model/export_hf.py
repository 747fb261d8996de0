"""Export a checkpoint to the Hugging Face format (``LlamaForCausalLM`` + a Llama tokenizer).

    python -m model.export_hf runs/dpo runs/hf --tokenizer runs/tokenizer
    longterm export-hf runs/dpo runs/hf

Writes into OUT:

- ``config.json``: ``LlamaForCausalLM`` / ``model_type: llama`` with our shapes (``model.hf_compat``), special ids;
- ``model.safetensors``: the weights under HF names (fused ``wqkv``/``w13`` split back into q/k/v and gate/up;
  our rotary layout is already HF's rotate-half, so no permutation), written by ``safetensors.torch.save_file``;
- ``generation_config.json``: greedy by default, stopping at ``</s>`` or ``<|end|>``;
- ``tokenizer.model`` (our SentencePiece proto) + ``tokenizer_config.json`` + ``special_tokens_map.json``:
  ``transformers`` loads it as ``LlamaTokenizer`` with ``add_prefix_space=False`` / ``legacy=False`` (our
  tokenizer has no dummy prefix), so its ids equal ours, English and Chinese alike; the chat markers are
  registered as special tokens and ``chat_template`` renders our chat layout (``model/chat.py``);
- ``export_info.json``: the source checkpoint, step, stage and tokenizer digest.

Publishing: everything is written into a fresh temp dir next to OUT (``.tmp-OUT-*``); only when it is
complete does it take OUT's place, in one atomic ``renameat2(RENAME_EXCHANGE)`` swap with the previous
export (Linux; ``storage.exchange_paths``), which is then deleted: a reader of OUT finds the old export or
the new one, never neither. Where that call does not exist, the previous export is renamed away
(``.old-OUT``) and the new one renamed in; a crash between those two renames leaves ``.old-OUT``, which the
next export puts back before it starts. A failure while writing leaves the previous export as it was.

Vocabulary padding: the model's vocabulary (a multiple of 128) is larger than the tokenizer's; the extra
ids are never produced by the tokenizer and are exported as they are, so logits keep their shape.
"""

from __future__ import annotations

import json
import shutil
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from model.chat import END, HF_CHAT_TEMPLATE, MARKERS
from model.checkpoint import load_model, read_meta, resolve_checkpoint
from model.finetune import recorded_tokenizer
from model.flags import from_flags
from model.hf_compat import hf_llama_config, to_hf_state_dict
from model.llama import ModelConfig
from model.tokenizer import BOS, EOS, PAD, UNK, Tokenizer
from storage import exchange_paths

def tokenizer_files(tok: Tokenizer, out: Path, max_len: int) -> None:
    (out / "tokenizer.model").write_bytes(tok.model_proto)
    specials = [*MARKERS.values(), END]
    added = {str(i): {"content": p, "lstrip": False, "rstrip": False, "normalized": False, "single_word": False, "special": True}
             for p, i in [(BOS, tok.bos_id), (EOS, tok.eos_id), (PAD, tok.pad_id), (UNK, tok.unk_id)] + [(m, tok.special_ids[m]) for m in specials]}
    config = {
        "tokenizer_class": "LlamaTokenizer",
        "add_bos_token": True,
        "add_eos_token": False,
        "add_prefix_space": False,
        "legacy": False,
        "bos_token": BOS,
        "eos_token": EOS,
        "unk_token": UNK,
        "pad_token": PAD,
        "additional_special_tokens": specials,
        "added_tokens_decoder": added,
        "model_max_length": max_len,
        "clean_up_tokenization_spaces": False,
        "spaces_between_special_tokens": False,
        "chat_template": HF_CHAT_TEMPLATE,
    }
    (out / "tokenizer_config.json").write_text(json.dumps(config, indent=1, ensure_ascii=False))
    (out / "special_tokens_map.json").write_text(json.dumps(
        {"bos_token": BOS, "eos_token": EOS, "unk_token": UNK, "pad_token": PAD, "additional_special_tokens": specials}, indent=1))


def export_hf(checkpoint: str, out: str, tokenizer: str = "", dtype: str = "float32") -> Path:
    """Write the HF export of ``checkpoint`` into ``out`` (replaced atomically); return its path."""
    ckpt = resolve_checkpoint(checkpoint)
    meta = read_meta(ckpt)
    tok_dir = tokenizer or recorded_tokenizer(meta)
    if not tok_dir:
        raise ValueError(f"{ckpt}: no tokenizer recorded in the checkpoint; pass --tokenizer DIR")
    tok = Tokenizer.load(tok_dir)
    model, cfg = load_model(ckpt)
    if tok.vocab_size > cfg.vocab_size:
        raise ValueError(f"{ckpt}: model vocabulary {cfg.vocab_size} is smaller than the tokenizer's {tok.vocab_size}: another tokenizer")
    torch_dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]
    final = Path(out)
    final.parent.mkdir(parents=True, exist_ok=True)
    old = final.with_name(f".old-{final.name}")
    if old.exists() and not final.exists():  # an earlier export crashed between its renames: put the previous one back
        old.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    for stale in final.parent.glob(f".tmp-{final.name}-*"):  # left by an export that was killed while writing
        shutil.rmtree(stale, ignore_errors=True)
    stage = final.with_name(f".tmp-{final.name}-{uuid.uuid4().hex[:12]}")
    stage.mkdir()
    try:
        _write_export(stage, ckpt, meta, model, cfg, tok, torch_dtype, dtype)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    if not final.exists():
        stage.rename(final)
    elif exchange_paths(str(stage), str(final)):  # one atomic swap: OUT is always a whole export
        shutil.rmtree(stage, ignore_errors=True)  # (the previous export, now under the temp name)
    else:  # no renameat2(RENAME_EXCHANGE) here: two renames, with a window where OUT does not exist
        final.rename(old)
        stage.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    return final


def _write_export(stage: Path, ckpt: Path, meta: dict[str, Any], model: torch.nn.Module, cfg: ModelConfig, tok: Tokenizer, torch_dtype: torch.dtype, dtype: str) -> None:
    tensors = {k: v.to(torch_dtype) for k, v in to_hf_state_dict(model.state_dict(), cfg).items()}
    save_file(tensors, str(stage / "model.safetensors"), metadata={"format": "pt"})
    end_id = tok.special_ids[END]
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        **hf_llama_config(cfg),
        "bos_token_id": tok.bos_id,
        "eos_token_id": tok.eos_id,
        "pad_token_id": tok.pad_id,
        "torch_dtype": dtype,
        "use_cache": True,
    }
    (stage / "config.json").write_text(json.dumps(config, indent=1))
    (stage / "generation_config.json").write_text(json.dumps(
        {"bos_token_id": tok.bos_id, "eos_token_id": [tok.eos_id, end_id], "pad_token_id": tok.pad_id, "do_sample": False}, indent=1))
    tokenizer_files(tok, stage, cfg.max_seq_len)
    (stage / "export_info.json").write_text(json.dumps(
        {"checkpoint": str(ckpt), "step": meta.get("step"), "stage": meta.get("stage", "pretrain"), "tokenizer": tok.location,
         "tokenizer_digest": tok.digest, "model_config": cfg.to_dict()}, indent=1))


@dataclass
class ExportArgs:
    checkpoint: str = field(metadata={"positional": True, "help": "checkpoint dir or run dir"})
    out: str = field(metadata={"positional": True, "help": "export directory (replaced atomically)"})
    tokenizer: str = field(default="", metadata={"help": "tokenizer dir (default: the one recorded in the checkpoint)"})
    dtype: str = field(default="float32", metadata={"choices": ["float32", "bfloat16", "float16"]})


def cli(argv: list[str] | None = None) -> int:
    a = from_flags(ExportArgs, argv, prog="python -m model.export_hf", description=__doc__.split("\n")[0])
    try:
        path = export_hf(a.checkpoint, a.out, a.tokenizer, a.dtype)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(cli())
