"""Fit DeepSeek-style scaling laws from a table of small runs (pure numpy / scipy).

Each run is a dict with at least ``budget`` (the compute budget C it was planned for, FLOPs), ``loss``
(generalization error: final validation loss) and ``status`` ("ok" counts; anything else is ignored),
plus ``batch_tokens`` and ``lr`` (hyperparameter grid) or ``model_scale`` (M, non-embedding FLOPs per
token; IsoFLOP profiles). The fits follow arXiv 2401.02954:

- near-optimal region per budget: runs within ``tolerance`` (0.25%) of the budget's minimum loss;
- B_opt(C) = B_base C^b and eta_opt(C) = eta_base C^e: least squares in log space over all near-optimal
  runs, with standard errors of both coefficients and a bootstrap interval of the exponent;
- IsoFLOP: per budget a parabola of loss in log M, its vertex is M_opt(C); then M_opt = M_base C^a and
  D_opt = C / M_opt = D_base C^b (a + b = 1);
- several seeds of one grid point count once, with their mean loss (``mean_over_seeds``);
- L(C): a power law of the per-budget minimum loss, extrapolated with a prediction interval; or, with
  ``loss_law="offset"``, the compute-frontier form of Chinchilla's L(N, D) = E + A/N^alpha + B/D^beta:
  L(C) = E + A (C / C_ref)^l, an irreducible loss E plus a power law (needs 3 budgets, 4 for an interval).

    from model.scaling_fit import fit_study, write_laws
    fits = fit_study(rows)
    write_laws(fits, "runs/study/scaling_laws.json")   # the planner reads it with --laws / $LONGTERM_SCALING_LAWS
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from model.scaling import LAWS_FILE, load_laws

NEAR_OPTIMAL_TOLERANCE = 0.0025


@dataclass
class PowerLaw:
    """y = coef * x^exp, fitted as log y = log coef + exp log x."""

    coef: float
    exp: float
    log_coef_se: float  # standard error of ln(coef)
    exp_se: float
    n: int
    residual_std: float  # of ln y
    x_mean_log: float
    sxx: float  # sum of (ln x - mean)^2
    exp_ci: tuple[float, float] | None = None  # bootstrap 95% interval of the exponent

    def __call__(self, x: float | np.ndarray) -> float | np.ndarray:
        return self.coef * np.asarray(x, dtype=float) ** self.exp

    def interval(self, x: float, level: float = 0.95) -> tuple[float, float]:
        """Prediction interval of a new observation at ``x`` (t distribution, log space)."""
        if self.n <= 2 or not np.isfinite(self.residual_std):
            return (float("nan"), float("nan"))
        lx = math.log(x)
        se = self.residual_std * math.sqrt(1 + 1 / self.n + (lx - self.x_mean_log) ** 2 / max(self.sxx, 1e-300))
        t = stats.t.ppf(0.5 + level / 2, self.n - 2)
        centre = math.log(float(self(x)))
        return (math.exp(centre - t * se), math.exp(centre + t * se))

    def to_dict(self) -> dict[str, Any]:
        return _law_dict(self)

    def describe(self) -> str:
        return describe_loss_law(self.to_dict())


@dataclass
class OffsetPowerLaw:
    """y = offset + coef * (x / x_ref)^exp (exp < 0): a power law that levels off at ``offset`` (the irreducible
    loss E), fitted by nonlinear least squares in linear y. ``x_ref`` (the geometric mean of the fitted x)
    keeps the problem well conditioned; ``cov`` is the covariance of (offset, coef, exp)."""

    offset: float
    coef: float
    exp: float
    x_ref: float
    cov: list[list[float]]
    n: int
    residual_std: float  # of y (linear), n - 3 degrees of freedom
    exp_se: float
    log_coef_se: float  # standard error of ln(coef), from the covariance (for tables shared with PowerLaw)
    exp_ci: tuple[float, float] | None = None
    form: str = "offset"

    def __call__(self, x: float | np.ndarray) -> float | np.ndarray:
        return self.offset + self.coef * (np.asarray(x, dtype=float) / self.x_ref) ** self.exp

    def interval(self, x: float, level: float = 0.95) -> tuple[float, float]:
        """Prediction interval of a new observation at ``x``: delta method on the fitted parameters plus the
        residual variance, t distribution with n - 3 degrees of freedom (nan with 3 points: an exact fit)."""
        if self.n <= 3 or not np.isfinite(self.residual_std):
            return (float("nan"), float("nan"))
        u = float(x) / self.x_ref
        g = np.array([1.0, u**self.exp, self.coef * u**self.exp * math.log(u)])
        var = float(g @ np.asarray(self.cov) @ g) + self.residual_std**2
        t = stats.t.ppf(0.5 + level / 2, self.n - 3)
        centre = float(self(x))
        half = t * math.sqrt(max(var, 0.0))
        return (centre - half, centre + half)

    def to_dict(self) -> dict[str, Any]:
        return _law_dict(self)

    def describe(self) -> str:
        return describe_loss_law(self.to_dict())


def _law_dict(law: PowerLaw | OffsetPowerLaw) -> dict[str, Any]:
    d = asdict(law)
    d["exp_ci"] = list(law.exp_ci) if law.exp_ci else None
    return d


def describe_loss_law(d: dict[str, Any] | None, *, se: bool = False) -> str:
    """A fitted L(C) as text, from its ``to_dict()`` (as report.json holds it); ``se``: with the exponent's SE."""
    if not d:
        return "-"
    if d.get("form") == "offset":
        text = f"L = {d['offset']:.3f} + {d['coef']:.3g} · (C/{d['x_ref']:.1e})^{d['exp']:.3f}"
    else:
        text = f"L = {d['coef']:.3g} · C^{d['exp']:.4f}"
    return text + (f" (± {d['exp_se']:.3f})" if se else "")


