"""Pretraining end to end on CPU: learning, exact resume after SIGKILL, continual training, bad input."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from model.checkpoint import CheckpointError, list_checkpoints, load_model
from model.flags import from_flags
from model.loop import BadStepGuard
from model.pretrain import TrainConfig, main
from model.schedule import ScheduleConfig, lr_at
from tests.model.token_fixtures import unigram_entropy, write_token_dataset

ROOT = Path(__file__).resolve().parents[2]
QUIET = dict(progress=False, tensorboard=False)
# the resume runs: 16 steps of 4 x 32 tokens, checkpoints every 3 steps, async saves
RESUME_ARGS = ["--preset", "tiny", "--seq-len", "32", "--batch-size", "4", "--steps", "16", "--ckpt-every-steps", "3",
               "--keep-last", "2", "--async-checkpoint", "on", "--log-every", "1", "--eval-every", "0", "--no-progress", "--no-tensorboard"]


def parse(argv: list[str]) -> TrainConfig:
    return from_flags(TrainConfig, argv, prog="python -m model.pretrain")


@pytest.fixture(scope="module")
def tokens(tmp_path_factory) -> str:
    return write_token_dataset(tmp_path_factory.mktemp("tokens"), n_train_docs=300, n_val_docs=40)


@pytest.fixture(scope="module")
def reference_run(tokens, tmp_path_factory) -> Path:
    """An uninterrupted run with RESUME_ARGS, in-process."""
    out = tmp_path_factory.mktemp("ref")
    main(parse(["--data", tokens, "--out", str(out), *RESUME_ARGS]))
    return out


def train_losses(run: Path) -> dict[int, list[float]]:
    seen: dict[int, list[float]] = {}
    for line in (run / "metrics.jsonl").read_text().splitlines():
        try:
            r = json.loads(line)
        except json.JSONDecodeError:  # a line being written while we poll
            continue
        if r["kind"] == "train":
            seen.setdefault(r["step"], []).append(r["loss"])
    return seen


def test_tiny_model_learns_far_below_the_unigram_entropy(tokens, tmp_path) -> None:
    h1 = unigram_entropy(tokens)
    summary = main(TrainConfig(data=tokens, preset="tiny", out=str(tmp_path), seq_len=64, steps=30, eval_every=30, eval_batches=4, ckpt_every_steps=0, ckpt_every_minutes=0, **QUIET))
    assert h1 > 5.0
    assert summary["val_loss"] < h1 - 2.0, (summary["val_loss"], h1)
    cfg = json.loads((tmp_path / "config.json").read_text())["run"]
    assert cfg["plan"]["batch_sequences"] == cfg["batch_size"]  # the planner chose the batch
    assert cfg["schedule"]["peak_lr"] == pytest.approx(cfg["plan"]["learning_rate"])
    first = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[0])
    assert first["tokens_per_s"] > 0 and first["mfu"] is None  # CPU: no peak, MFU n/a


def test_sigkill_at_a_random_step_then_resume_gives_identical_losses(tokens, reference_run, tmp_path) -> None:
    kill_after = random.Random(os.getpid()).randint(4, 13)
    cmd = [sys.executable, "-m", "model.pretrain", "--data", tokens, "--out", str(tmp_path), *RESUME_ARGS]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    metrics = tmp_path / "metrics.jsonl"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        # Checkpoints are saved asynchronously: a step counts as saved only once its meta.json is
        # committed, so wait for one, or a kill right after step 3 would (rightly) restart from 0.
        if metrics.exists() and max(train_losses(tmp_path) or [0]) >= kill_after and list_checkpoints(tmp_path):
            break
        time.sleep(0.05)
    assert proc.poll() is None, f"run ended before the kill: {proc.stderr.read().decode()[-2000:]}"
    committed_before_kill = list_checkpoints(tmp_path)[-1][0]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = max(train_losses(tmp_path))
    resumed = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    summary = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert 0 < committed_before_kill <= summary["start_step"] <= killed_at  # resumed from the latest checkpoint, not from scratch
    ref, got = train_losses(reference_run), train_losses(tmp_path)
    assert sorted(got) == sorted(ref) == list(range(1, 17))
    for step, losses in got.items():
        assert all(loss == ref[step][0] for loss in losses), (step, losses, ref[step])  # bit-identical, replays included


def test_extend_from_restarts_before_the_first_decay(tokens, reference_run, tmp_path) -> None:
    ref_sched = ScheduleConfig(**json.loads((reference_run / "config.json").read_text())["run"]["schedule"])
    assert ref_sched.first_decay_step == 13
    assert [s for s, _ in list_checkpoints(reference_run)] == [12, 15, 16]  # keep-last 2 plus the pre-decay one
    summary = main(parse(["--data", tokens, "--out", str(tmp_path), *RESUME_ARGS, "--extend-from", str(reference_run), "--tokens", "4096"]))
    assert summary["start_step"] == 12 and summary["total_steps"] == 32
    ref, ext = train_losses(reference_run), train_losses(tmp_path)
    assert ext[13] == ref[13]  # same state, data and (peak) lr as the original run at that step
    lrs = {json.loads(l)["step"]: json.loads(l)["lr"] for l in (tmp_path / "metrics.jsonl").read_text().splitlines()}
    assert lrs[14] == pytest.approx(ref_sched.peak_lr)  # the original run decayed here; the extension does not
    assert lrs[32] == pytest.approx(0.1 * ref_sched.peak_lr)
    with pytest.raises(ValueError, match="--tokens larger"):
        main(parse(["--data", tokens, "--out", str(tmp_path / "x"), *RESUME_ARGS, "--extend-from", str(reference_run), "--tokens", "100"]))


def test_load_model_and_shape_mismatch(tokens, reference_run, tmp_path) -> None:
    model, cfg = load_model(reference_run)
    assert cfg.d_model == 64 and not model.training
    with torch.no_grad():
        assert torch.isfinite(model(torch.randint(0, cfg.vocab_size, (1, 8)))).all()
    with pytest.raises(CheckpointError, match="different model shape.*d_model: checkpoint 64 vs model 128"):
        main(parse(["--data", tokens, "--out", str(reference_run), *RESUME_ARGS, "--model-arg", "d_model=128"]))


def test_bad_input_gives_clear_errors(tokens, tmp_path) -> None:
    from storage import DatasetError

    with pytest.raises(DatasetError, match="no such dataset"):
        main(TrainConfig(data=str(tmp_path / "nothing"), out=str(tmp_path / "a"), **QUIET))
    with pytest.raises(MemoryError, match="does not fit.*estimated"):
        main(TrainConfig(data=tokens, preset="deepseek-67b", seq_len=64, out=str(tmp_path / "b"), **QUIET))
    assert not (tmp_path / "b").exists()  # refused before allocating or writing anything
    no_val = write_token_dataset(tmp_path / "t2", n_train_docs=20, n_val_docs=0)
    with pytest.raises(ValueError, match="val split has 0 tokens"):
        main(TrainConfig(data=no_val, seq_len=32, out=str(tmp_path / "c"), **QUIET))
    cli = subprocess.run([sys.executable, "-m", "model.pretrain", "--data", tokens, "--preset", "deepseek-67b", "--out", str(tmp_path / "d")],
                         cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert cli.returncode == 2 and "error:" in cli.stderr and "does not fit" in cli.stderr


def test_pretrain_refuses_a_corrupt_token_shard_by_name(tmp_path) -> None:
    data = write_token_dataset(tmp_path / "tok", n_train_docs=40, n_val_docs=10)
    shard = Path(data) / "train" / "part-00001.arrow"
    raw = bytearray(shard.read_bytes())
    raw[len(raw) // 2] ^= 0x01  # one bit in the token payload: same size, still a valid Arrow file
    shard.write_bytes(bytes(raw))
    cli = subprocess.run([sys.executable, "-m", "model.pretrain", "--data", data, "--preset", "tiny", "--seq-len", "32", "--steps", "1",
                          "--out", str(tmp_path / "run"), "--no-progress", "--no-tensorboard"],
                         cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=240)
    assert cli.returncode == 2, cli.stderr[-2000:]
    assert "error:" in cli.stderr and "train/part-00001.arrow: sha256 differs from the manifest" in cli.stderr
    assert "Traceback" not in cli.stderr and not list_checkpoints(tmp_path / "run")


def test_non_finite_steps_are_skipped_then_stop() -> None:
    from model.llama import ModelConfig
    from model.trainer import Runtime, build_model, build_optimizer, train_step

    rt = Runtime(device=torch.device("cpu"))
    model = build_model(ModelConfig.from_preset("tiny"), rt, bf16=False, compile_model=False)
    opt = build_optimizer(model, lr=1e-2, weight_decay=0.1, betas=(0.9, 0.95))
    with torch.no_grad():
        model.norm.weight[0] = float("nan")
    before = model.layers[0].attention.wqkv.weight.clone()
    x = torch.randint(0, 512, (2, 8))
    res = train_step(model, opt, [(x, x)], rt, bf16=False, grad_clip=1.0)
    assert res.skipped and torch.equal(model.layers[0].attention.wqkv.weight, before)
    guard = BadStepGuard(limit=3)
    guard.record(True, 1, float("nan"), 0.0)
    guard.record(False, 2, 1.0, 1.0)  # a good step resets the count
    guard.record(True, 3, float("inf"), 0.0)
    guard.record(True, 4, float("inf"), 0.0)
    with pytest.raises(FloatingPointError, match="3 consecutive steps"):
        guard.record(True, 5, float("nan"), 0.0)
    assert guard.total == 4


def test_schedule_in_the_run_matches_lr_at(reference_run) -> None:
    sched = ScheduleConfig(**json.loads((reference_run / "config.json").read_text())["run"]["schedule"])
    lrs = [json.loads(l)["lr"] for l in (reference_run / "metrics.jsonl").read_text().splitlines()]
    assert lrs == [lr_at(sched, s) for s in range(16)]


@pytest.mark.slow
def test_tiny_model_learns_real_text_through_the_token_pipeline(shared_data, tmp_path) -> None:
    """Tiny Shakespeare -> documents -> real SentencePiece tokenizer -> token shards -> tiny model."""
    import gzip

    from tasks.ops.tokenize import TokenizeConfig
    from tasks.ops.tokenizer_training import TokenizerTrainConfig
    from tasks.tokenize import run_tokenize
    from tasks.train_tokenizer import run_train_tokenizer
    from tests.tasks.tokens_fixtures import write_documents

    text = gzip.open(shared_data / "text_en_tinyshakespeare" / "input.txt.gz", "rt").read()[:300_000]
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    docs = [{"id": f"ts-{i:05d}", "text": p + "\n", "lang": "en", "url": f"https://example.org/ts/{i}", "source": "tinyshakespeare",
             "lang_score": 1.0, "metadata": "{}"} for i, p in enumerate(paragraphs)]
    doc_uri = write_documents(tmp_path / "docs", docs)
    tok_uri = run_train_tokenizer(doc_uri, str(tmp_path / "tokenizer"), TokenizerTrainConfig(vocab_size=512, character_coverage=1.0), executor="local")
    data = run_tokenize(doc_uri, tok_uri, str(tmp_path / "tokens"), TokenizeConfig(val_fraction=0.05), executor="local")
    h1 = unigram_entropy(data)
    summary = main(TrainConfig(data=data, preset="tiny", out=str(tmp_path / "run"), seq_len=64, steps=80, batch_size=16, lr=3e-3, eval_every=80, eval_batches=4,
                               ckpt_every_steps=0, ckpt_every_minutes=0, **QUIET))
    # unigram entropy ~5.17 nats with a 512-piece vocab
    assert summary["val_loss"] < h1 - 0.5, (summary["val_loss"], h1)


def test_checkpoints_are_due_every_n_steps_and_every_m_minutes(tmp_path) -> None:
    from model.checkpoint import Checkpointer
    from model.loop import checkpoint_due
    from model.trainer import Runtime

    rt = Runtime(device=torch.device("cpu"))
    ck = Checkpointer(tmp_path)
    by_steps = dict(every_steps=5, every_minutes=0, ckpt=ck, rt=rt)
    assert [s for s in range(1, 21) if checkpoint_due(s, 20, **by_steps)] == [5, 10, 15]  # 20: the final save
    by_time = dict(every_steps=0, every_minutes=1.0, ckpt=ck, rt=rt)
    assert not checkpoint_due(3, 20, **by_time)
    ck.last_save_time -= 61  # a minute since the last save
    assert checkpoint_due(4, 20, **by_time)


def test_summary_is_renamed_in_not_rewritten(tokens, tmp_path) -> None:
    """summary.json is the stage's done-marker: it must appear complete, by rename (before the fix it was
    rewritten in place, so a reader holding the old file saw it change, and a crash could leave a part)."""
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "summary.json").write_text('{"old": true}')
    os.link(tmp_path / "summary.json", tmp_path / "reader.json")
    summary = main(TrainConfig(data=tokens, preset="tiny", out=str(tmp_path), seq_len=32, steps=2, batch_size=2, eval_every=0,
                               ckpt_every_steps=0, ckpt_every_minutes=0, **QUIET))
    assert json.loads((tmp_path / "summary.json").read_text())["step"] == summary["step"] == 2
    assert json.loads((tmp_path / "reader.json").read_text()) == {"old": True}
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp")]


def test_a_seq_len_beyond_the_model_is_refused_not_grown(tokens, tmp_path) -> None:
    """One rule for every stage (model.loop.resolve_seq_len): before, pretrain silently grew the preset's
    max_seq_len to --seq-len while SFT refused; now a longer context is asked for with --model-arg."""
    from model.pretrain import inspect_tokens, resolve
    from model.trainer import Runtime

    with pytest.raises(ValueError, match=r"seq_len 256 exceeds the model's max_seq_len 128; pass --model-arg max_seq_len=256"):
        main(TrainConfig(data=tokens, preset="tiny", seq_len=256, steps=1, out=str(tmp_path / "a"), **QUIET))
    assert not (tmp_path / "a").exists()  # refused before writing anything
    rt = Runtime(device=torch.device("cpu"))
    run = resolve(TrainConfig(data=tokens, preset="tiny", seq_len=256, model_overrides={"max_seq_len": 256}), inspect_tokens(tokens), rt)
    assert run.seq_len == run.model.max_seq_len == 256
    default = resolve(TrainConfig(data=tokens, preset="tiny"), inspect_tokens(tokens), rt)
    assert default.seq_len == default.model.max_seq_len == 128


def _flip_a_byte(f: Path) -> None:
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0x01
    f.write_bytes(bytes(data))


def test_a_corrupt_latest_checkpoint_falls_back_to_the_one_before_it(tokens, reference_run, tmp_path) -> None:
    """The newest checkpoint has a flipped byte: the resume moves it aside (kept, named corrupt-...), resumes
    from the one before it and replays the steps in between with the reference run's exact losses."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(reference_run, run)
    (run / "summary.json").unlink(missing_ok=True)  # make the rerun train instead of reporting the finished run
    (run / "loop.json").unlink(missing_ok=True)
    (run / "metrics.jsonl").write_text("")
    ckpts = list_checkpoints(run)
    assert len(ckpts) >= 2
    (latest_step, latest), (prev_step, _) = ckpts[-1], ckpts[-2]
    _flip_a_byte(next(latest.glob("*.distcp")))
    summary = main(parse(["--data", tokens, "--out", str(run), *RESUME_ARGS]))
    assert summary["start_step"] == prev_step < latest_step
    aside = [p.name for p in (run / "checkpoints").iterdir() if p.name.startswith(f"corrupt-{latest.name}-")]
    assert len(aside) == 1  # kept for inspection, invisible to the next resume
    ref, got = train_losses(reference_run), train_losses(run)
    assert sorted(got) == list(range(prev_step + 1, 17))
    assert all(got[s] == [ref[s][0]] for s in got)
    # every checkpoint corrupt: a clear error that says where they went, not a silent restart from step 0
    for _, p in list_checkpoints(run):
        _flip_a_byte(next(p.glob("*.distcp")))
    (run / "summary.json").unlink(missing_ok=True)
    (run / "loop.json").unlink(missing_ok=True)
    with pytest.raises(CheckpointError, match=r"every checkpoint is corrupt \(moved aside: .*corrupt-step-"):
        main(parse(["--data", tokens, "--out", str(run), *RESUME_ARGS]))
