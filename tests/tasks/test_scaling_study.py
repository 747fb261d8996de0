"""A very small end-to-end scaling study on the real Ray cluster: runs recorded (a failed one too, not fatal),
fits and laws written, a held-out run compared with its prediction, PNG plots exist, a rerun skips finished runs."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from benchmarks.scaling_seed_noise import main as seed_noise_main
from model import scaling
from tasks.config import parse, to_mapping
from tasks.scaling_study import Shape, StudyConfig, grid_points, hparam_points, load_study_config, read_results, run_scaling_study
from tests.model.token_fixtures import write_token_dataset


def tiny_study(tokens: str, out: Path) -> StudyConfig:
    # M(L1 d16, seq 32) = 24,576 FLOPs/token: C = 1e7 is ~3 steps of 4 x 32 tokens, 3e7 ~10 steps
    return StudyConfig(
        data={"markov": tokens}, out=str(out), budgets=[1e7, 3e7], lr_grid=[3e-3, 1e-2], batch_grid=[4],
        shapes=[Shape(1, 16, 2), Shape(1, 32, 2), Shape(1, 30, 4)],  # d_model 30 is not divisible by 4 heads: fails
        hparam_shape=Shape(1, 16, 2), seq_len=32, warmup_steps=1, min_steps=1, eval_batches=1, bootstrap=10, save_checkpoints=False, holdout_budget=6e7,
        seeds=2,  # every IsoFLOP and held-out point trains twice, with seeds 0 and 1
    )


@pytest.mark.timeout(240)
def test_tiny_study_end_to_end(ray_cluster, tmp_path) -> None:
    tokens = write_token_dataset(tmp_path / "tokens", n_train_docs=60, n_val_docs=10)
    cfg = tiny_study(tokens, tmp_path / "study")
    shipped = scaling.LAWS_FILE.read_text()
    report = run_scaling_study(cfg)
    rows = [r for r in read_results(Path(cfg.out) / "results.jsonl") if r["kind"] != "holdout"]
    assert len(rows) == len(grid_points(cfg)) == 2 * (2 + 3 * 2)
    failed = [r for r in rows if r["status"] == "failed"]
    assert {r["d_model"] for r in failed} == {30} and len(failed) == 4
    assert all("not divisible" in r["error"] for r in failed)
    ok = [r for r in rows if r["status"] == "ok"]
    assert len(ok) == 12 and all(r["loss"] > 0 for r in ok)
    assert all((Path(r["out"]) / "summary.json").exists() for r in ok)
    iso = {(r["budget"], r["d_model"], r["seed"]): r["loss"] for r in ok if r["kind"] == "isoflop"}
    assert len(iso) == 8 and all(iso[(c, d, 0)] != pytest.approx(iso[(c, d, 1)], rel=1e-4) for c, d, _ in iso)  # the seed is used
    entry = report["variants"]["markov"]
    assert entry["runs"] == {"ok": 12, "failed": 4, "diverged": 0, "skipped": 0}
    vertex_losses = {m["budget"]: m["loss"] for m in entry["fit"]["allocation"]["minima"]}
    assert all(min(iso[k] for k in iso if k[0] == c) != pytest.approx(v) for c, v in vertex_losses.items())  # no single seed's run
    assert entry["fit"]["hyperparameters"] is not None and entry["fit"]["loss"] is not None
    laws = scaling.load_laws(entry["laws_file"])
    assert laws["learning_rate"]["exp"] == pytest.approx(entry["fit"]["hyperparameters"]["learning_rate"]["exp"])
    assert scaling.LAWS_FILE.read_text() == shipped
    holdout = entry["holdout"]  # trained after the fits: the shape nearest the fitted M_opt, batch / lr from the fitted laws
    assert holdout["run"]["kind"] == "holdout" and holdout["run"]["status"] == "ok" and holdout["actual"] > 0
    assert [r["seed"] for r in holdout["runs"]] == [0, 1] and holdout["points"] == [r["id"] for r in holdout["runs"]]
    assert holdout["actual"] == pytest.approx(sum(holdout["seed_losses"]) / 2) and len(set(holdout["seed_losses"])) == 2
    assert holdout["relative_error"] == pytest.approx(holdout["actual"] / holdout["loss"] - 1)
    assert json.loads((Path(cfg.out) / "report.json").read_text())["comparison"].keys() == {"markov"}
    pngs = report["plots"]
    assert {Path(p).name for p in pngs} >= {"markov-hparam-grid.png", "markov-isoflop.png", "markov-laws.png", "markov-loss.png"}
    assert all(Path(p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    # a rerun trains only what did not finish (the two failed runs), keeping one row per run
    before = len((Path(cfg.out) / "results.jsonl").read_text().splitlines())
    run_scaling_study(cfg, plots=False)
    after = len((Path(cfg.out) / "results.jsonl").read_text().splitlines())
    assert after == before + 4
    assert len(read_results(Path(cfg.out) / "results.jsonl")) == 18  # + the held-out run's two seeds
    # the seed-noise benchmark retrains a finished point unchanged but for the seed
    point = next(r for r in ok if r["kind"] == "hparam")
    noise = seed_noise_main([cfg.out, "--id", point["id"], "--seeds", "0", "1", "--workers", "1"])[point["id"]]
    original, same_seed, other_seed = noise["losses"]
    assert same_seed == pytest.approx(original, rel=1e-4) and other_seed != pytest.approx(original, rel=1e-4)
    assert noise["rel_std"] > 0 and noise["not_ok"] == {} and (Path(cfg.out) / "seed-noise.json").exists()


def test_config_file_parses_budgets_and_shapes_and_rejects_unknown_keys(tmp_path: Path) -> None:
    path = tmp_path / "study.yaml"
    path.write_text("data: {main: runs/tokens}\nbudgets: [1e12, 3e12, 4]\nshapes: [{n_layer: 1, d_model: 32, n_head: 2}]\n"
                    "hparam_shape: {n_layer: 1, d_model: 32, n_head: 2}\n")
    cfg = load_study_config(str(path), out="elsewhere", install_laws=None)
    assert cfg.data == {"main": "runs/tokens"} and cfg.budgets == [1e12, 3e12, 4.0] and cfg.shapes == [Shape(1, 32, 2)]
    assert cfg.hparam_shape == Shape(1, 32, 2) and cfg.out == "elsewhere" and cfg.install_laws is None
    assert parse(StudyConfig, to_mapping(cfg)) == cfg  # what report.json records reads back
    with pytest.raises(ValueError, match=r"unknown key 'budget' \(did you mean 'budgets'\?\)"):
        parse(StudyConfig, {"data": {"v": "x"}, "budget": [1]})
    with pytest.raises(ValueError, match=r"unknown key 'shapes\[0\].layers'"):
        parse(StudyConfig, {"data": {"v": "x"}, "shapes": [{"layers": 1, "d_model": 32, "n_head": 2}]})
    with pytest.raises(ValueError, match=r"StudyConfig needs 'data'"):
        parse(StudyConfig, {"budgets": [1e9]})


@pytest.mark.parametrize("shape", [Shape(1, 48, 2), Shape(2, 96, 4), Shape(4, 192, 6)])
def test_grid_runs_build_the_model_the_flop_count_describes(shape: Shape) -> None:
    """M = 72 n d^2 + 12 n d l counts an FFN of 8/3 d: the model a grid point trains must have it
    (the base preset's own FFN width, tiny's fixed 192, once made every point's M wrong)."""
    from model.llama import ModelConfig, Transformer

    (point,) = [p for p in grid_points(StudyConfig(data={"v": "x"}, budgets=[1e9], lr_grid=[], batch_grid=[], shapes=[shape], seq_len=64))]
    cfg = ModelConfig.from_preset("tiny", vocab_size=256, n_layer=point["n_layer"], d_model=point["d_model"],
                                  n_head=point["n_head"], n_kv_head=point["n_head"], ffn_hidden=point["ffn_hidden"])
    model = Transformer(cfg)
    matmul = sum(p.numel() for name, p in model.named_parameters() if p.dim() == 2 and "layers" in name)
    assert 6 * matmul == 72 * shape.n_layer * shape.d_model**2
    assert point["model_scale"] == 6 * matmul + 12 * shape.n_layer * shape.d_model * 64


def test_isoflop_runs_can_use_the_hyperparameters_the_study_fitted(tmp_path: Path) -> None:
    """isoflop_hparams: fitted: the grid runs first, B_opt(C) / eta_opt(C) are fitted per variant, and the
    IsoFLOP runs use them (DeepSeek's order). Results of a known optimum answer the grid, so nothing trains:
    a point the study computed differently would be trained on a missing dataset and fail."""
    from model.scaling_fit import fit_hyperparameters
    from tasks.scaling_study import hparam_points, isoflop_points

    cfg = StudyConfig(data={"v": str(tmp_path / "no-such-tokens")}, out=str(tmp_path / "study"), budgets=[1e9, 1e10, 1e11],
                      lr_grid=[1e-3, 4e-3, 1.6e-2], batch_grid=[4, 16, 64], shapes=[Shape(1, 16, 2), Shape(1, 32, 2), Shape(2, 32, 2)],
                      hparam_shape=Shape(1, 16, 2), seq_len=32, bootstrap=0, isoflop_hparams="fitted")

    def best(c: float) -> tuple[int, float]:  # the optimum moves with the budget: bigger batch, smaller lr
        return {1e9: (4, 1.6e-2), 1e10: (16, 4e-3), 1e11: (64, 1e-3)}[c]

    hp = [{**p, "status": "ok", "loss": 3.0 if (p["batch_size"], p["lr"]) == best(p["budget"]) else 3.5} for p in hparam_points(cfg)]
    fits = {"v": fit_hyperparameters(hp, bootstrap=0)}
    assert fits["v"].learning_rate.exp == pytest.approx(-0.602, abs=0.01)  # lr / 4 per 10x C
    iso = isoflop_points(cfg, fits=fits)
    for p in iso:
        assert (p["batch_size"], p["lr"]) == (best(p["budget"])[0], pytest.approx(best(p["budget"])[1], rel=1e-6))
    iso_rows = [{**p, "status": "ok", "loss": 3.0 + abs(p["d_model"] - 32) / 100 + p["n_layer"] / 50} for p in iso]
    Path(cfg.out).mkdir(parents=True)
    (Path(cfg.out) / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in hp + iso_rows))

    report = run_scaling_study(cfg, executor="local", plots=False)
    assert report["variants"]["v"]["runs"] == {"ok": len(hp) + len(iso), "failed": 0, "diverged": 0, "skipped": 0}
    assert {r["id"] for r in read_results(Path(cfg.out) / "results.jsonl")} == {p["id"] for p in hp + iso}

    with pytest.raises(ValueError, match="isoflop_hparams"):
        run_scaling_study(StudyConfig(data={"v": "x"}, out=str(tmp_path / "bad"), isoflop_hparams="guess"))


@pytest.mark.parametrize("name", sorted(p.name for p in (Path(__file__).resolve().parents[2] / "configs").glob("scaling_study_*.yaml")))
def test_shipped_study_configs_load_and_hold_out_a_larger_run(name: str) -> None:
    cfg = load_study_config(str(Path(__file__).resolve().parents[2] / "configs" / name))
    assert cfg.shapes and cfg.budgets == sorted(cfg.budgets)
    assert cfg.holdout_budget is None or cfg.holdout_budget > max(cfg.budgets)  # the IsoFLOP-only config holds none out
    grid = hparam_points(dataclasses.replace(cfg, data={"v": "tokens"}), ["v"])
    assert len(grid) == len(cfg.budgets) * len(cfg.lr_grid) * len(cfg.batch_grid)
    assert all(p["steps"] >= cfg.min_steps for p in grid), [(p["id"], p["steps"]) for p in grid if p["steps"] < cfg.min_steps]
