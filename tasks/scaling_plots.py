"""PNG plots of a scaling study (matplotlib, Agg): hyperparameter grids, IsoFLOP curves, fitted laws, the loss
prediction and the data-quality comparison. Called by ``tasks.scaling_study.run_scaling_study``.

    write_plots(rows, fits, report, Path("runs/study/plots"))  # -> list of PNG paths
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from model.scaling_fit import StudyFit, mean_over_seeds, near_optimal


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path, title: str | None = None) -> Path:
    plt = _plt()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def plot_hparam_grid(rows: list[dict[str, Any]], variant: str, tolerance: float, path: Path) -> Path | None:
    plt = _plt()
    from matplotlib.ticker import NullFormatter

    hp = [r for r in rows if r["variant"] == variant and r["kind"] == "hparam"]
    budgets = sorted({r["budget"] for r in hp})
    if not budgets:
        return None
    region = near_optimal(hp, tolerance)
    fig, axes = plt.subplots(1, len(budgets), figsize=(4 * len(budgets), 3.6), squeeze=False)
    for ax, c in zip(axes[0], budgets):
        g = [r for r in hp if r["budget"] == c]
        ok = [r for r in g if r["status"] == "ok"]
        bad = [r for r in g if r["status"] != "ok"]
        if ok:
            sc = ax.scatter([r["batch_tokens"] for r in ok], [r["lr"] for r in ok], c=[r["loss"] for r in ok], cmap="viridis_r", s=60)
            fig.colorbar(sc, ax=ax, label="val loss")
        near = region.get(float(c), [])
        ax.scatter([r["batch_tokens"] for r in near], [r["lr"] for r in near], facecolors="none", edgecolors="red", s=160, label="near-optimal")
        ax.scatter([r["batch_tokens"] for r in bad], [r["lr"] for r in bad], marker="x", color="black", label="failed/diverged/skipped")
        ax.set(xscale="log", yscale="log", xlabel="batch (tokens)", ylabel="learning rate", title=f"C = {c:.1e}")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.legend(fontsize=7)
    return _save(fig, path, f"{variant}: batch x learning-rate grids")


def plot_isoflop(rows: list[dict[str, Any]], variant: str, fit: StudyFit, path: Path) -> Path | None:
    plt = _plt()
    iso = [r for r in rows if r["variant"] == variant and r["kind"] == "isoflop" and r["status"] == "ok"]
    if not iso:
        return None
    fig, ax = plt.subplots(figsize=(6, 4.2))
    minima = {m.budget: m for m in (fit.allocation.minima if fit.allocation else [])}
    for c in sorted({r["budget"] for r in iso}):
        g = sorted((r for r in iso if r["budget"] == c), key=lambda r: r["model_scale"])
        line = ax.plot([r["model_scale"] for r in g], [r["loss"] for r in g], "o", label=f"C={c:.1e}")[0]
        m = minima.get(c)
        if m and m.quadratic:  # drawn over the runs it was fitted to (the best run and its neighbours)
            lo, hi = m.fitted_range or (g[0]["model_scale"], g[-1]["model_scale"])
            xs = np.linspace(math.log(lo), math.log(hi), 50)
            ax.plot(np.exp(xs), np.polyval(m.quadratic, xs), "-", color=line.get_color(), alpha=0.7)
        if m:
            ax.plot([m.model_scale], [m.loss], "*", color=line.get_color(), markersize=14, alpha=0.6)
    ax.set(xscale="log", xlabel="model scale M (non-embedding FLOPs/token)", ylabel="val loss", title=f"{variant}: IsoFLOP profiles (star: vertex of a local parabola)")
    from matplotlib.ticker import NullFormatter

    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.legend(fontsize=7)
    return _save(fig, path)


def plot_laws(fit: StudyFit, variant: str, path: Path) -> Path | None:
    plt = _plt()
    panels = []
    if fit.hyperparameters:
        hp = fit.hyperparameters
        panels += [("B_opt (tokens), near-optimal runs", hp.batch_tokens, [(c, b) for c, b, _ in hp.points]),
                   ("lr_opt, near-optimal runs", hp.learning_rate, [(c, lr) for c, _, lr in hp.points])]
    if fit.allocation:
        pts = [(m.budget, m.model_scale) for m in fit.allocation.minima]
        panels += [("M_opt (FLOPs/token)", fit.allocation.model_scale, pts), ("D_opt (tokens)", fit.allocation.tokens, [(c, c / m) for c, m in pts])]
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.6), squeeze=False)
    for ax, (name, law, pts) in zip(axes[0], panels):
        lo, hi = math.exp(law.x_mean_log - 3), math.exp(law.x_mean_log + 3)
        xs = np.logspace(math.log10(lo), math.log10(hi), 50)
        ax.plot(xs, law(xs), "-", label=f"{law.coef:.3g} C^{law.exp:.3f} (±{law.exp_se:.3f})")
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "o")
        ax.set(xscale="log", yscale="log", xlabel="compute C (FLOPs)", title=name)
        ax.legend(fontsize=7)
    return _save(fig, path, f"{variant}: fitted laws")


def plot_loss_prediction(rows: list[dict[str, Any]], variant: str, fit: StudyFit, entry: dict[str, Any], path: Path) -> Path | None:
    if not fit.loss:
        return None
    plt = _plt()
    ok = [r for r in rows if r["variant"] == variant and r["status"] == "ok" and r["kind"] in ("isoflop", "hparam")]
    fig, ax = plt.subplots(figsize=(6, 4.2))
    ax.plot([r["budget"] for r in ok], [r["loss"] for r in ok], ".", color="grey", alpha=0.5, label="runs")
    holdout = entry.get("holdout")
    top = max([r["budget"] for r in ok] + [p["compute"] for p in entry.get("predictions", [])] + ([holdout["compute"]] if holdout else []))
    lo_c = min(r["budget"] for r in ok)
    xs = np.logspace(math.log10(lo_c), math.log10(top * 1.5), 60)
    band = np.array([fit.loss.interval(x) for x in xs])
    ax.plot(xs, fit.loss(xs), "-", label=fit.loss.describe())
    ax.fill_between(xs, band[:, 0], band[:, 1], alpha=0.2, label="95% prediction interval")
    if holdout and holdout.get("actual"):
        ax.plot([holdout["compute"]], [holdout["actual"]], "r*", markersize=14, label=f"held-out run ({100 * holdout['relative_error']:+.1f}%)")
    ax.set(xscale="log", xlabel="compute C (FLOPs)", ylabel="val loss", title=f"{variant}: loss extrapolation")
    ax.legend(fontsize=7)
    return _save(fig, path)


def plot_comparison(fits: dict[str, StudyFit], path: Path) -> Path | None:
    with_alloc = {v: f for v, f in fits.items() if f.allocation}
    if len(with_alloc) < 2:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for v, f in with_alloc.items():
        pts = [(m.budget, m.model_scale) for m in f.allocation.minima]
        law = f.allocation.model_scale
        line = ax.plot([p[0] for p in pts], [p[1] for p in pts], "o")[0]
        xs = np.array(sorted(p[0] for p in pts))
        ax.plot(xs, law(xs), "-", color=line.get_color(), label=f"{v}: a = {law.exp:.3f} ± {law.exp_se:.3f}")
    ax.set(xscale="log", yscale="log", xlabel="compute C (FLOPs)", ylabel="M_opt", title="data quality: model-scale allocation exponent a")
    ax.legend(fontsize=8)
    return _save(fig, path)


def write_plots(rows: list[dict[str, Any]], fits: dict[str, StudyFit], report: dict[str, Any], out: Path) -> list[str]:
    out.mkdir(parents=True, exist_ok=True)
    rows = mean_over_seeds(rows)  # a point trained with several seeds is drawn once, at its mean loss (what the fits use)
    tolerance = float(report["config"]["tolerance"])
    paths: list[Path | None] = []
    for variant, fit in fits.items():
        entry = report["variants"][variant]
        paths += [
            plot_hparam_grid(rows, variant, tolerance, out / f"{variant}-hparam-grid.png"),
            plot_isoflop(rows, variant, fit, out / f"{variant}-isoflop.png"),
            plot_laws(fit, variant, out / f"{variant}-laws.png"),
            plot_loss_prediction(rows, variant, fit, entry, out / f"{variant}-loss.png"),
        ]
    paths.append(plot_comparison(fits, out / "data-quality.png"))
    return [str(p) for p in paths if p]
