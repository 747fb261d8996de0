"""HF export: transformers loads it; logits match ours within 1e-4 (fp32, CPU); tokenizers agree on en and zh;
a failed or interrupted export leaves the previous export intact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from model.chat import Message, encode_conversation
from model.checkpoint import CheckpointError
from model.export_hf import export_hf
from model.tokenizer import Tokenizer
from tests.model.align_fixtures import tiny_model, tiny_tok, tiny_tok_dir, write_tiny_checkpoint  # noqa: F401

transformers = pytest.importorskip("transformers")

TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "  leading spaces, numbers 12345 and 3.14159\nnew line\ttab",
    "今天天气很好，我们一起去公园散步。大语言模型的训练需要大量数据。",
    "混合 mixed 文本 text 2024年",
    "emoji 😀 and rare 𠀀",
]


@pytest.fixture(scope="module")
def exported(tiny_tok: Tokenizer, tiny_tok_dir: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.nn.Module]:
    model = tiny_model(tiny_tok.padded_vocab_size, seed=5)
    ckpt = write_tiny_checkpoint(tmp_path_factory.mktemp("run"), model, tiny_tok_dir, step=7)
    out = export_hf(ckpt, str(tmp_path_factory.mktemp("hf") / "export"))
    return out, model


def test_files_and_config(exported: tuple[Path, torch.nn.Module], tiny_tok: Tokenizer) -> None:
    out, model = exported
    assert {"config.json", "model.safetensors", "generation_config.json", "tokenizer.model", "tokenizer_config.json"} <= {p.name for p in out.iterdir()}
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["architectures"] == ["LlamaForCausalLM"] and cfg["num_key_value_heads"] == model.cfg.n_kv_head
    gen = json.loads((out / "generation_config.json").read_text())
    assert tiny_tok.special_ids["<|end|>"] in gen["eos_token_id"] and gen["do_sample"] is False
    assert json.loads((out / "export_info.json").read_text())["step"] == 7


def test_transformers_logits_match_ours(exported: tuple[Path, torch.nn.Module], tiny_tok: Tokenizer) -> None:
    out, model = exported
    hf = transformers.AutoModelForCausalLM.from_pretrained(str(out), dtype=torch.float32).eval()
    for text in (TEXTS[0], TEXTS[2]):
        ids = torch.tensor([tiny_tok.encode(text, bos=True)])
        with torch.no_grad():
            ours = model(ids)
            theirs = hf(ids).logits
        assert theirs.shape == ours.shape and ours.abs().max() > 0.1  # non-trivial logits
        assert (ours - theirs).abs().max() < 1e-4


def test_tokenizers_agree_on_english_and_chinese(exported: tuple[Path, torch.nn.Module], tiny_tok: Tokenizer) -> None:
    out, _ = exported
    hf_tok = transformers.AutoTokenizer.from_pretrained(str(out))
    for text in TEXTS:
        assert hf_tok.encode(text, add_special_tokens=False) == tiny_tok.encode(text), text
        assert hf_tok.encode(text) == tiny_tok.encode(text, bos=True), text
        assert hf_tok.decode(tiny_tok.encode(text), skip_special_tokens=True) == text
    msgs = [Message("system", "Be brief."), Message("user", "你好"), Message("assistant", "Hi!")]
    rendered = hf_tok.apply_chat_template([m.__dict__ for m in msgs], tokenize=False)
    assert hf_tok.encode(rendered, add_special_tokens=False) == encode_conversation(tiny_tok, msgs)[0]


def test_export_refuses_a_mismatched_tokenizer_or_missing_checkpoint(tiny_tok_dir: str, tmp_path: Path) -> None:
    small = write_tiny_checkpoint(tmp_path / "small", tiny_model(128), tiny_tok_dir)
    with pytest.raises(ValueError, match="another tokenizer"):
        export_hf(small, str(tmp_path / "x"))
    with pytest.raises(CheckpointError, match="no complete checkpoint"):
        export_hf(str(tmp_path / "nothing"), str(tmp_path / "y"))


def _snapshot(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


def test_weights_are_written_by_the_safetensors_library(exported: tuple[Path, torch.nn.Module]) -> None:
    from safetensors import safe_open

    out, model = exported
    with safe_open(str(out / "model.safetensors"), framework="pt") as f:
        assert f.metadata() == {"format": "pt"}
        q = f.get_tensor("model.layers.0.self_attn.q_proj.weight")
    assert torch.equal(q, model.layers[0].attention.wqkv.weight[: q.shape[0]])


def test_a_failure_mid_export_leaves_the_previous_export_intact(tiny_tok: Tokenizer, tiny_tok_dir: str, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import model.export_hf as export_mod

    out = tmp_path / "export"
    first = export_hf(write_tiny_checkpoint(tmp_path / "a", tiny_model(tiny_tok.padded_vocab_size, seed=1), tiny_tok_dir, step=1), str(out))
    before = _snapshot(first)
    newer = write_tiny_checkpoint(tmp_path / "b", tiny_model(tiny_tok.padded_vocab_size, seed=2), tiny_tok_dir, step=2)

    def disk_full(*args: object) -> None:  # after model.safetensors and config.json were written into the stage
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export_mod, "tokenizer_files", disk_full)
    with pytest.raises(OSError, match="No space left"):
        export_hf(newer, str(out))
    assert _snapshot(out) == before  # the old export, byte for byte
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "export"]  # no half export, no temp dir left

    out.rename(tmp_path / ".old-export")  # as if killed between renaming the old export away and the new one in
    with pytest.raises(OSError, match="No space left"):
        export_hf(newer, str(out))
    assert _snapshot(out) == before  # the previous export was put back first
    monkeypatch.undo()
    export_hf(newer, str(out))
    assert json.loads((out / "export_info.json").read_text())["step"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "export"]


def test_a_new_export_replaces_the_old_one_in_one_atomic_swap(tiny_tok: Tokenizer, tiny_tok_dir: str, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """OUT is never missing: the finished export and the previous one are exchanged by one renameat2 call
    (before, OUT was renamed away and the new one renamed in, and a reader between the two found nothing)."""
    import model.export_hf as export_mod

    out = tmp_path / "export"
    export_hf(write_tiny_checkpoint(tmp_path / "a", tiny_model(tiny_tok.padded_vocab_size, seed=1), tiny_tok_dir, step=1), str(out))
    newer = write_tiny_checkpoint(tmp_path / "b", tiny_model(tiny_tok.padded_vocab_size, seed=2), tiny_tok_dir, step=2)
    real_rename = Path.rename
    seen: list[bool] = []

    def rename_and_look(self: Path, target: str | Path) -> Path:
        result = real_rename(self, target)
        seen.append((out / "config.json").exists())  # what a reader of OUT would find right now
        return result

    monkeypatch.setattr(Path, "rename", rename_and_look)
    export_hf(newer, str(out))
    assert False not in seen
    assert json.loads((out / "export_info.json").read_text())["step"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "export"]  # the old export is gone
    monkeypatch.setattr(export_mod, "exchange_paths", lambda a, b: False)  # a system without RENAME_EXCHANGE
    export_hf(write_tiny_checkpoint(tmp_path / "c", tiny_model(tiny_tok.padded_vocab_size, seed=3), tiny_tok_dir, step=3), str(out))
    assert seen[-2:] == [False, True]  # the two-rename fallback: the window this test exists for
    assert json.loads((out / "export_info.json").read_text())["step"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "c", "export"]
