"""Scaling-law study driver (pure of Prefect): grids of small pretrain runs as Ray tasks -> results table -> fits
-> report JSON, fitted laws and PNG plots.

For every data variant and compute budget C:
- hyperparameter grid: every (batch size, learning rate) of ``batch_grid`` x ``lr_grid`` on one shape
  (``hparam_shape``, default: the shape in ``shapes`` nearest to the planner's M_opt(C)), D = C / M tokens;
- IsoFLOP profile: every shape in ``shapes`` trained to the same C (D = C / M), batch and lr from the planner
  (``isoflop_hparams: planner``) or, as DeepSeek did, from the B_opt(C) / eta_opt(C) laws this study fitted
  on its own hyperparameter grid (``isoflop_hparams: fitted``: the grid runs first, then the profiles).
With ``seeds: N`` every IsoFLOP point and the held-out run train N times (seeds ``seed`` .. ``seed + N - 1``,
run ids ``...-s<seed>`` beyond the first); the fits use each point's mean loss and the held-out actual is the
mean of its N runs. Each grid point is a normal ``model.pretrain.main`` run with its own directory (metrics, checkpoint,
summary) under ``OUT/<variant>/runs/<id>``; a failed or diverged run becomes a row with ``status`` and
``error``. Rows go to ``OUT/results.jsonl`` as runs finish (a rerun skips finished rows). Then
``model.scaling_fit.fit_study`` per variant, ``OUT/<variant>/scaling_laws.json`` (planner format), an
optional held-out larger run predicted from the fits, ``OUT/report.json`` and ``OUT/plots/*.png``.

    from tasks.scaling_study import StudyConfig, run_scaling_study
    report = run_scaling_study(StudyConfig(data={"curated": "runs/tokens"}, budgets=[1e11, 3e11, 1e12], out="runs/study"))
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import subprocess
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model import scaling
from storage import write_bytes_atomic
from model.flops import flops_per_token
from model.scaling_fit import LOSS_LAWS, NEAR_OPTIMAL_TOLERANCE, HyperparameterFit, StudyFit, fit_hyperparameters, fit_study, write_laws
from tasks.config import parse, to_mapping
from tasks.executor import check_executor, iter_units

log = logging.getLogger("longterm.scaling_study")


@dataclass
class Shape:
    n_layer: int
    d_model: int
    n_head: int

    def model_scale(self, seq_len: int) -> float:
        return flops_per_token(self.n_layer, self.d_model, seq_len)

    @property
    def name(self) -> str:
        return f"L{self.n_layer}d{self.d_model}h{self.n_head}"

    @property
    def ffn_hidden(self) -> int:
        """8/3 d_model rounded up to a multiple of 8: the FFN that M = 72 n d^2 + 12 n d l counts
        (the presets' own FFN, e.g. tiny's fixed 192, would make M wrong for every other width)."""
        return 8 * math.ceil(8 * self.d_model / 3 / 8)


@dataclass
class StudyConfig:
    data: dict[str, str]  # variant name -> token dataset URI (two variants give the data-quality comparison)
    out: str = "runs/scaling-study"
    budgets: list[float] = field(default_factory=lambda: [1e11, 3e11, 1e12])
    lr_grid: list[float] = field(default_factory=lambda: [1e-3, 3e-3, 1e-2])
    batch_grid: list[int] = field(default_factory=lambda: [4, 8, 16])  # global batch, sequences
    shapes: list[Shape] = field(default_factory=lambda: [Shape(1, 32, 2), Shape(2, 48, 2), Shape(2, 64, 4), Shape(3, 96, 4)])
    hparam_shape: Shape | None = None
    isoflop_hparams: str = "planner"  # "planner" (configs/scaling_laws.json) or "fitted" (this study's grid, per variant)
    preset: str = "tiny"  # base ModelConfig (vocab comes from the data)
    seq_len: int = 64
    warmup_steps: int = 10
    min_steps: int = 4  # grid points with fewer optimizer steps are not run (recorded as "skipped")
    eval_batches: int = 4
    eval_batch_size: int | None = None  # sequences per validation batch; fixed, every run is scored on the same val windows
    max_epochs: float | None = None  # a grid point that would read its training split more often is skipped (1: no repeated data)
    preregister: bool = False  # the held-out run needs the config file committed and unchanged (see preregistration())
    config_file: str | None = None  # set by load_study_config: the file the study was read from
    tolerance: float = NEAR_OPTIMAL_TOLERANCE
    loss_law: str = "power"  # L(C): "power" L_base C^l (DeepSeek) or "offset" E + A (C/C_ref)^l (needs 4 budgets for an interval)
    bootstrap: int = 200
    holdout_budget: float | None = None  # a larger run predicted from the fits, then trained and compared
    predict: list[float] = field(default_factory=list)  # further budgets to extrapolate L(C) to
    install_laws: str | None = None  # also write this variant's fitted laws to configs/scaling_laws.json
    save_checkpoints: bool = True
    device: str = "cpu"
    gpus_per_run: float = 0.0
    cpus_per_run: float = 1.0
    seed: int = 0
    seeds: int = 1  # IsoFLOP and held-out points train with seeds seed .. seed + seeds - 1; the fits use their mean loss

    def __post_init__(self) -> None:
        if self.seeds < 1:
            raise ValueError(f"seeds must be 1 or more, got {self.seeds}")
        if self.isoflop_hparams not in ("planner", "fitted"):
            raise ValueError(f"isoflop_hparams must be 'planner' or 'fitted', got {self.isoflop_hparams!r}")
        if self.loss_law not in LOSS_LAWS:
            raise ValueError(f"loss_law must be one of {LOSS_LAWS}, got {self.loss_law!r}")



def load_study_config(path: str, **overrides: object) -> StudyConfig:
    """A StudyConfig from a YAML/JSON file (:func:`tasks.config.parse`); ``overrides`` that are not None replace its settings."""
    cfg = parse(StudyConfig, {k: v for k, v in overrides.items() if v is not None}, base=parse(StudyConfig, path))
    cfg.config_file = cfg.config_file or str(Path(path).resolve())
    return cfg


@functools.lru_cache(maxsize=64)
def train_windows(uri: str, seq_len: int) -> int | None:
    """Training windows of ``seq_len`` tokens in a token dataset's train split (None when it cannot be read):
    ``(N - 1) // seq_len``, the count ``model.data.TokenLoader`` visits once per epoch (read here from the manifest,
    without opening and verifying the shards)."""
    try:
        from storage import open_dataset

        n = int(open_dataset(uri).manifest.stats["tokens"]["train"])
    except Exception:  # noqa: BLE001 - a missing dataset fails its runs later, with the trainer's message
        return None
    return max(0, (n - 1) // seq_len)


# ----------------------------------------------------------------------------- the grid


def _point(cfg: StudyConfig, variant: str, kind: str, budget: float, shape: Shape, batch: int, lr: float,
           seed: int | None = None) -> dict[str, Any]:
    m = shape.model_scale(cfg.seq_len)
    tokens = budget / m
    seed = cfg.seed if seed is None else seed
    rid = f"{variant}-{kind}-C{budget:.2e}-{shape.name}-b{batch}-lr{lr:.2e}" + (f"-s{seed}" if seed != cfg.seed else "")
    steps = max(1, math.ceil(tokens / (batch * cfg.seq_len)))
    windows = train_windows(cfg.data[variant], cfg.seq_len)
    return {
        "id": rid, "variant": variant, "kind": kind, "budget": budget, "data": cfg.data[variant],
        "n_layer": shape.n_layer, "d_model": shape.d_model, "n_head": shape.n_head, "ffn_hidden": shape.ffn_hidden,
        "model_scale": m, "tokens": tokens,
        "batch_size": batch, "batch_tokens": batch * cfg.seq_len, "lr": lr, "steps": steps, "seed": seed,
        "epochs": (steps * batch / windows) if windows else None,  # passes over the training split
        "out": str(Path(cfg.out) / variant / "runs" / rid),
    }


def _hparam_shape(cfg: StudyConfig, budget: float) -> Shape:
    if cfg.hparam_shape:
        return cfg.hparam_shape
    target = scaling.load_laws()["model_flops_per_token"]
    m_opt = target["coef"] * budget ** target["exp"]
    return min(cfg.shapes, key=lambda s: abs(math.log(s.model_scale(cfg.seq_len) / m_opt)))


def hparam_points(cfg: StudyConfig, variants: list[str] | None = None) -> list[dict[str, Any]]:
    """The hyperparameter grid runs: every (batch, lr) on one shape per budget."""
    points = []
    for variant in variants or list(cfg.data):
        for c in cfg.budgets:
            shape = _hparam_shape(cfg, c)
            points += [_point(cfg, variant, "hparam", c, shape, b, lr) for b in cfg.batch_grid for lr in cfg.lr_grid]
    return points


def isoflop_points(cfg: StudyConfig, variants: list[str] | None = None, fits: dict[str, HyperparameterFit] | None = None) -> list[dict[str, Any]]:
    """The IsoFLOP runs: every shape at every budget, batch and lr from ``fits[variant]`` when given, else the planner."""
    points = []
    for variant in variants or list(cfg.data):
        fit = (fits or {}).get(variant)
        for c in cfg.budgets:
            if fit is not None:
                batch = max(1, round(float(fit.batch_tokens(c)) / cfg.seq_len))
                lr = float(fit.learning_rate(c))
            else:
                plan = scaling.plan(compute=c, seq_len=cfg.seq_len)
                batch, lr = max(1, plan.batch_sequences), plan.learning_rate
            points += [_point(cfg, variant, "isoflop", c, s, batch, lr, seed) for s in cfg.shapes for seed in _seeds(cfg)]
    return points


def _seeds(cfg: StudyConfig) -> range:
    return range(cfg.seed, cfg.seed + cfg.seeds)


def grid_points(cfg: StudyConfig, fits: dict[str, HyperparameterFit] | None = None) -> list[dict[str, Any]]:
    """Every run of the study (hyperparameter grids, then IsoFLOP profiles), for every data variant."""
    return [p for v in cfg.data for p in hparam_points(cfg, [v]) + isoflop_points(cfg, [v], fits)]


def run_point(point: dict[str, Any], cfg: dict[str, Any]) -> dict[str, Any]:
    """Train one grid point; never raises: failures and divergence become ``status`` / ``error``."""
    from model.pretrain import TrainConfig, main

    row = dict(point)
    if point["steps"] < cfg["min_steps"]:
        return {**row, "status": "skipped", "loss": None, "error": f"{point['steps']} steps < min_steps {cfg['min_steps']}"}
    if cfg.get("max_epochs") and (point.get("epochs") or 0) > cfg["max_epochs"]:
        return {**row, "status": "skipped", "loss": None,
                "error": f"would read the training split {point['epochs']:.2f} times > max_epochs {cfg['max_epochs']}"}
    t0 = time.perf_counter()
    try:
        train = TrainConfig(
            data=point["data"], preset=cfg["preset"], out=point["out"], seq_len=cfg["seq_len"], tokens=point["tokens"],
            model_overrides={"n_layer": point["n_layer"], "d_model": point["d_model"], "n_head": point["n_head"], "n_kv_head": point["n_head"],
                             "ffn_hidden": point["ffn_hidden"], "max_seq_len": max(cfg["seq_len"], 1)},
            batch_size=point["batch_size"], micro_batch_size=point["batch_size"], lr=point["lr"], warmup_steps=cfg["warmup_steps"],
            eval_every=10**9, eval_batches=cfg["eval_batches"], eval_batch_size=cfg.get("eval_batch_size"), log_every=10**9,
            seed=point.get("seed", cfg["seed"]), device=cfg["device"],
            ckpt_every_steps=10**9 if cfg["save_checkpoints"] else 0, ckpt_every_minutes=0, keep_last=1,
            async_checkpoint="off", compile="off", progress=False, tensorboard=False,
        )
        summary = main(train)
        loss = summary.get("val_loss")
        if loss is None or not math.isfinite(loss):
            row.update(status="diverged", loss=None, error=f"final validation loss {loss}")
        else:
            row.update(status="ok", loss=float(loss), train_loss=summary.get("loss"), steps=summary.get("total_steps", point["steps"]),
                       skipped_steps=summary.get("skipped_steps", 0), error=None)
    except FloatingPointError as e:
        row.update(status="diverged", loss=None, error=str(e))
    except Exception as e:  # noqa: BLE001 - a failed run is a row of the table, not the end of the study
        row.update(status="failed", loss=None, error=f"{type(e).__name__}: {e}", traceback=traceback.format_exc(limit=3))
    row["seconds"] = round(time.perf_counter() - t0, 2)
    row["finished_at"] = time.time()
    return row


def run_cfg(cfg: StudyConfig) -> dict[str, Any]:
    """The settings every ``run_point`` of this study shares."""
    return {k: getattr(cfg, k) for k in ("preset", "seq_len", "warmup_steps", "eval_batches", "eval_batch_size", "seed", "device",
                                       "save_checkpoints", "min_steps", "max_epochs")}


def run_points(points: list[dict[str, Any]], cfg: StudyConfig, results: Path, *, executor: str = "ray", ray_address: str | None = None) -> list[dict[str, Any]]:
    """Run the points not yet finished in ``results`` (JSONL, appended as runs finish); return every row."""
    done = {r["id"]: r for r in read_results(results) if r.get("status") in ("ok", "skipped")}
    todo = [p for p in points if p["id"] not in done]
    results.parent.mkdir(parents=True, exist_ok=True)
    rcfg = run_cfg(cfg)
    with results.open("a") as f:
        def record(row: dict[str, Any]) -> None:
            done[row["id"]] = row
            f.write(json.dumps(row, default=str) + "\n")
            f.flush()
            log.info("%s: %s loss=%s (%ss)", row["id"], row["status"], row.get("loss"), row.get("seconds"))

        check_executor(executor)
        runs = iter_units(functools.partial(run_point, cfg=rcfg), todo, executor=executor, address=ray_address,
                          resources={"num_cpus": cfg.cpus_per_run, "num_gpus": cfg.gpus_per_run}, max_retries=0, errors="return")
        for i, row in runs:
            if isinstance(row, Exception):  # a worker crash (OOM kill) is a failed run too
                row = {**todo[i], "status": "failed", "loss": None, "error": f"{type(row).__name__}: {row}"}
            record(row)
    return [done[p["id"]] for p in points if p["id"] in done]


def read_results(path: Path) -> list[dict[str, Any]]:
    """Rows of a results table; a later row for the same id replaces an earlier one."""
    if not path.exists():
        return []
    rows: dict[str, dict[str, Any]] = {}
    for line in path.read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            rows[r["id"]] = r
    return list(rows.values())


# ----------------------------------------------------------------------------- fits, holdout, report


def _holdout_points(cfg: StudyConfig, variant: str, fit: StudyFit) -> list[dict[str, Any]]:
    """The held-out run, once per seed: the shape nearest the fitted M_opt(C), batch and lr from the fitted laws."""
    c = float(cfg.holdout_budget)
    if fit.allocation:
        m_opt = float(fit.allocation.model_scale(c))
        shape = min(cfg.shapes, key=lambda s: abs(math.log(s.model_scale(cfg.seq_len) / m_opt)))
    else:
        shape = max(cfg.shapes, key=lambda s: s.model_scale(cfg.seq_len))
    if fit.hyperparameters:
        batch = max(1, round(float(fit.hyperparameters.batch_tokens(c)) / cfg.seq_len))
        lr = float(fit.hyperparameters.learning_rate(c))
    else:
        plan = scaling.plan(compute=c, seq_len=cfg.seq_len)
        batch, lr = plan.batch_sequences, plan.learning_rate
    return [_point(cfg, variant, "holdout", c, shape, batch, lr, seed) for seed in _seeds(cfg)]


def allocation_summary(fit: StudyFit) -> dict[str, Any] | None:
    if not fit.allocation:
        return None
    a, b = fit.allocation.model_scale, fit.allocation.tokens
    return {"a": a.exp, "a_se": a.exp_se, "a_ci": a.exp_ci, "M_base": a.coef, "b": b.exp, "b_se": b.exp_se, "b_ci": b.exp_ci, "D_base": b.coef}


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def preregistration(config_file: str | None, results: Path | None = None) -> dict[str, Any]:
    """Was the study's config committed, unchanged, before any held-out run? ``ok`` says; ``reason`` says why not.

    The record names the file, its sha256, the last commit that touched it (hash, time, subject) and, when
    ``results`` is given, whether a held-out row already finished before that commit (a held-out run seen
    before the config was fixed is not held out).
    """
    rec: dict[str, Any] = {"config_file": config_file, "ok": False}
    if not config_file or not Path(config_file).is_file():
        return {**rec, "reason": "the study was not read from a config file"}
    path = Path(config_file).resolve()
    rec["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    try:
        top = Path(_git(path.parent, "rev-parse", "--show-toplevel"))
        rel = str(path.relative_to(top))
        status = _git(top, "status", "--porcelain", "--", rel)
    except (subprocess.CalledProcessError, FileNotFoundError, ValueError) as e:
        return {**rec, "reason": f"{path} is not in a git work tree ({type(e).__name__})"}
    rec["path"] = rel
    try:
        log_line = _git(top, "log", "-1", "--format=%H%x00%ct%x00%cI%x00%s", "--", rel)
    except subprocess.CalledProcessError:  # a repository without any commit yet
        log_line = ""
    if not log_line:
        return {**rec, "reason": f"{rel} has never been committed"}
    commit, ctime, ciso, subject = log_line.split("\x00", 3)
    rec.update(commit=commit, committed_at=ciso, subject=subject)
    if status:
        return {**rec, "reason": f"{rel} differs from its last commit {commit[:12]} (git status: {status.split()[0]})"}
    early = [r["id"] for r in read_results(results) if r.get("kind") == "holdout" and r.get("finished_at", 0) < int(ctime)] if results else []
    if early:
        return {**rec, "reason": f"held-out run(s) finished before the config's commit: {', '.join(early)}"}
    return {**rec, "ok": True, "reason": None}


def _run_holdouts(cfg: StudyConfig, fits: dict[str, StudyFit], report: dict[str, Any], results: Path, **run_kw: Any) -> None:
    """Train every variant's held-out run (in parallel) and compare it with the loss predicted before training.

    The predictions go to ``OUT/holdout_prediction.json`` before any held-out run starts. With ``preregister``
    the runs are refused (``holdout.refused``) unless :func:`preregistration` is ok.
    """
    points = {v: _holdout_points(cfg, v, f) for v, f in fits.items() if f.loss}
    prereg = preregistration(cfg.config_file, results)
    report["preregistration"] = prereg
    predictions = {v: {**fits[v].predict_loss(float(cfg.holdout_budget)), "point": ps[0]["id"], "points": [p["id"] for p in ps]}
                   for v, ps in points.items()}
    pred_path = Path(cfg.out) / "holdout_prediction.json"
    finished = {r["id"] for r in read_results(results) if r.get("status") in ("ok", "skipped")}
    if not pred_path.exists() or any(p["id"] not in finished for ps in points.values() for p in ps):  # before any held-out run trains
        write_bytes_atomic(str(pred_path), json.dumps({"written_at": time.time(), "preregistration": prereg, "predictions": predictions},
                                                     indent=1, default=str).encode())
    report["holdout_prediction"] = str(pred_path)
    if cfg.preregister and not prereg["ok"]:
        log.warning("held-out run refused: %s", prereg["reason"])
        for variant in points:
            report["variants"][variant]["holdout"] = {**predictions[variant], "refused": f"not pre-registered: {prereg['reason']}"}
        return
    rows = run_points([p for ps in points.values() for p in ps], cfg, results, **run_kw)
    for variant in points:
        runs = [r for r in rows if r["variant"] == variant]
        pred = predictions[variant]  # the one written to holdout_prediction.json before training
        losses = [float(r["loss"]) for r in runs if r.get("status") == "ok" and r.get("loss") is not None]
        # the prediction is of the mean over seeds (the fits use the mean): every seed must have finished
        actual = sum(losses) / len(losses) if losses and len(losses) == len(points[variant]) else None
        report["variants"][variant]["holdout"] = {
            **pred, "run": runs[0] if runs else {}, "runs": runs, "seed_losses": losses, "actual": actual,
            "relative_error": (actual / pred["loss"] - 1) if actual else None,
            "inside_interval": bool(actual and pred["low"] <= actual <= pred["high"]),
        }


def run_scaling_study(cfg: StudyConfig, *, executor: str = "ray", ray_address: str | None = None, plots: bool = True) -> dict[str, Any]:
    """Run (or resume) the study and return the report (also written to ``OUT/report.json``)."""
    if not cfg.data:
        raise ValueError("a scaling study needs at least one token dataset (data: {variant: uri})")
    out = Path(cfg.out)
    results = out / "results.jsonl"
    hp_fits: dict[str, HyperparameterFit] | None = None
    if cfg.isoflop_hparams == "fitted":
        hp_rows = run_points(hparam_points(cfg), cfg, results, executor=executor, ray_address=ray_address)
        hp_fits = {}
        for variant in cfg.data:
            try:
                hp_fits[variant] = fit_hyperparameters([r for r in hp_rows if r["variant"] == variant],
                                                       tolerance=cfg.tolerance, bootstrap=0, seed=cfg.seed)
            except ValueError as e:
                log.warning("variant %s: no fitted hyperparameters (%s); IsoFLOP runs use the planner's", variant, e)
    rows = run_points(grid_points(cfg, hp_fits), cfg, results, executor=executor, ray_address=ray_address)
    report: dict[str, Any] = {"config": to_mapping(cfg), "results": str(results), "variants": {}, "comparison": {}}
    fits: dict[str, StudyFit] = {}
    for variant in cfg.data:
        vrows = [r for r in rows if r["variant"] == variant]
        fit = fit_study(vrows, tolerance=cfg.tolerance, bootstrap=cfg.bootstrap, seed=cfg.seed, loss_law=cfg.loss_law)
        fits[variant] = fit
        laws_path = write_laws(fit, out / variant / "scaling_laws.json", source=f"scaling study {out} variant {variant}")
        entry: dict[str, Any] = {
            "runs": {s: sum(r["status"] == s for r in vrows) for s in ("ok", "failed", "diverged", "skipped")},
            "fit": fit.to_dict(), "laws_file": str(laws_path),
            "predictions": [fit.predict_loss(c) for c in cfg.predict] if fit.loss else [],
        }
        report["variants"][variant] = entry
        report["comparison"][variant] = allocation_summary(fit)
        if cfg.install_laws == variant:
            entry["installed_laws"] = str(write_laws(fit, scaling.LAWS_FILE, source=f"scaling study {out} variant {variant}", allow_shipped=True))
    if cfg.holdout_budget:
        _run_holdouts(cfg, fits, report, results, executor=executor, ray_address=ray_address)
    # the runs this report is built from (results.jsonl also keeps rows an earlier config of the study had)
    holdout_rows = [r for e in report["variants"].values() for r in (e.get("holdout") or {}).get("runs", [])]
    report["run_ids"] = [r["id"] for r in rows + holdout_rows]
    report["epochs"] = {v: {kind: max((r.get("epochs") or 0 for r in rows + holdout_rows if r["variant"] == v and r["kind"] == kind
                                      and r["status"] == "ok"), default=None) for kind in ("hparam", "isoflop", "holdout")}
                        for v in cfg.data}  # the most passes over its training split any run of that kind made
    if plots:
        from tasks.scaling_plots import write_plots

        report["plots"] = write_plots(rows + holdout_rows, fits, report, out / "plots")
    write_bytes_atomic(str(out / "report.json"), json.dumps(report, indent=1, default=str).encode())  # temp, fsync, rename
    return report