def fit_offset_power_law(x: Sequence[float], y: Sequence[float]) -> OffsetPowerLaw:
    """Least squares of y = E + A (x / x_ref)^l with 0 <= E < min(y), A > 0, -3 < l < 0 (scipy ``curve_fit``,
    started from the best of a grid of E values, each with its log-space line fit of y - E)."""
    from scipy.optimize import OptimizeWarning, curve_fit

    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(set(xs.tolist())) < 3:
        raise ValueError(f"an offset power law needs points at 3 or more distinct x values, got {len(set(xs.tolist()))}")
    n = len(xs)
    x_ref = float(np.exp(np.log(xs).mean()))
    u = xs / x_ref
    lo_y = float(ys.min())

    def model(uu: np.ndarray, e: float, a: float, l: float) -> np.ndarray:
        return e + a * uu**l

    best: tuple[float, tuple[float, float, float]] | None = None
    for e0 in np.linspace(0.0, lo_y * 0.999, 200):
        ly = np.log(ys - e0)
        slope, icpt = np.polyfit(np.log(u), ly, 1)
        if not -3 < slope < 0:
            continue
        sse = float(((model(u, e0, math.exp(icpt), slope) - ys) ** 2).sum())
        if best is None or sse < best[0]:
            best = (sse, (float(e0), float(math.exp(icpt)), float(slope)))
    if best is None:
        raise ValueError("no decreasing power law above an offset fits these losses")
    try:
        with warnings.catch_warnings():  # 3 points: an exact fit, whose covariance is undefined (set to nan below)
            warnings.simplefilter("ignore", OptimizeWarning)
            params, cov = curve_fit(model, u, ys, p0=best[1], bounds=([0.0, 1e-12, -3.0], [lo_y, np.inf, 0.0]), maxfev=20000)
    except (RuntimeError, ValueError) as e:
        raise ValueError(f"offset power law did not converge: {e}") from e
    e_hat, a_hat, l_hat = (float(v) for v in params)
    resid = ys - model(u, e_hat, a_hat, l_hat)
    s = float(math.sqrt((resid**2).sum() / (n - 3))) if n > 3 else float("nan")
    cov = np.asarray(cov, dtype=float) if n > 3 and np.all(np.isfinite(cov)) else np.full((3, 3), np.nan)
    return OffsetPowerLaw(offset=e_hat, coef=a_hat, exp=l_hat, x_ref=x_ref, cov=cov.tolist(), n=n, residual_std=s,
                          exp_se=float(math.sqrt(cov[2, 2])) if np.isfinite(cov[2, 2]) else float("nan"),
                          log_coef_se=float(math.sqrt(cov[1, 1]) / a_hat) if np.isfinite(cov[1, 1]) else float("nan"))


