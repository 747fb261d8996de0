"""Prefect flows sft -> dpo -> eval -> export-hf on a tiny model, under the Prefect test harness; CLI with --no-prefect."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.validation import ParameterError

from model.tokenizer import Tokenizer
from tests.flows.run_artifacts_of import artifacts_of
from tests.model.align_fixtures import tiny_model, tiny_tok, tiny_tok_dir, write_tiny_checkpoint  # noqa: F401


def write_data(d: Path) -> dict[str, str]:
    chats = [{"messages": [{"role": "user", "content": f"Colour {c}?"}, {"role": "assistant", "content": f"It is {c}."}]}
             for c in ["red", "blue", "green", "black", "white", "pink"]]
    chats.append({"messages": [{"role": "user", "content": "unanswered"}]})
    prefs = [{"prompt": f"Is {c} nice?", "chosen": "Yes.", "rejected": "No."} for c in ["red", "blue", "green", "pink"]]
    prefs.append({"prompt": "empty", "chosen": "", "rejected": "x"})
    mc = [{"question": "2 + 2 = ?", "choices": ["3", "4"], "answer": 1}, {"question": "天空是什么颜色？", "A": "蓝色", "B": "绿色", "answer": "A"}]
    files = {"chat": d / "chat.jsonl", "prefs": d / "prefs.jsonl", "mc": d / "mc.jsonl"}
    for key, rows in (("chat", chats), ("prefs", prefs), ("mc", mc)):
        files[key].write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    return {k: str(v) for k, v in files.items()}


def test_align_flows_publish_artifacts(prefect_harness, tiny_tok: Tokenizer, tiny_tok_dir: str, tmp_path: Path) -> None:
    from flows.align import dpo_flow, eval_flow, export_hf_flow, sft_flow

    files = write_data(tmp_path)
    init = write_tiny_checkpoint(tmp_path / "pre", tiny_model(tiny_tok.padded_vocab_size), tiny_tok_dir)
    runs = []

    def run(flow_fn, *args, **kwargs):  # this test's flow runs, to read only their artifacts
        state = flow_fn(*args, **kwargs, return_state=True)
        runs.append(state.state_details.flow_run_id)
        return state.result()

    sft_ckpt = run(sft_flow, init, str(tmp_path / "sft"), files["chat"],
                   config={"max_steps": 2, "batch_size": 2, "seq_len": 64, "eval_every": 2, "num_eval_prompts": 1, "eval_max_new_tokens": 4})
    assert sft_ckpt.endswith("step-00000002")
    dpo_ckpt = run(dpo_flow, sft_ckpt, str(tmp_path / "dpo"), files["prefs"], tiny_tok_dir,
                        config={"max_steps": 2, "batch_size": 2, "seq_len": 63, "eval_fraction": 0.25, "eval_every": 2})
    doc = run(eval_flow, dpo_ckpt, str(tmp_path / "eval"), f"mc:toy={files['mc']}", config={"batch_size": 2})
    assert doc["results"]["toy"]["base"]["n"] == 2 and doc["tasks"]["toy"]["n"] == 2
    with pytest.raises(ParameterError, match="parameter 'config': .*nonsense"):
        eval_flow(dpo_ckpt, str(tmp_path / "eval2"), f"mc:toy={files['mc']}", config={"nonsense": 1})
    with pytest.raises(ParameterError, match="parameter 'checkpoint'"):
        sft_flow(str(tmp_path / "no-such-run"), str(tmp_path / "x"), files["chat"])
    export = run(export_hf_flow, dpo_ckpt, str(tmp_path / "hf"))
    assert (Path(export) / "model.safetensors").is_file()

    arts = artifacts_of(*runs)
    assert {"sft-training-summary", "sft-curve", "sft-data", "dpo-curve", "dpo-data", "eval-scores", "eval-results", "export-hf"} <= set(arts)
    assert len(runs) == 4 and any("toy" in json.dumps(row) for row in arts["eval-results"])
    # live progress of SFT / DPO from the watcher thread (loop.json + metrics.jsonl): step / total, loss, tokens/s
    from tests.flows.run_artifacts_of import progress_of

    for run_id, stage in zip(runs, ("sft", "dpo")):
        percent, description = progress_of(run_id, f"{stage}-progress")
        assert percent == 100.0 and description.startswith(f"{stage}: 2/2 steps (100%), loss") and "tokens/s" in description, description
    # eval: task / prompt-style runs done (toy in each style), samples, the last run's name
    percent, description = progress_of(runs[2], "eval-progress")
    runs_total = len(doc["results"]["toy"])
    assert percent == 100.0 and description.startswith(f"eval: {runs_total}/{runs_total} task runs (100%), task toy/") and "samples" in description, description


def test_cli_eval_and_export_without_prefect(tiny_tok: Tokenizer, tiny_tok_dir: str, tmp_path: Path) -> None:
    from flows.cli import app

    files = write_data(tmp_path)
    ckpt = write_tiny_checkpoint(tmp_path / "run", tiny_model(tiny_tok.padded_vocab_size), tiny_tok_dir)
    runner = CliRunner()
    r = runner.invoke(app, ["eval", ckpt, "--tasks", f"mc:toy={files['mc']}", "--out", str(tmp_path / "ev"), "--no-prefect",
                            "--set", "batch_size=1"])
    assert r.exit_code == 0, r.output
    assert "task=toy" in r.output and (tmp_path / "ev" / "results.json").is_file()
    r = runner.invoke(app, ["eval", ckpt, "--tasks", "hellaswag", "--out", str(tmp_path / "ev2"), "--no-prefect"])
    assert r.exit_code == 2 and "needs a path" in r.output
    r = runner.invoke(app, ["eval", ckpt, "--tasks", "mmlu", "--out", str(tmp_path / "ev3"), "--no-prefect", "--set", "nonsense=1"])
    assert r.exit_code != 0 and "unknown key 'nonsense'" in r.output, r.output
    r = runner.invoke(app, ["export-hf", ckpt, str(tmp_path / "hf"), "--no-prefect"])
    assert r.exit_code == 0 and (tmp_path / "hf" / "config.json").is_file()
