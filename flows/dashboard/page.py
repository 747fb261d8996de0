"""HTML pages of the dashboard: the run index and one page per run with a section per stage.

Each stage section shows what its outputs hold (docs/dashboard.md lists the stats read):
funnel by language and source, document-length histograms, sampled dropped documents,
the dedup table by number of dumps and cluster sizes, the remix mixture before/after,
tokenizer compression, token counts, training/validation curves, eval scores. A scaling
study gets a page of its own: the data-quality comparison (allocation exponents per data
variant), the fitted laws with their uncertainty, the held-out prediction and the PNG plots.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from flows.dashboard import charts
from flows.dashboard.charts import esc, fmt
from flows.dashboard.collect import RunView, StageView, StudyView, dropped_examples, length_samples
from flows.dashboard.collect import config_changes as collect_config_changes

CSS = """
body{font-family:system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#26313d;color:#fff;padding:10px 20px}header a{color:#cde}
main{padding:10px 20px;max-width:1500px}
nav a{margin-right:10px}
section.stage{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px 16px;margin:14px 0}
.grid{display:flex;flex-wrap:wrap;gap:12px}
.parts{display:flex;flex-wrap:wrap;gap:0 28px;align-items:flex-start}.part{max-width:100%}
table{border-collapse:collapse;font-size:12px;margin:6px 0}
td,th{border:1px solid #ddd;padding:3px 6px;text-align:right;vertical-align:top}
td.l,th.l{text-align:left}
td.doc{text-align:left;max-width:600px;white-space:pre-wrap;font-family:ui-monospace,monospace;font-size:11px}
.muted{color:#777;font-size:12px}.err{color:#b00}
.nodata{color:#999;font-size:12px}
svg.chart{background:#fff;border:1px solid #eee}
"""


def _table(headers: list[str], rows: list[list[Any]], left: int = 1) -> str:
    head = "".join(f'<th class="{"l" if i < left else ""}">{esc(h)}</th>' for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(f'<td class="{"l" if i < left else ""}">{esc(fmt(v) if isinstance(v, float) else v)}</td>'
                         for i, v in enumerate(r)) + "</tr>"
        for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<link rel="icon" href="data:,">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f'<header><a href="/">longterm dashboard</a> &middot; {esc(title)}</header><main>{body}</main></body></html>'
    )


# ----------------------------------------------------------------------------- stage parts


def _funnel_segments(c: Mapping[str, Any], colors: dict[str, str]) -> dict[str, float]:
    segs = {"kept": float(c.get("kept", 0))}
    for reason, n in sorted((c.get("dropped") or {}).items()):
        colors.setdefault(f"dropped: {reason}", charts.DROP_PALETTE[(len(colors) - 2) % len(charts.DROP_PALETTE)])
        segs[f"dropped: {reason}"] = float(n)
    segs["quarantined"] = float(c.get("quarantined", 0))
    return segs


def funnel_part(view: StageView) -> str:
    m = view.manifest
    assert m is not None
    colors = {"kept": charts.KEPT, "quarantined": charts.QUARANTINED}
    overall = _funnel_segments(m.counts.to_dict(), colors)
    rows = [(f"all ({m.stage})", overall)]
    by_lang = [(f"lang {k}", _funnel_segments(c, colors)) for k, c in sorted(m.stats.get("by_lang", {}).items())]
    by_source = [(f"source {k}", _funnel_segments(c, colors)) for k, c in sorted(m.stats.get("by_source", {}).items())]
    ordered = {"kept": charts.KEPT, **{k: v for k, v in colors.items() if k.startswith("dropped")},
               "quarantined": charts.QUARANTINED}
    c = m.counts
    table_rows = [[scope, c2.get("input", 0), c2.get("kept", 0), sum((c2.get("dropped") or {}).values()),
                   c2.get("quarantined", 0), ", ".join(f"{r}={n}" for r, n in sorted((c2.get("dropped") or {}).items())) or "-"]
                  for scope, c2 in [("all", c.to_dict())]
                  + [(f"lang {k}", v) for k, v in sorted(m.stats.get("by_lang", {}).items())]
                  + [(f"source {k}", v) for k, v in sorted(m.stats.get("by_source", {}).items())]]
    out = ['<h3>Funnel</h3><div class="grid">',
           charts.stacked_hbar(f"funnel-{m.stage}", f"{m.stage}: in, kept, dropped by reason, quarantined",
                               rows + by_lang + by_source, ordered),
           "</div>",
           _table(["scope", "input", "kept", "dropped", "quarantined", "dropped by reason"], table_rows)]
    return "".join(out)


def lengths_part(view: StageView) -> str:
    samples = length_samples(view)
    if not samples:
        return ""
    n = sum(len(v) for v in samples.values())
    return ("<h3>Document lengths</h3>"
            + charts.histogram(f"lengths-{view.name}", f"{view.name}: document length (characters, sampled {n} docs)",
                               samples, x_label="characters (log bins)"))


def dropped_part(view: StageView) -> str:
    examples = dropped_examples(view)
    if not examples:
        return ""
    rows = []
    for reason, docs in examples.items():
        for d in docs:
            text = (d.get("text") or "")[:300]
            extra = d.get("detail") or (f"duplicate of {d['duplicate_of']}" if d.get("duplicate_of") else "")
            rows.append(f'<tr><td class="l">{esc(reason)}</td><td class="l">{esc(d.get("id"))}</td>'
                        f'<td class="l">{esc(d.get("lang") or "")}</td><td class="l">{esc(d.get("source") or "")}</td>'
                        f'<td class="doc">{esc(text)}</td><td class="l">{esc(extra)}</td></tr>')
    return ('<h3>Dropped documents (sample per reason)</h3><details open><summary class="muted">'
            f'{sum(len(v) for v in examples.values())} examples from dropped/ shards</summary><table>'
            '<tr><th class="l">reason</th><th class="l">id</th><th class="l">lang</th><th class="l">source</th>'
            '<th class="l">text (first 300 chars)</th><th class="l">detail</th></tr>' + "".join(rows) + "</table></details>")


def dedup_part(view: StageView) -> str:
    stats, out = view.stats, []
    table = stats.get("dedup_by_dumps")
    if table:
        rows = sorted(table, key=lambda r: r.get("dumps", 0))
        out.append("<h3>Deduplication by number of dumps</h3>")
        out.append(_table(["dumps", "input", "removed", "removed %"],
                          [[r.get("dumps"), r.get("input"), r.get("removed"), f"{100 * float(r.get('removed_frac', 0)):.2f}%"]
                           for r in rows]))
        out.append(charts.vbar(f"dedup-rate-{view.name}", "dedup rate by number of dumps deduplicated together",
                               [str(r.get("dumps")) for r in rows], [100 * float(r.get("removed_frac", 0)) for r in rows],
                               y_label="removed %"))
    sizes = stats.get("cluster_sizes")
    if sizes:
        items = sorted(((int(k), int(v)) for k, v in sizes.items()))
        out.append(charts.vbar(f"clusters-{view.name}", "duplicate cluster sizes", [str(k) for k, _ in items],
                               [v for _, v in items], y_label="clusters", log=True, color=charts.PALETTE[1]))
    return "".join(out)


def mixture_from_rows(mix: Mapping[str, Any]) -> dict[str, Any]:
    """The remix stage's own shape (``{"rows": [{"lang", "group", "docs_before", "bytes_before", "docs_after",
    "bytes_after", "target_share"}]}``, tasks/remix.py) as the dashboard's ``{"before", "after", "targets"}``;
    a group's target is the bytes-after weighted mean of its per-language targets."""
    out: dict[str, Any] = {"before": {}, "after": {}, "targets": {}}
    weights: dict[str, float] = {}
    for r in mix.get("rows") or []:
        g, lang = str(r.get("group")), str(r.get("lang"))
        for phase in ("before", "after"):
            out[phase].setdefault(g, {})[lang] = {"docs": r.get(f"docs_{phase}", 0), "bytes": r.get(f"bytes_{phase}", 0)}
        w = float(r.get("bytes_after") or 0) or 1e-9
        out["targets"][g] = out["targets"].get(g, 0.0) + w * float(r.get("target_share") or 0)
        weights[g] = weights.get(g, 0.0) + w
    out["targets"] = {g: v / weights[g] for g, v in out["targets"].items()}
    return out


def mixture_part(view: StageView) -> str:
    mix = view.stats.get("mixture")
    if not mix:
        return ""
    if "rows" in mix and "before" not in mix:
        mix = mixture_from_rows(mix)
    langs = sorted({lang for phase in ("before", "after") for g in (mix.get(phase) or {}).values() for lang in g})
    colors = {lang: charts.PALETTE[i % len(charts.PALETTE)] for i, lang in enumerate(langs)}
    groups = sorted({g for phase in ("before", "after") for g in (mix.get(phase) or {})})
    rows = []
    for g in groups:
        for phase in ("before", "after"):
            cell = (mix.get(phase) or {}).get(g, {})
            rows.append((f"{g} {phase}", {lang: float(v.get("bytes", 0)) for lang, v in cell.items()}))
    def share(phase: str) -> dict[str, float]:
        tot = {g: sum(float(v.get("bytes", 0)) for v in langs_.values()) for g, langs_ in (mix.get(phase) or {}).items()}
        s = sum(tot.values()) or 1.0
        return {g: v / s for g, v in tot.items()}
    before, after, targets = share("before"), share("after"), mix.get("targets") or {}
    lang_rows = []
    for phase in ("before", "after"):
        per_lang: dict[str, float] = {}
        for cell in (mix.get(phase) or {}).values():
            for lang, v in cell.items():
                per_lang[lang] = per_lang.get(lang, 0.0) + float(v.get("bytes", 0))
        lang_rows.append((phase, per_lang))
    return ("<h3>Mixture before and after remix</h3><div class=\"grid\">"
            + charts.stacked_hbar(f"mixture-domain-{view.name}", "bytes by domain group and language", rows, colors)
            + charts.stacked_hbar(f"mixture-lang-{view.name}", "language share of bytes", lang_rows, colors, normalize=True)
            + "</div>"
            + _table(["group", "share before", "share after", "target"],
                     [[g, f"{100 * before.get(g, 0):.1f}%", f"{100 * after.get(g, 0):.1f}%",
                       f"{100 * float(targets[g]):.1f}%" if g in targets else "-"] for g in groups]))


def compression_part(view: StageView) -> str:
    comp = view.stats.get("compression") or view.stats.get("bytes_per_token")  # tokenize publishes bytes_per_token
    if not isinstance(comp, dict) or not comp:
        return ""
    items = sorted(comp.items())
    return ("<h3>Tokenizer compression</h3>"
            + charts.vbar(f"compression-{view.name}", "bytes per token by language (higher = better compression)",
                          [k for k, _ in items], [float(v) for _, v in items], y_label="bytes/token", color=charts.PALETTE[4]))


def tokens_part(view: StageView) -> str:
    tokens = view.stats.get("tokens")
    if not isinstance(tokens, dict) or not tokens:
        return ""
    flat: list[list[Any]] = []

    def walk(prefix: str, v: Any) -> None:
        if isinstance(v, dict):
            for k, sub in sorted(v.items()):
                walk(f"{prefix}.{k}" if prefix else str(k), sub)
        else:
            flat.append([prefix, v])
    walk("", tokens)
    info = ", ".join(f"{k} {view.stats[k]}" for k in ("vocab_size", "dtype", "eos_id") if k in view.stats)
    return f"<h3>Tokens</h3><p class=\"muted\">{esc(info)}</p>" + _table(["split", "tokens"], flat)


def training_part(view: StageView) -> str:
    rows = view.metrics
    if not rows:
        return ""

    def series(key: str) -> list[tuple[float, float]]:
        return [(r["step"], r[key]) for r in rows if isinstance(r.get(key), (int, float)) and "step" in r]

    last = rows[-1]
    summary = {k: last.get(k) for k in ("step", "loss", "val_loss", "lr", "tokens_per_s", "mfu") if last.get(k) is not None}
    val = [r["val_loss"] for r in rows if isinstance(r.get("val_loss"), (int, float))]
    if val:
        summary["best val_loss"] = min(val)
    return ('<h3>Training</h3><div class="grid">'
            + charts.line_chart(f"loss-{view.name}", f"{view.name}: training and validation loss",
                                {"loss": series("loss"), "val_loss": series("val_loss")}, x_label="step", y_label="loss")
            + charts.line_chart(f"lr-{view.name}", f"{view.name}: learning rate", {"lr": series("lr")},
                                x_label="step", y_label="lr")
            + charts.line_chart(f"throughput-{view.name}", f"{view.name}: throughput",
                                {"tokens_per_s": series("tokens_per_s")}, x_label="step", y_label="tokens/s")
            + "</div>" + _table(list(summary), [list(summary.values())], left=0))


def eval_part(view: StageView) -> str:
    tasks = (view.results or {}).get("tasks") or {}
    if not tasks:
        return ""
    metrics = sorted({m for scores in tasks.values() for m in scores})
    rows = [[t] + [scores.get(m, "") for m in metrics] for t, scores in sorted(tasks.items())]
    first = [(t, next((float(v) for v in scores.values() if isinstance(v, (int, float))), None))
             for t, scores in sorted(tasks.items())]
    return ("<h3>Evaluation</h3>"
            + charts.vbar(f"eval-{view.name}", "eval scores (first metric per task)", [t for t, _ in first],
                          [v for _, v in first], y_label="score", color=charts.PALETTE[6])
            + _table(["task"] + metrics, rows))


def _count_rows(m: Any) -> dict[str, int]:
    """Flat counts of one version: all / per language, with dropped by reason."""
    out: dict[str, int] = {}
    scopes = [("all", m.counts.to_dict())] + [(f"lang {k}", v) for k, v in sorted(m.stats.get("by_lang", {}).items())]
    for scope, c in scopes:
        out[f"{scope}: input"] = c.get("input", 0)
        out[f"{scope}: kept"] = c.get("kept", 0)
        for reason, n in sorted((c.get("dropped") or {}).items()):
            out[f"{scope}: dropped {reason}"] = n
        out[f"{scope}: quarantined"] = c.get("quarantined", 0)
    return out


def compare_part(view: StageView) -> str:
    """LATEST beside the newest older version of the same stage: both funnels, the config keys that differ,
    and every count with its difference (a rerun with one changed stage, or a forced recompute)."""
    old = view.previous
    if old is None or old.manifest is None or view.manifest is None:
        return ""
    a, b = old.manifest, view.manifest
    colors = {"kept": charts.KEPT, "quarantined": charts.QUARANTINED}
    funnels = {}
    for label, m in (("previous", a), ("latest", b)):
        rows = [(f"all ({m.stage})", _funnel_segments(m.counts.to_dict(), colors))]
        rows += [(f"lang {k}", _funnel_segments(c, colors)) for k, c in sorted(m.stats.get("by_lang", {}).items())]
        funnels[label] = rows
    ordered = {"kept": charts.KEPT, **{k: v for k, v in colors.items() if k.startswith("dropped")}, "quarantined": charts.QUARANTINED}
    charts_html = "".join(
        charts.stacked_hbar(f"compare-{label}-{view.name}", f"{label}: {m.key} ({m.created_at[:19]})", funnels[label], ordered)
        for label, m in (("previous", a), ("latest", b)))
    changes = collect_config_changes(a, b)
    config_html = (_table(["config key", f"previous {a.key}", f"latest {b.key}"], [[k, json.dumps(x), json.dumps(y)] for k, x, y in changes])
                   if changes else '<p class="muted">same config (code or inputs changed, or a forced recompute)</p>')
    ca, cb = _count_rows(a), _count_rows(b)
    keys = list(dict.fromkeys([*ca, *cb]))
    rows = [[k, ca.get(k, 0), cb.get(k, 0), f"{cb.get(k, 0) - ca.get(k, 0):+d}"] for k in keys]
    inputs = "same inputs" if [i.digest for i in a.inputs] == [i.digest for i in b.inputs] else "inputs differ"
    code = "same code" if a.code_digest == b.code_digest else "code differs"
    return (f'<h3 id="compare-{esc(view.name)}">Versions side by side</h3><p class="muted">previous <code>{esc(old.location.name)}</code> vs latest '
            f'<code>{esc(view.location.name)}</code>: {inputs}, {code}</p>'
            f'<div class="grid compare">{charts_html}</div>{config_html}'
            + _table(["count", "previous", "latest", "difference"], rows).replace("<table>", '<table class="compare-counts">', 1))


def stage_section(view: StageView) -> str:
    m = view.manifest
    head = f'<section class="stage" id="stage-{esc(view.name)}"><h2>{esc(view.name)}</h2>'
    meta = [f"<code>{esc(view.location)}</code>"]
    if m is not None:
        meta.append(f"kind {esc(m.kind)}, key {esc(m.key)}, code {esc(m.code_version)}, finished {esc(m.finished_at)}")
        meta.append(f'<a href="/manifest?path={quote(str(view.location))}">manifest.json</a>')
    if view.versions > 1:
        meta.append(f"{view.versions} versions (showing LATEST" + (", beside the previous one)" if view.previous else ")"))
    parts = [head, f'<p class="muted">{" &middot; ".join(meta)}</p>']
    if view.error:
        parts.append(f'<p class="err">{esc(view.error)}</p>')
    if m is not None and m.kind == "documents":
        parts += [funnel_part(view), lengths_part(view), dropped_part(view)]
    elif m is not None and (m.counts.input or m.counts.dropped):
        parts.append(funnel_part(view))
    parts += [dedup_part(view), mixture_part(view), compression_part(view), tokens_part(view),
              training_part(view), eval_part(view)]
    head_parts, body_parts = parts[:2 + bool(view.error)], [p for p in parts[2 + bool(view.error):] if p]
    compare = compare_part(view)  # full width under the parts: the two versions' funnels side by side
    parts = (head_parts + ['<div class="parts">'] + [f'<div class="part">{p}</div>' for p in body_parts] + ["</div>"]
             + ([f'<div class="versions">{compare}</div>'] if compare else []) + ["</section>"])
    return "".join(parts)


# ----------------------------------------------------------------------------- scaling study

MAX_PLOT_BYTES = 4 << 20


def _law(d: Mapping[str, Any] | None) -> str:
    """'0.524 ± 0.031 [0.47, 0.58]' for a fitted PowerLaw dict, '-' when not fitted."""
    if not d:
        return "-"
    text = f"{d['exp']:.3f}"
    if d.get("exp_se") is not None and d["exp_se"] == d["exp_se"]:  # not NaN
        text += f" ± {d['exp_se']:.3f}"
    if d.get("exp_ci"):
        lo, hi = d["exp_ci"]
        text += f" [{lo:.2f}, {hi:.2f}]"
    return text


def study_comparison_part(study: StudyView) -> str:
    """One row per data variant: runs, allocation exponents a (M_opt) and b (D_opt), B/lr laws, L(C), held-out."""
    from model.scaling_fit import describe_loss_law  # the same text as the tables and plots

    rows = []
    for variant, entry in (study.report.get("variants") or {}).items():
        fit = entry.get("fit") or {}
        alloc, hp, loss = fit.get("allocation") or {}, fit.get("hyperparameters") or {}, fit.get("loss")
        runs = entry.get("runs") or {}
        held = entry.get("holdout") or {}
        if held.get("actual") is not None:
            held_text = (f"C={held['compute']:.2g}: predicted {held['loss']:.3f} [{held['low']:.3f}, {held['high']:.3f}], "
                         f"actual {held['actual']:.3f} ({held['relative_error']:+.1%})")
        else:
            held_text = "-"
        rows.append([
            variant,
            " / ".join(str(runs.get(k, 0)) for k in ("ok", "failed", "diverged", "skipped")),
            _law(alloc.get("model_flops_per_token")), _law(alloc.get("tokens")),
            _law(hp.get("batch_tokens")), _law(hp.get("learning_rate")),
            describe_loss_law(loss),
            held_text,
        ])
    if not rows:
        return '<p class="nodata">no variants in report.json</p>'
    table = _table(["variant", "runs ok / failed / diverged / skipped", "a: M_opt ∝ C^a", "b: D_opt ∝ C^b",
                    "B_opt exponent", "η_opt exponent", "L(C)", "held-out run"], rows)
    errors = [f"<li>{esc(v)}: {esc(k)}: {esc(msg)}</li>" for v, e in (study.report.get("variants") or {}).items()
              for k, msg in ((e.get("fit") or {}).get("errors") or {}).items()]
    note = ('<p class="muted">Higher-quality data shifts the optimal allocation towards model scale (larger a); '
            'DeepSeek LLM: a = 0.450 early in-house data, 0.524 current data, 0.578 OpenWebText2.</p>')
    return "<h3>Data-quality comparison and fitted laws</h3>" + table + note + (
        f'<p class="muted">not fitted:</p><ul class="muted">{"".join(errors)}</ul>' if errors else "")


def study_plots_part(study: StudyView) -> str:
    imgs = []
    for png in study.plots:
        data = png.read_bytes()
        if len(data) > MAX_PLOT_BYTES:
            imgs.append(f'<p class="muted">{esc(png.name)}: {len(data)} bytes, too large to inline</p>')
            continue
        b64 = base64.b64encode(data).decode("ascii")
        imgs.append(f'<figure><img alt="{esc(png.stem)}" src="data:image/png;base64,{b64}" style="max-width:640px">'
                    f'<figcaption class="muted">{esc(png.name)}</figcaption></figure>')
    return '<div class="grid">' + "".join(imgs) + "</div>" if imgs else '<p class="nodata">no plots yet</p>'


def study_section(study: StudyView) -> str:
    cfg = study.report.get("config") or {}
    meta = [f"<code>{esc(study.path)}</code>", f"{study.results} grid runs in results.jsonl"]
    if cfg.get("budgets"):
        meta.append("budgets " + ", ".join(f"{float(b):.0e}" for b in cfg["budgets"]) + " FLOPs")
    if cfg.get("shapes"):
        meta.append(f"{len(cfg['shapes'])} shapes, seq {cfg.get('seq_len')}")
    parts = ['<section class="stage" id="study"><h2>scaling study</h2>', f'<p class="muted">{" &middot; ".join(meta)}</p>']
    if study.error:
        parts.append(f'<p class="err">{esc(study.error)}</p>')
    parts += [study_comparison_part(study), "<h3>Plots</h3>", study_plots_part(study), "</section>"]
    return "".join(parts)


def run_page(run: RunView) -> str:
    if run.study is not None:
        body = f"<h1>Scaling study {esc(run.name)}</h1>"
        return page(f"study {run.name}", body + study_section(run.study))
    nav = " ".join(f'<a href="#stage-{esc(s.name)}">{esc(s.name)}</a>' for s in run.stages)
    body = f"<h1>Run {esc(run.name)}</h1><p class=\"muted\"><code>{esc(run.path)}</code></p><nav>{nav}</nav>"
    return page(f"run {run.name}", body + "".join(stage_section(s) for s in run.stages))


def index_page(root: str, runs: list[RunView]) -> str:
    if not runs:
        return page("runs", f"<p>No stage outputs under <code>{esc(root)}</code> yet (looking for manifest.json, "
                            "metrics.jsonl, results.json).</p>")
    items = "".join(
        f'<li><a href="/run?name={quote(r.name)}">{esc(r.name)}</a> '
        f'<span class="muted">{"scaling study" if r.study else ", ".join(esc(s.name) for s in r.stages)}</span></li>'
        for r in runs)
    return page("runs", f"<h1>Runs under <code>{esc(root)}</code></h1><ul>{items}</ul>")


def manifest_page(path: str, manifest_json: dict[str, Any]) -> str:
    return page(f"manifest {path}", f"<pre>{esc(json.dumps(manifest_json, indent=2, ensure_ascii=False))}</pre>")