LOSS_LAWS = ("power", "offset")


def fit_power_law(x: Sequence[float], y: Sequence[float], *, bootstrap: int = 0, seed: int = 0) -> PowerLaw:
    """Ordinary least squares in log space; ``bootstrap`` > 0 adds a resampled 95% interval of the exponent."""
    lx, ly = np.log(np.asarray(x, dtype=float)), np.log(np.asarray(y, dtype=float))
    if len(lx) < 2 or np.ptp(lx) == 0:
        raise ValueError(f"a power law needs points at 2 or more distinct x values, got {len(set(lx.tolist()))}")
    n = len(lx)
    xm = float(lx.mean())
    sxx = float(((lx - xm) ** 2).sum())
    slope = float(((lx - xm) * (ly - ly.mean())).sum() / sxx)
    intercept = float(ly.mean() - slope * xm)
    resid = ly - (intercept + slope * lx)
    s = float(math.sqrt((resid**2).sum() / (n - 2))) if n > 2 else float("nan")
    exp_se = s / math.sqrt(sxx) if n > 2 else float("nan")
    icpt_se = s * math.sqrt(1 / n + xm**2 / sxx) if n > 2 else float("nan")
    ci = None
    if bootstrap and n > 2:
        rng = np.random.default_rng(seed)
        slopes = []
        for _ in range(bootstrap):
            idx = rng.integers(0, n, n)
            bx, by = lx[idx], ly[idx]
            if np.ptp(bx) == 0:
                continue
            bm = bx.mean()
            slopes.append(((bx - bm) * (by - by.mean())).sum() / ((bx - bm) ** 2).sum())
        if slopes:
            ci = (float(np.percentile(slopes, 2.5)), float(np.percentile(slopes, 97.5)))
    return PowerLaw(coef=math.exp(intercept), exp=slope, log_coef_se=icpt_se, exp_se=exp_se, n=n, residual_std=s, x_mean_log=xm, sxx=sxx, exp_ci=ci)


SEED_INVARIANT_KEYS = ("variant", "kind", "budget", "model_scale", "n_layer", "d_model", "n_head", "batch_tokens", "lr")


