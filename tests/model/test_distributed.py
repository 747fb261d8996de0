"""FSDP2 on two CPU processes (gloo) under torchrun: pretraining and resuming its sharded checkpoint on one
process; evaluation with an uneven last batch; a whole DPO run with its reference cache."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from model.checkpoint import list_checkpoints, load_model
from model.data import TokenLoader
from model.flags import from_flags
from model.pretrain import TrainConfig, main
from tests.model.align_fixtures import tiny_model, tiny_tok, tiny_tok_dir, write_tiny_checkpoint  # noqa: F401
from tests.model.token_fixtures import write_token_dataset

ROOT = Path(__file__).resolve().parents[2]

ARGS = ["--seq-len", "32", "--batch-size", "4", "--ckpt-every-steps", "2", "--eval-every", "2", "--eval-batches", "2",
        "--log-every", "1", "--no-progress", "--no-tensorboard"]


def parse(argv: list[str]) -> TrainConfig:
    return from_flags(TrainConfig, argv, prog="python -m model.pretrain")


def run_ranks(args: list[str], nproc: int, timeout: float) -> subprocess.CompletedProcess:
    """``python -m ARGS`` on ``nproc`` gloo ranks under torchrun; a run past ``timeout`` (a collective that
    one rank never enters hangs) kills the launcher and its ranks and fails the test."""
    launcher = [sys.executable] if nproc == 1 else [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
    proc = subprocess.Popen([*launcher, "-m", *args], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.terminate()  # torchrun stops its ranks on SIGTERM (they run in sessions of their own)
        try:
            out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
        pytest.fail(f"{args[0]} on {nproc} ranks did not finish in {timeout:.0f} s (a rank waits in a collective): {err[-2000:]}")
    assert proc.returncode == 0, err[-3000:]
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_fsdp_on_two_processes_and_resharded_resume(tmp_path) -> None:
    data = write_token_dataset(tmp_path / "tok", n_train_docs=60, n_val_docs=10)
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "model.pretrain",
           "--data", data, "--out", str(out), "--steps", "4", *ARGS]
    proc = subprocess.run(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    final = list_checkpoints(out)[-1][1]
    assert sorted(p.name for p in final.glob("*.distcp")) == ["__0_0.distcp", "__1_0.distcp"]  # one shard per rank
    assert json.loads((final / "meta.json").read_text())["world_size"] == 2
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["step"] == 4 and summary["val_loss"] < 6.0
    model, cfg = load_model(out)  # resharded into one process
    assert model.output.weight.shape == (cfg.vocab_size, cfg.d_model)
    resumed = main(parse(["--data", data, "--out", str(out), "--steps", "6", *ARGS]))
    assert resumed["start_step"] == 4 and resumed["step"] == 6


def test_eval_with_an_uneven_last_batch_finishes_on_two_ranks(tmp_path) -> None:
    """Rank 1 gets no rows in the last val batch; it must still enter the forward's all-gathers (before the
    fix it skipped it and both ranks hung), and the loss is the mean over every row, as on one process."""
    data = write_token_dataset(tmp_path / "tok", n_train_docs=20, n_val_docs=10)
    windows = TokenLoader(data, split="val", seq_len=32, batch_size=1, shuffle=False, infinite=False).num_windows
    batch = next(b for b in range(2, windows) if 0 < windows % (2 * b) <= b)  # the last step has rows for rank 0 only
    init = write_tiny_checkpoint(tmp_path / "init", tiny_model(256, n_layer=2), tokenizer_dir="")
    args = ["tests.model.dist_eval_step", "--data", data, "--init", init, "--batch-size", str(batch)]
    run_ranks([*args, "--out", str(tmp_path / "one.json")], 1, timeout=300)
    run_ranks([*args, "--out", str(tmp_path / "two.json")], 2, timeout=300)
    one, two = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("one", "two"))
    assert two["world_size"] == 2 and two["rows_last"][0] > 0 and two["rows_last"][1] == 0
    assert two["loss"] == pytest.approx(one["loss"], rel=1e-5)


PREFS = [{"prompt": f"Is {c} a colour?", "chosen": "Yes, it is a colour.", "rejected": "No idea, sorry."}
         for c in ["red", "blue", "green", "black", "white", "pink", "grey", "gold"]]


def test_whole_dpo_run_on_two_ranks_with_one_reference_cache(tiny_tok, tiny_tok_dir: str, tmp_path: Path) -> None:
    """Before the fix: the optimizer was built after the reference forwards, which leave FSDP's root
    parameters unsharded, so the final checkpoint failed (KeyError: 0 in get_state_dict); and every rank
    wrote and renamed the same reference temp file. Now rank 0 alone writes it and the others read it."""
    from model.dpo import DPOConfig, main as dpo_main, reference_logps
    from model.dpo_data import load_preference_pairs

    model = tiny_model(tiny_tok.padded_vocab_size, n_layer=2)
    init = write_tiny_checkpoint(tmp_path / "sft", model, tiny_tok_dir)
    data = tmp_path / "prefs.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in PREFS))
    out = tmp_path / "dpo"
    flags = ["--init", init, "--data", str(data), "--tokenizer", tiny_tok_dir, "--out", str(out), "--batch-size", "2", "--seq-len", "63",
             "--eval-fraction", "0.25", "--eval-every", "1", "--lr", "2e-3", "--warmup-steps", "1", "--device", "cpu"]
    proc = run_ranks(["model.dpo", *flags, "--max-steps", "2"], 2, timeout=300)
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["step"] == 2 and abs(summary["val_loss"]) < 1.0
    final = list_checkpoints(out)[-1][1]
    assert sorted(p.name for p in final.glob("*.distcp")) == ["__0_0.distcp", "__1_0.distcp"]
    assert sorted(p.name for p in out.iterdir()) == ["checkpoints", "data_stats.json", "loop.json", "metrics.jsonl", "reference_logps.pt", "summary.json"]
    saved = torch.load(out / "reference_logps.pt", weights_only=True)["logps"]
    pairs, _ = load_preference_pairs(data, tiny_tok, 64)
    torch.testing.assert_close(saved, reference_logps(model, pairs, tiny_tok.pad_id, 8, torch.device("cpu")), rtol=1e-5, atol=1e-4)
    # one process resumes the two-rank run and reuses the cache
    cfg = DPOConfig(init=init, data=str(data), tokenizer=tiny_tok_dir, out=str(out), batch_size=4, seq_len=63, eval_fraction=0.25,
                    eval_every=1, lr=2e-3, warmup_steps=1, max_steps=3, device="cpu")
    again = dpo_main(cfg)
    assert again["start_step"] == 2 and again["step"] == 3
    assert torch.equal(torch.load(out / "reference_logps.pt", weights_only=True)["logps"], saved)
