"""Markdown tables of a finished scaling study (for BENCHMARKS.md): IsoFLOP losses per budget and shape,
the hyperparameter grid, fitted laws side by side per data variant, and the held-out prediction.

    python -m benchmarks.scaling_tables runs/bench/scaling-demo/study
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from model.scaling_fit import describe_loss_law, mean_over_seeds
from tasks.scaling_study import read_results


def _law(d: dict[str, Any] | None) -> str:
    if not d:
        return "-"
    ci = f" [{d['exp_ci'][0]:.2f}, {d['exp_ci'][1]:.2f}]" if d.get("exp_ci") else ""
    return f"{d['exp']:.3f} ± {d['exp_se']:.3f}{ci}"


def isoflop_table(rows: list[dict[str, Any]], variant: str, minima: dict[float, dict[str, Any]]) -> str:
    iso = mean_over_seeds(r for r in rows if r["variant"] == variant and r["kind"] == "isoflop")  # a cell: the mean over seeds
    shapes = sorted({(r["model_scale"], f"L{r['n_layer']} d{r['d_model']}") for r in iso})
    by = {(r["budget"], r["model_scale"]): r for r in iso}
    head = "| C (FLOPs) | " + " | ".join(f"{name} (M {m:.1e})" for m, name in shapes) + " | IsoFLOP M_opt |"
    lines = [head, "|" + "---|" * (len(shapes) + 2)]
    for c in sorted({r["budget"] for r in iso}):
        cells = []
        ok = [by[(c, m)] for m, _ in shapes if (c, m) in by and by[(c, m)].get("loss") is not None]
        best = min(ok, key=lambda r: r["loss"])["model_scale"] if ok else None
        for m, _ in shapes:
            r = by.get((c, m))
            if r is None or r.get("loss") is None:
                cells.append(r["status"] if r else "")
            else:
                cells.append(f"**{r['loss']:.3f}**" if m == best else f"{r['loss']:.3f}")
        mn = minima.get(c)
        where = "-" if not mn else f"{mn['model_scale']:.2e} ({'vertex' if mn['quadratic'] else 'edge'})"
        lines.append(f"| {c:.2g} | " + " | ".join(cells) + f" | {where} |")
    return "\n".join(lines)


def hparam_table(rows: list[dict[str, Any]], variant: str) -> str:
    hp = [r for r in rows if r["variant"] == variant and r["kind"] == "hparam"]
    combos = sorted({(r["batch_size"], r["lr"]) for r in hp})
    lines = ["| C (FLOPs) | " + " | ".join(f"b{b} lr {lr:.1e}" for b, lr in combos) + " |", "|" + "---|" * (len(combos) + 1)]
    for c in sorted({r["budget"] for r in hp}):
        by = {(r["batch_size"], r["lr"]): r for r in hp if r["budget"] == c}
        best = min((r["loss"] for r in by.values() if r.get("loss") is not None), default=None)
        cells = [("**%.3f**" if by[k]["loss"] == best else "%.3f") % by[k]["loss"] if k in by and by[k].get("loss") is not None else "-" for k in combos]
        lines.append(f"| {c:.2g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("study", help="the study's OUT folder (holds report.json and results.jsonl)")
    a = p.parse_args()
    out = Path(a.study)
    report = json.loads((out / "report.json").read_text())
    run_ids = set(report["run_ids"])  # this report's runs: results.jsonl keeps rows of earlier configs too
    rows = [r for r in read_results(out / "results.jsonl") if r["id"] in run_ids]
    summary = ["| | " + " | ".join(report["variants"]) + " |", "|---|" + "---|" * len(report["variants"])]
    fields: dict[str, list[str]] = defaultdict(list)
    for variant, e in report["variants"].items():
        fit = e["fit"]
        alloc, hpf, loss = fit.get("allocation") or {}, fit.get("hyperparameters") or {}, fit.get("loss")
        h = e.get("holdout") or {}
        fields["runs ok / failed / diverged / skipped"].append(" / ".join(str(e["runs"][k]) for k in ("ok", "failed", "diverged", "skipped")))
        fields["**a** (M_opt ∝ C^a) ± SE [bootstrap 95%]"].append(_law(alloc.get("model_flops_per_token")))
        fields["b (D_opt ∝ C^b)"].append(_law(alloc.get("tokens")))
        fields["B_opt exponent"].append(_law(hpf.get("batch_tokens")))
        fields["η_opt exponent"].append(_law(hpf.get("learning_rate")))
        fields["L(C) fit"].append(describe_loss_law(loss, se=True))
        if h.get("actual") is not None:
            run = h.get("run") or {}
            fields["held-out run"].append(f"C = {h['compute']:.2g}, L{run.get('n_layer')} d{run.get('d_model')}, "
                                          f"batch {run.get('batch_size')}, lr {run.get('lr', 0):.2e}")
            fields["predicted loss [95% PI]"].append(f"{h['loss']:.3f} [{h['low']:.3f}, {h['high']:.3f}]")
            seeds = h.get("seed_losses") or [h["actual"]]
            fields["actual loss"].append(f"{h['actual']:.3f}" + (f" (mean of {len(seeds)} seeds: {', '.join(f'{v:.3f}' for v in seeds)})"
                                                                 if len(seeds) > 1 else ""))
            fields["**relative error**"].append(f"**{h['relative_error']:+.1%}** ({'inside' if h['inside_interval'] else 'outside'} the PI)")
        fields["fit errors"].append("; ".join(f"{k}: {v}" for k, v in fit.get("errors", {}).items()) or "none")
    summary += [f"| {k} | " + " | ".join(v) + " |" for k, v in fields.items()]
    print("\n".join(summary))
    for variant, e in report["variants"].items():
        minima = {m["budget"]: m for m in ((e["fit"].get("allocation") or {}).get("minima") or [])}
        seeds = int(report["config"].get("seeds") or 1)
        print(f"\nIsoFLOP validation loss (nats per token: per byte for byte tokens{f'; mean of {seeds} seeds' if seeds > 1 else ''}), variant {variant}:\n")
        print(isoflop_table(rows, variant, minima))
        print(f"\nHyperparameter grid, variant {variant}:\n")
        print(hparam_table(rows, variant))


if __name__ == "__main__":
    main()
