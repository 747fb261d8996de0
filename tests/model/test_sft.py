"""SFT end to end on CPU: loss falls, counts recorded, repetition ratio reported, checkpoint loads, resume, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model.checkpoint import CheckpointError, load_model, read_meta
from model.sft import SFTConfig, cli, main
from model.tokenizer import Tokenizer
from tests.model.align_fixtures import tiny_model, tiny_tok, tiny_tok_dir, write_tiny_checkpoint  # noqa: F401

COLOURS = ["red", "blue", "green", "black", "white", "yellow"]


def write_conversations(path: Path) -> Path:
    rows = []
    for i in range(24):
        c = COLOURS[i % len(COLOURS)]
        rows.append({"messages": [{"role": "user", "content": f"Say the colour {c}."}, {"role": "assistant", "content": f"The colour is {c}."}]})
    rows.append({"messages": [{"role": "user", "content": "no answer here"}]})
    rows.append({"messages": [{"role": "assistant", "content": "wrong order"}]})
    rows.append({"messages": [{"role": "user", "content": "你好"}, {"role": "assistant", "content": "你好！"},
                              {"role": "user", "content": "再见"}, {"role": "assistant", "content": "再见！"}], "system": "Be kind."})
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    return path


@pytest.fixture(scope="module")
def init_ckpt(tiny_tok: Tokenizer, tiny_tok_dir: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    return write_tiny_checkpoint(tmp_path_factory.mktemp("pre"), tiny_model(tiny_tok.padded_vocab_size), tiny_tok_dir)


def test_sft_trains_counts_and_resumes(init_ckpt: str, tiny_tok_dir: str, tmp_path: Path) -> None:
    data = write_conversations(tmp_path / "chat.jsonl")
    out = tmp_path / "sft"
    cfg = SFTConfig(init=init_ckpt, data=str(data), tokenizer=tiny_tok_dir, out=str(out), seq_len=64, batch_size=4,
                    max_steps=12, lr=3e-3, warmup_steps=2, eval_every=6, eval_fraction=0.1, num_eval_prompts=3,
                    eval_max_new_tokens=12, log_every=100)
    summary = main(cfg)
    stats = json.loads((out / "data_stats.json").read_text())
    assert stats["records"] == 27 and stats["kept"] == 25
    assert stats["skipped"] == {"bad_conversation": 1, "no_assistant_turn": 1}
    assert stats["train"] + stats["held_out"] == 25 and stats["held_out"] >= 1
    records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r["kind"] == "train"]
    val = [r for r in records if r["kind"] == "val"]
    assert len(train) == 12 and [r["step"] for r in val] == [6, 12]
    # throughput for the dashboard and the live progress (model/loop.py times each step): 4 x 64 tokens a step
    assert all(r["tokens_per_s"] > 0 for r in train)
    assert json.loads((out / "loop.json").read_text()) == {"name": "sft", "start_step": 0, "total_steps": 12}
    assert train[-1]["loss"] < 0.7 * train[0]["loss"]
    assert val[-1]["val_loss"] < val[0]["val_loss"] * 1.5
    for r in val:
        assert 0.0 <= r["repetition_ratio"] <= 1.0 and 0.0 <= r["repeated_ngram_fraction"] <= 1.0 and r["responses"] >= 1
    model, mcfg = load_model(out)
    meta = read_meta(out)
    assert meta["stage"] == "sft" and meta["step"] == 12 and meta["data_stats"]["kept"] == 25 and meta["tokenizer"]
    assert mcfg.vocab_size == model.cfg.vocab_size
    # resume: a longer run continues from step 12 instead of starting again
    longer = main(SFTConfig(**{**cfg.__dict__, "max_steps": 14}))
    assert longer["start_step"] == 12 and longer["step"] == 14
    assert summary["last_checkpoint"].endswith("step-00000012")


def test_sft_refuses_a_checkpoint_of_another_vocabulary(tiny_tok_dir: str, tmp_path: Path) -> None:
    small = write_tiny_checkpoint(tmp_path / "small", tiny_model(128), tiny_tok_dir)
    data = write_conversations(tmp_path / "c.jsonl")
    with pytest.raises(CheckpointError, match="another tokenizer"):
        main(SFTConfig(init=small, data=str(data), tokenizer=tiny_tok_dir, out=str(tmp_path / "o"), max_steps=1))


def test_cli_reports_bad_input_clearly(init_ckpt: str, tiny_tok_dir: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text(json.dumps({"messages": [{"role": "user", "content": "no reply"}]}) + "\n")
    rc = cli(["--init", init_ckpt, "--data", str(empty), "--tokenizer", tiny_tok_dir, "--out", str(tmp_path / "o"), "--max-steps", "1"])
    assert rc == 2 and "no SFT examples" in capsys.readouterr().err


def test_resuming_into_a_run_of_another_shape_is_refused(init_ckpt: str, tiny_tok: Tokenizer, tiny_tok_dir: str, tmp_path: Path) -> None:
    out = tmp_path / "sft"
    write_tiny_checkpoint(out, tiny_model(tiny_tok.padded_vocab_size, n_layer=3), tiny_tok_dir, step=1)  # stale run, 3 layers
    data = write_conversations(tmp_path / "c.jsonl")
    with pytest.raises(CheckpointError, match="different model shape"):
        main(SFTConfig(init=init_ckpt, data=str(data), tokenizer=tiny_tok_dir, out=str(out), max_steps=2, seq_len=64))