def mean_over_seeds(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Runs of one grid point trained with different ``seed`` s (the same :data:`SEED_INVARIANT_KEYS`) merged
    into one row: ``loss`` is the mean of the successful seeds' losses, ``seeds`` how many there were and
    ``loss_sd`` their standard deviation (0 for a single seed), ``seed_losses`` the losses. Only rows that
    name their ``seed`` are merged; the others, and rows that did not succeed (the fits skip them), pass
    through unchanged, in their order."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    order: list[tuple[Any, ...] | dict[str, Any]] = []  # the input order: a point where its first seed was
    for r in rows:
        if "seed" in r and r.get("status", "ok") == "ok" and r.get("loss") is not None:
            key = tuple(r.get(k) for k in SEED_INVARIANT_KEYS)
            if key not in groups:
                groups[key] = []
                order.append(key)
            groups[key].append(r)
        else:
            order.append(r)
    out: list[dict[str, Any]] = []
    for item in order:
        if isinstance(item, dict):
            out.append(item)
            continue
        group = groups[item]
        losses = np.array([float(r["loss"]) for r in group])
        out.append({**group[0], "loss": float(losses.mean()), "seeds": len(group),
                    "loss_sd": float(losses.std(ddof=1)) if len(group) > 1 else 0.0,
                    "seed_losses": [float(v) for v in losses]})
    return out


def _ok(rows: Iterable[dict[str, Any]], *needed: str) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        if r.get("status", "ok") != "ok":
            continue
        if all(r.get(k) is not None and np.isfinite(float(r[k])) and float(r[k]) > 0 for k in ("budget", "loss", *needed)):
            out.append(r)
    return out


def by_budget(rows: Iterable[dict[str, Any]]) -> dict[float, list[dict[str, Any]]]:
    groups: dict[float, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[float(r["budget"])].append(r)
    return dict(sorted(groups.items()))


def near_optimal(rows: Iterable[dict[str, Any]], tolerance: float = NEAR_OPTIMAL_TOLERANCE) -> dict[float, list[dict[str, Any]]]:
    """Per budget, the successful runs whose loss is within ``tolerance`` (relative) of that budget's minimum."""
    result = {}
    for budget, group in by_budget(_ok(rows)).items():
        best = min(float(r["loss"]) for r in group)
        result[budget] = [r for r in group if float(r["loss"]) <= best * (1 + tolerance)]
    return result


@dataclass
class HyperparameterFit:
    batch_tokens: PowerLaw
    learning_rate: PowerLaw
    tolerance: float
    near_optimal_counts: dict[str, int]
    points: list[tuple[float, float, float]] = field(default_factory=list)  # (C, batch tokens, lr) of the near-optimal runs

    def to_dict(self) -> dict[str, Any]:
        return {"batch_tokens": self.batch_tokens.to_dict(), "learning_rate": self.learning_rate.to_dict(),
                "tolerance": self.tolerance, "near_optimal_counts": self.near_optimal_counts, "points": self.points}


def fit_hyperparameters(rows: Iterable[dict[str, Any]], *, tolerance: float = NEAR_OPTIMAL_TOLERANCE, bootstrap: int = 200, seed: int = 0) -> HyperparameterFit:
    """B_opt(C) and eta_opt(C) through every near-optimal (batch, lr) point of every budget."""
    region = near_optimal(_ok(rows, "batch_tokens", "lr"), tolerance)
    points = [(b, r) for b, group in region.items() for r in group]
    if len(region) < 2:
        raise ValueError(f"hyperparameter laws need successful runs at 2 or more budgets, got {len(region)}")
    c = [b for b, _ in points]
    return HyperparameterFit(
        batch_tokens=fit_power_law(c, [float(r["batch_tokens"]) for _, r in points], bootstrap=bootstrap, seed=seed),
        learning_rate=fit_power_law(c, [float(r["lr"]) for _, r in points], bootstrap=bootstrap, seed=seed + 1),
        tolerance=tolerance,
        near_optimal_counts={f"{b:.3g}": len(g) for b, g in region.items()},
        points=[(b, float(r["batch_tokens"]), float(r["lr"])) for b, r in points],
    )


@dataclass
class IsoFlopMinimum:
    budget: float
    model_scale: float  # M at the vertex
    loss: float  # loss at the vertex
    quadratic: list[float] | None  # loss = q0 (ln M)^2 + q1 ln M + q2; None when it fell back to the best run
    n: int  # runs the parabola was fitted to (all of the budget's runs when it fell back)
    fitted_range: list[float] | None = None  # [min M, max M] of the runs the parabola was fitted to


def isoflop_minimum(budget: float, model_scale: Sequence[float], loss: Sequence[float], window: int = 2) -> IsoFlopMinimum:
    """Vertex of a parabola in ln M through one budget's IsoFLOP runs near the best one (the best run and
    up to ``window`` neighbours on each side in M), or the best run itself when that parabola is not
    convex or its vertex falls outside the points it was fitted to (an optimum at the edge of the grid).

    A local fit keeps shapes far from the optimum (a wide grid, badly undertrained big models) from
    dragging the vertex: a parabola is only a good description of the profile near its minimum."""
    order = np.argsort(np.asarray(model_scale, dtype=float))
    lm = np.log(np.asarray(model_scale, dtype=float))[order]
    y = np.asarray(loss, dtype=float)[order]
    best = int(np.argmin(y))
    lo, hi = max(0, best - window), min(len(lm), best + window + 1)
    lm_w, y_w = lm[lo:hi], y[lo:hi]
    if len(lm_w) >= 3 and len(set(lm_w.tolist())) >= 3:
        q = np.polyfit(lm_w, y_w, 2)
        if q[0] > 0:
            vertex = -q[1] / (2 * q[0])
            if lm_w.min() <= vertex <= lm_w.max():
                return IsoFlopMinimum(budget, float(math.exp(vertex)), float(np.polyval(q, vertex)), [float(v) for v in q], len(lm_w),
                                      [float(math.exp(lm_w.min())), float(math.exp(lm_w.max()))])
    return IsoFlopMinimum(budget, float(math.exp(lm[best])), float(y[best]), None, len(lm))


@dataclass
class AllocationFit:
    minima: list[IsoFlopMinimum]
    model_scale: PowerLaw  # M_opt = M_base C^a
    tokens: PowerLaw  # D_opt = D_base C^b

    def to_dict(self) -> dict[str, Any]:
        return {"minima": [asdict(m) for m in self.minima], "model_flops_per_token": self.model_scale.to_dict(), "tokens": self.tokens.to_dict()}


def fit_allocation(rows: Iterable[dict[str, Any]], *, bootstrap: int = 200, seed: int = 0) -> AllocationFit:
    groups = by_budget(_ok(rows, "model_scale"))
    minima = [isoflop_minimum(b, [float(r["model_scale"]) for r in g], [float(r["loss"]) for r in g]) for b, g in groups.items() if len(g) >= 2]
    if len(minima) < 2:
        raise ValueError(f"allocation laws need IsoFLOP profiles (2+ shapes) at 2 or more budgets, got {len(minima)}")
    c = [m.budget for m in minima]
    m_opt = [m.model_scale for m in minima]
    return AllocationFit(
        minima=minima,
        model_scale=fit_power_law(c, m_opt, bootstrap=bootstrap, seed=seed),
        tokens=fit_power_law(c, [b / m for b, m in zip(c, m_opt)], bootstrap=bootstrap, seed=seed + 1),
    )


def fit_loss(rows: Iterable[dict[str, Any]], law: str = "power") -> PowerLaw | OffsetPowerLaw:
    """L(C) through the per-budget minimum loss (IsoFLOP vertex when given as ``model_scale`` rows, else the
    best run): ``law`` "power" is L_base C^l (DeepSeek), "offset" is E + A (C / C_ref)^l."""
    if law not in LOSS_LAWS:
        raise ValueError(f"loss law must be one of {LOSS_LAWS}, got {law!r}")
    groups = by_budget(_ok(rows))
    budgets, losses = [], []
    for b, g in groups.items():
        scales = [r for r in g if r.get("model_scale")]
        if len(scales) >= 3:
            losses.append(isoflop_minimum(b, [float(r["model_scale"]) for r in scales], [float(r["loss"]) for r in scales]).loss)
        else:
            losses.append(min(float(r["loss"]) for r in g))
        budgets.append(b)
    return fit_offset_power_law(budgets, losses) if law == "offset" else fit_power_law(budgets, losses)


@dataclass
class StudyFit:
    hyperparameters: HyperparameterFit | None = None
    allocation: AllocationFit | None = None
    loss: PowerLaw | OffsetPowerLaw | None = None
    errors: dict[str, str] = field(default_factory=dict)  # what could not be fitted and why

    def to_dict(self) -> dict[str, Any]:
        return {
            "hyperparameters": self.hyperparameters.to_dict() if self.hyperparameters else None,
            "allocation": self.allocation.to_dict() if self.allocation else None,
            "loss": self.loss.to_dict() if self.loss else None,
            "errors": self.errors,
        }

    def predict_loss(self, compute: float, level: float = 0.95) -> dict[str, float]:
        if self.loss is None:
            raise ValueError("no loss law was fitted: " + self.errors.get("loss", "no runs"))
        lo, hi = self.loss.interval(compute, level)
        return {"compute": compute, "loss": float(self.loss(compute)), "low": lo, "high": hi, "level": level}

    def laws(self, base: dict[str, dict[str, float]] | None = None) -> dict[str, dict[str, float]]:
        """Planner coefficients: fitted ones replace ``base`` (default: the current laws file's)."""
        laws = {k: dict(v) for k, v in (base or load_laws()).items()}
        fitted: dict[str, PowerLaw] = {}
        if self.hyperparameters:
            fitted["batch_tokens"], fitted["learning_rate"] = self.hyperparameters.batch_tokens, self.hyperparameters.learning_rate
        if self.allocation:
            fitted["model_flops_per_token"], fitted["tokens"] = self.allocation.model_scale, self.allocation.tokens
        for key, law in fitted.items():
            laws[key] = {"coef": law.coef, "exp": law.exp, "exp_se": law.exp_se, "log_coef_se": law.log_coef_se, "n": law.n}
        return laws


def fit_study(rows: Sequence[dict[str, Any]], *, tolerance: float = NEAR_OPTIMAL_TOLERANCE, bootstrap: int = 200, seed: int = 0,
              loss_law: str = "power") -> StudyFit:
    """Every law the rows support; a law that cannot be fitted is recorded in ``errors``, not raised.
    ``loss_law``: the form of L(C), see :func:`fit_loss`.
    Rows with ``kind`` "hparam" feed the hyperparameter laws, "isoflop" the allocation and loss laws
    (rows without ``kind`` feed both). Runs of one point with several seeds count once, with their mean loss
    (:func:`mean_over_seeds`)."""
    if loss_law not in LOSS_LAWS:  # a wrong setting, not a law the rows cannot support
        raise ValueError(f"loss law must be one of {LOSS_LAWS}, got {loss_law!r}")
    fit = StudyFit()
    rows = mean_over_seeds(rows)
    hp = [r for r in rows if r.get("kind", "hparam") == "hparam"]
    iso = [r for r in rows if r.get("kind", "isoflop") == "isoflop"]
    try:
        fit.hyperparameters = fit_hyperparameters(hp, tolerance=tolerance, bootstrap=bootstrap, seed=seed)
    except ValueError as e:
        fit.errors["hyperparameters"] = str(e)
    try:
        fit.allocation = fit_allocation(iso, bootstrap=bootstrap, seed=seed)
    except ValueError as e:
        fit.errors["allocation"] = str(e)
    try:
        fit.loss = fit_loss(iso or hp, loss_law)
    except ValueError as e:
        fit.errors["loss"] = str(e)
    return fit


def write_laws(fit: StudyFit, path: str | os.PathLike, *, source: str = "scaling study", base: dict[str, dict[str, float]] | None = None,
               allow_shipped: bool = False) -> Path:
    """Write the planner's coefficients file (configs/scaling_laws.json format) atomically.

    Refuses to overwrite the shipped ``configs/scaling_laws.json`` unless ``allow_shipped`` (the CLI's
    ``--install-laws``); point the planner at the written file with ``--laws`` or ``$LONGTERM_SCALING_LAWS``.
    """
    target = Path(path)
    if target.resolve() == LAWS_FILE.resolve() and not allow_shipped:
        raise ValueError(f"refusing to overwrite the shipped {LAWS_FILE} without allow_shipped=True (--install-laws)")
    laws = fit.laws(base)
    fitted = sorted(k for k, v in laws.items() if "exp_se" in v)
    payload = {"source": f"{source}; fitted: {', '.join(fitted) or 'none'} (the rest kept from the previous file)", **laws}
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=1) + "\n")
    os.replace(tmp, target)
    load_laws(target)  # the planner must be able to read what we wrote
    return target
