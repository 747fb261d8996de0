"""Prefect flow: a scaling-law study (grids of small pretrain runs as Ray tasks, fits, plots), publishing the plots
(markdown with image paths), the fitted laws and the data-quality comparison as artifacts.

    from flows.scaling_study import scaling_study_flow
    from tasks.scaling_study import StudyConfig
    report_path = scaling_study_flow(StudyConfig(data={"curated": "runs/tokens"}, out="runs/study"))

or ``longterm scaling-study --config configs/scaling_study_micro.yaml``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Literal

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from flows.artifacts import artifact_key
from tasks.scaling_study import StudyConfig, read_results, run_scaling_study


@task(name="scaling-study-run", cache_policy=NO_CACHE)
def scaling_study_task(config: StudyConfig, executor: str, ray_address: str | None) -> str:
    run_scaling_study(config, executor=executor, ray_address=ray_address)
    return str(Path(config.out) / "report.json")


def _fmt(x: Any, spec: str = ".4g") -> str:
    return "n/a" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, spec)


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:+.2f}%"


def laws_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per variant and law: coefficient, exponent, its standard error and bootstrap interval."""
    rows = []
    for variant, entry in report["variants"].items():
        fit = entry["fit"]
        laws = {}
        if fit["hyperparameters"]:
            laws |= {"B_opt": fit["hyperparameters"]["batch_tokens"], "lr_opt": fit["hyperparameters"]["learning_rate"]}
        if fit["allocation"]:
            laws |= {"M_opt": fit["allocation"]["model_flops_per_token"], "D_opt": fit["allocation"]["tokens"]}
        if fit["loss"]:
            loss = fit["loss"]
            name = f"L - E (E = {loss['offset']:.4f}, C / {loss['x_ref']:.2e})" if loss.get("form") == "offset" else "L"
            laws[name] = loss
        for name, law in laws.items():
            ci = law.get("exp_ci")
            rows.append({"variant": variant, "law": name, "coef": _fmt(law["coef"]), "exp": _fmt(law["exp"], ".4f"),
                         "exp_se": _fmt(law["exp_se"], ".4f"), "exp_95ci": f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "n/a", "points": law["n"]})
        for what, why in fit["errors"].items():
            rows.append({"variant": variant, "law": what, "coef": "not fitted", "exp": why, "exp_se": "", "exp_95ci": "", "points": 0})
    return rows


def report_markdown(report: dict[str, Any]) -> str:
    lines = [f"## scaling study `{Path(report['results']).parent}`", ""]
    for variant, entry in report["variants"].items():
        runs = entry["runs"]
        lines.append(f"- **{variant}**: {runs['ok']} runs ok, {runs['failed']} failed, {runs['diverged']} diverged, {runs['skipped']} skipped; laws: `{entry['laws_file']}`")
        h = entry.get("holdout")
        if h:
            lines.append(f"  - held-out run at C = {h['compute']:.3g}: predicted {h['loss']:.4f} [{_fmt(h['low'])}, {_fmt(h['high'])}], "
                         f"actual {_fmt(h['actual'])} ({_pct(h['relative_error'])})")
        for p in entry.get("predictions", []):
            lines.append(f"  - L({p['compute']:.3g}) = {p['loss']:.4f} [{_fmt(p['low'])}, {_fmt(p['high'])}]")
    comp = {v: c for v, c in report["comparison"].items() if c}
    if comp:
        lines += ["", "### data quality: allocation exponents", "", "| variant | a (M_opt) | b (D_opt) |", "|---|---|---|"]
        lines += [f"| {v} | {c['a']:.3f} ± {_fmt(c['a_se'], '.3f')} | {c['b']:.3f} ± {_fmt(c['b_se'], '.3f')} |" for v, c in comp.items()]
    lines += ["", "### plots", ""]
    lines += [f"![{Path(p).stem}](file://{Path(p).resolve()})  \n`{Path(p).resolve()}`" for p in report.get("plots", [])]
    return "\n".join(lines)


@task(name="scaling-study-artifacts", retries=2, retry_delay_seconds=[2, 10], cache_policy=NO_CACHE)
def publish_scaling_artifacts(report_path: str) -> dict[str, str]:
    report = json.loads(Path(report_path).read_text())
    keys = {k: artifact_key("scaling-study", k) for k in ("report", "laws", "runs")}
    create_markdown_artifact(key=keys["report"], markdown=report_markdown(report), description="scaling study: summary, comparison, plots")
    create_table_artifact(key=keys["laws"], table=laws_rows(report), description="fitted scaling laws (coef * C^exp)")
    runs = [{k: r.get(k) for k in ("id", "status", "budget", "model_scale", "batch_size", "lr", "steps", "loss", "seconds", "error")}
            for r in read_results(Path(report["results"]))]
    create_table_artifact(key=keys["runs"], table=runs, description="scaling study: every run")
    return keys


@flow(name="scaling-study", log_prints=True)
def scaling_study_flow(config: StudyConfig, executor: Literal["ray", "local"] = "ray", ray_address: str | None = None) -> str:
    """Run (or resume) the study, publish its artifacts, return the report path.

    Deployed as ``scaling-study`` (prefect.yaml): the UI renders a typed form from this signature.

    Args:
        config: the study (tasks.scaling_study.StudyConfig): token datasets per data variant, compute budgets,
            lr / batch grids, model shapes; see configs/scaling_study_micro.yaml.
        executor: ray (grid runs in parallel as Ray tasks) or local (one after another, in the flow's process).
        ray_address: an existing Ray cluster to use (executor ray); none starts a local one.
    """
    report_path = scaling_study_task(config, executor, ray_address)
    publish_scaling_artifacts(report_path)
    return report_path
