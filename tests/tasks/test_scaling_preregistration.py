"""The scaling study's honesty checks: a pre-registered held-out run (config committed and unchanged before it
trains, or it is refused), no repeated data (points past ``max_epochs`` are skipped, every row has its epochs),
and every run scored on the same validation windows (``eval_batch_size``)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tasks.scaling_study import Shape, StudyConfig, grid_points, load_study_config, preregistration, read_results, run_point, run_scaling_study
from tests.model.token_fixtures import write_token_dataset


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args], cwd=repo, check=True, capture_output=True)


def _repo_with_config(tmp_path: Path, text: str) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    path = repo / "study.yaml"
    path.write_text(text)
    return path


def test_preregistration_needs_the_config_committed_and_unchanged(tmp_path: Path) -> None:
    assert preregistration(None) == {"config_file": None, "ok": False, "reason": "the study was not read from a config file"}
    outside = tmp_path / "loose.yaml"
    outside.write_text("data: {}\n")
    rec = preregistration(str(outside))
    assert not rec["ok"] and "not in a git work tree" in rec["reason"]

    path = _repo_with_config(tmp_path, "data: {}\nholdout_budget: 1.0e+9\n")
    rec = preregistration(str(path))
    assert not rec["ok"] and rec["reason"] == "study.yaml has never been committed"
    _git(path.parent, "add", "study.yaml")
    _git(path.parent, "commit", "-q", "-m", "register the study")
    rec = preregistration(str(path))
    assert rec["ok"] and rec["reason"] is None and rec["subject"] == "register the study" and len(rec["commit"]) == 40
    path.write_text("data: {}\nholdout_budget: 2.0e+9\n")  # revised after the fact
    rec = preregistration(str(path))
    assert not rec["ok"] and rec["reason"].startswith("study.yaml differs from its last commit")

    # a held-out run that finished before the commit was seen before the config was fixed
    path.write_text("data: {}\nholdout_budget: 1.0e+9\n")
    results = tmp_path / "results.jsonl"
    results.write_text(json.dumps({"id": "v-holdout-x", "kind": "holdout", "status": "ok", "finished_at": time.time() - 3600}) + "\n")
    rec = preregistration(str(path), results)
    assert not rec["ok"] and "v-holdout-x" in rec["reason"]


def test_points_past_max_epochs_are_skipped_with_their_epochs(tmp_path: Path) -> None:
    tokens = write_token_dataset(tmp_path / "tokens", n_train_docs=20, n_val_docs=4)
    cfg = StudyConfig(data={"v": tokens}, out=str(tmp_path / "s"), budgets=[1e6, 1e8], lr_grid=[1e-2], batch_grid=[2],
                      shapes=[Shape(1, 16, 2)], hparam_shape=Shape(1, 16, 2), seq_len=32, min_steps=1, max_epochs=1.0)
    small, big = grid_points(cfg)[:2]
    assert 0 < small["epochs"] < 1 < big["epochs"]  # the fixture's train split holds a few thousand tokens
    row = run_point(big, {"min_steps": 1, "max_epochs": 1.0})
    assert row["status"] == "skipped" and row["loss"] is None
    assert row["error"] == f"would read the training split {big['epochs']:.2f} times > max_epochs 1.0"


@pytest.mark.timeout(240)
def test_held_out_run_is_refused_unless_preregistered_then_runs_and_is_recorded(tmp_path: Path) -> None:
    """The same study twice: config uncommitted -> prediction written, held-out run refused (not trained);
    config committed -> the held-out run trains, and the report names the commit."""
    tokens = write_token_dataset(tmp_path / "tokens", n_train_docs=60, n_val_docs=10)
    path = _repo_with_config(tmp_path, (
        "data: {}\nbudgets: [1.0e+7, 3.0e+7]\nlr_grid: [3.0e-3, 1.0e-2]\nbatch_grid: [4]\n"
        "shapes: [{n_layer: 1, d_model: 16, n_head: 2}, {n_layer: 1, d_model: 32, n_head: 2}]\n"
        "hparam_shape: {n_layer: 1, d_model: 16, n_head: 2}\nseq_len: 32\nwarmup_steps: 1\nmin_steps: 1\n"
        "eval_batches: 2\neval_batch_size: 4\nbootstrap: 10\nsave_checkpoints: false\nholdout_budget: 6.0e+7\n"
        "max_epochs: 1.0\npreregister: true\n"))
    cfg = load_study_config(str(path), data={"markov": tokens}, out=str(tmp_path / "study"))
    assert cfg.config_file == str(path.resolve())
    report = run_scaling_study(cfg, executor="local", plots=False)
    holdout = report["variants"]["markov"]["holdout"]
    assert holdout["refused"].startswith("not pre-registered: study.yaml has never been committed") and "actual" not in holdout
    assert not [r for r in read_results(Path(cfg.out) / "results.jsonl") if r["kind"] == "holdout"]
    prediction = json.loads((Path(cfg.out) / "holdout_prediction.json").read_text())
    assert prediction["predictions"]["markov"]["loss"] == holdout["loss"] and not prediction["preregistration"]["ok"]

    _git(path.parent, "add", "study.yaml")
    _git(path.parent, "commit", "-q", "-m", "pre-register the tiny study")
    report = run_scaling_study(cfg, executor="local", plots=False)
    holdout = report["variants"]["markov"]["holdout"]
    assert report["preregistration"]["ok"] and report["preregistration"]["subject"] == "pre-register the tiny study"
    assert "refused" not in holdout and holdout["actual"] > 0 and holdout["run"]["status"] == "ok"
    written = json.loads((Path(cfg.out) / "holdout_prediction.json").read_text())
    assert written["written_at"] < holdout["run"]["finished_at"] and written["predictions"]["markov"]["loss"] == holdout["loss"]
    epochs = report["epochs"]["markov"]
    assert 0 < epochs["hparam"] <= 1.0 and 0 < epochs["holdout"] <= 1.0
    # every run was scored on the same validation windows: 2 batches of 4, whatever its training batch
    assert all(r["epochs"] <= 1.0 for r in read_results(Path(cfg.out) / "results.jsonl") if r["status"] == "ok")


def test_eval_batch_size_fixes_the_validation_windows(tmp_path: Path) -> None:
    from model.pretrain import TrainConfig, _loaders

    tokens = write_token_dataset(tmp_path / "tokens", n_train_docs=20, n_val_docs=8)

    class Run:  # the two fields of ResolvedRun the loaders read
        seq_len, micro_batch_size = 16, 2

    class Rt:
        rank, world_size = 0, 1

    def val_windows(eval_batch_size: int | None, batches: int) -> list:
        _, val = _loaders(TrainConfig(data=tokens, eval_batch_size=eval_batch_size), Run(), Rt())
        return [b for _, b in zip(range(batches), iter(val()))]

    a, b = val_windows(4, 2), val_windows(None, 4)  # 8 windows either way
    assert [tuple(x[0].shape) for x in a] == [(4, 16)] * 2 and [tuple(x[0].shape) for x in b] == [(2, 16)] * 4
    import torch

    assert torch.equal(torch.cat([x[0] for x in a]), torch.cat([x[0] for x in b]))
