"""Inline SVG charts rendered in Python (no JavaScript, no CDN): bars, stacked bars, lines, histograms.

Every chart is an ``<svg class="chart">`` with a ``<title>``, a ``data-chart`` name and a
``data-marks`` count of the data marks it drew (bars, line points), so a test (or a person
with the inspector) can tell an empty chart from a drawn one. Values are escaped; charts
with no data render a short "no data" note instead of an empty frame.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence

PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"]
KEPT = "#59a14f"
QUARANTINED = "#9d9d9d"
DROP_PALETTE = ["#e15759", "#f28e2b", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#d37295", "#fabfd2", "#8cd17d", "#86bcb6"]

W = 680  # chart width in px
FONT = 'font-family="system-ui, sans-serif" font-size="11"'


def esc(s: object) -> str:
    return html.escape(str(s), quote=True)


def fmt(v: float) -> str:
    """Short human number: 1.2k, 3.4M, 0.012."""
    a = abs(v)
    if a >= 1e9:
        return f"{v / 1e9:.1f}G"
    if a >= 1e6:
        return f"{v / 1e6:.1f}M"
    if a >= 1e4:
        return f"{v / 1e3:.1f}k"
    if a == int(a):
        return f"{int(v)}"
    if a >= 10:
        return f"{v:.1f}"
    return f"{v:.3g}"


def empty(title: str, name: str) -> str:
    return f'<p class="nodata" data-chart="{esc(name)}">{esc(title)}: no data</p>'


def _open(name: str, title: str, height: int, marks: int) -> str:
    return (
        f'<svg class="chart" data-chart="{esc(name)}" data-marks="{marks}" role="img" width="{W}" height="{height}" '
        f'viewBox="0 0 {W} {height}" xmlns="http://www.w3.org/2000/svg" {FONT}><title>{esc(title)}</title>'
        f'<text x="4" y="14" font-size="13" font-weight="600">{esc(title)}</text>'
    )


def legend(items: Sequence[tuple[str, str]], y: int) -> tuple[str, int]:
    """Legend swatches in rows starting at ``y``; returns (svg, height used)."""
    out, x, row = [], 4, 0
    for label, color in items:
        w = 18 + 6.5 * len(label)
        if x + w > W - 4:
            x, row = 4, row + 1
        yy = y + row * 16
        out.append(f'<rect x="{x}" y="{yy}" width="10" height="10" fill="{color}"/>'
                   f'<text x="{x + 14}" y="{yy + 9}">{esc(label)}</text>')
        x += int(w) + 8
    return "".join(out), (row + 1) * 16


def stacked_hbar(name: str, title: str, rows: Sequence[tuple[str, Mapping[str, float]]],
                 colors: Mapping[str, str], normalize: bool = False) -> str:
    """One horizontal bar per row, segments stacked in ``colors`` order; ``normalize`` draws shares."""
    rows = [(label, segs) for label, segs in rows if sum(segs.values()) > 0]
    if not rows:
        return empty(title, name)
    label_w, bar_h, top = 130, 18, 24
    leg, leg_h = legend([(k, c) for k, c in colors.items() if any(s.get(k, 0) for _, s in rows)], top)
    top += leg_h + 4
    height = top + len(rows) * (bar_h + 6) + 8
    vmax = max(sum(s.values()) for _, s in rows)
    span = W - label_w - 70
    parts, marks = [_open(name, title, height, 0), leg], 0
    for i, (label, segs) in enumerate(rows):
        y = top + i * (bar_h + 6)
        total = sum(segs.values())
        scale = span / (total if normalize else vmax)
        x = float(label_w)
        parts.append(f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end">{esc(label)[:22]}</text>')
        for key, color in colors.items():
            v = segs.get(key, 0)
            if v <= 0:
                continue
            w = v * scale
            share = f" ({100 * v / total:.1f}%)"
            parts.append(f'<rect class="mark" x="{x:.1f}" y="{y}" width="{max(w, 0.8):.1f}" height="{bar_h}" fill="{color}">'
                         f'<title>{esc(label)} / {esc(key)}: {fmt(v)}{share}</title></rect>')
            x += w
            marks += 1
        parts.append(f'<text x="{x + 4:.1f}" y="{y + 13}">{"100%" if normalize else fmt(total)}</text>')
    parts.append("</svg>")
    parts[0] = _open(name, title, height, marks)
    return "".join(parts)


def vbar(name: str, title: str, labels: Sequence[str], values: Sequence[float], *,
         y_label: str = "", log: bool = False, color: str = PALETTE[0]) -> str:
    """Vertical bars with value labels; ``log`` uses a log10 y axis (counts spanning decades)."""
    pairs = [(str(lab), float(v)) for lab, v in zip(labels, values) if v is not None and (v > 0 or not log)]
    if not pairs:
        return empty(title, name)
    height, top, bottom, left = 230, 34, 40, 56
    plot_h = height - top - bottom
    step = (W - left - 10) / len(pairs)
    vmax = max(v for _, v in pairs) or 1.0

    def h(v: float) -> float:
        if log:
            return plot_h * math.log10(1 + v) / math.log10(1 + vmax)
        return plot_h * v / vmax

    parts = [_open(name, title, height, len(pairs))]
    parts.append(f'<text x="4" y="{top - 6}" fill="#555">{esc(y_label)}{" (log)" if log else ""}</text>')
    parts.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{W - 6}" y2="{top + plot_h}" stroke="#888"/>')
    for i, (lab, v) in enumerate(pairs):
        x = left + i * step + step * 0.15
        bh = max(h(v), 0.8)
        y = top + plot_h - bh
        parts.append(f'<rect class="mark" x="{x:.1f}" y="{y:.1f}" width="{step * 0.7:.1f}" height="{bh:.1f}" fill="{color}">'
                     f'<title>{esc(lab)}: {fmt(v)}</title></rect>')
        parts.append(f'<text x="{x + step * 0.35:.1f}" y="{y - 3:.1f}" text-anchor="middle">{fmt(v)}</text>')
        parts.append(f'<text x="{x + step * 0.35:.1f}" y="{top + plot_h + 14}" text-anchor="middle">{esc(lab)[:14]}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 5, 10) if m * mag >= raw), default=raw)
    start = math.ceil(lo / step) * step
    return [start + i * step for i in range(int((hi - start) / step) + 1)]


def line_chart(name: str, title: str, series: Mapping[str, Sequence[tuple[float, float]]], *,
               x_label: str = "", y_label: str = "", log_y: bool = False) -> str:
    """Lines (with point marks when sparse) for training curves."""
    clean = {k: [(float(x), float(y)) for x, y in pts if y is not None and math.isfinite(y) and (y > 0 or not log_y)]
             for k, pts in series.items()}
    clean = {k: sorted(v) for k, v in clean.items() if v}
    if not clean:
        return empty(title, name)
    height, top, bottom, left, right = 250, 24, 36, 58, 12
    leg, leg_h = legend([(k, PALETTE[i % len(PALETTE)]) for i, k in enumerate(clean)], top)
    top += leg_h + 4
    plot_h, plot_w = height - top - bottom, W - left - right
    xs = [x for v in clean.values() for x, _ in v]
    ys = [math.log10(y) if log_y else y for v in clean.values() for _, y in v]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    y0, y1 = min(ys), max(ys)
    if y1 <= y0:
        y0, y1 = y0 - 0.5, y1 + 0.5
    pad = (y1 - y0) * 0.05
    y0, y1 = y0 - pad, y1 + pad

    def px(x: float) -> float:
        return left + plot_w * (x - x0) / (x1 - x0)

    def py(y: float) -> float:
        yy = math.log10(y) if log_y else y
        return top + plot_h * (1 - (yy - y0) / (y1 - y0))

    marks = sum(len(v) for v in clean.values())
    parts = [_open(name, title, height, marks), leg]
    parts.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#ccc"/>')
    for t in _ticks(y0, y1):
        yv = 10 ** t if log_y else t
        y = py(yv)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#eee"/>'
                     f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{fmt(yv)}</text>')
    for t in _ticks(x0, x1):
        x = px(t)
        parts.append(f'<text x="{x:.1f}" y="{top + plot_h + 14}" text-anchor="middle">{fmt(t)}</text>')
    parts.append(f'<text x="{left + plot_w / 2}" y="{height - 4}" text-anchor="middle" fill="#555">{esc(x_label)}</text>')
    parts.append(f'<text x="{W - 6}" y="14" text-anchor="end" fill="#555">y: {esc(y_label)}{" (log)" if log_y else ""}</text>')
    for i, (k, pts) in enumerate(clean.items()):
        color = PALETTE[i % len(PALETTE)]
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
        parts.append(f'<polyline class="mark-line" points="{path}" fill="none" stroke="{color}" stroke-width="1.6">'
                     f'<title>{esc(k)}</title></polyline>')
        if len(pts) <= 60:
            for x, y in pts:
                parts.append(f'<circle class="mark" cx="{px(x):.1f}" cy="{py(y):.1f}" r="2.2" fill="{color}">'
                             f'<title>{esc(k)} @ {fmt(x)}: {fmt(y)}</title></circle>')
    parts.append("</svg>")
    return "".join(parts)


def log_bins(lo: float = 1.0, hi: float = 1e6, per_decade: int = 4) -> list[float]:
    n = int(round(math.log10(hi / lo) * per_decade))
    return [lo * 10 ** (i / per_decade) for i in range(n + 1)]


def histogram(name: str, title: str, samples: Mapping[str, Sequence[float]], *, x_label: str = "",
              edges: Sequence[float] | None = None) -> str:
    """Grouped bars of log-binned sample counts, one colour per series (e.g. per language)."""
    samples = {k: [v for v in vals if v > 0] for k, vals in samples.items()}
    samples = {k: v for k, v in samples.items() if v}
    if not samples:
        return empty(title, name)
    edges = list(edges or log_bins(1, 10 ** math.ceil(math.log10(max(max(v) for v in samples.values()) + 1))))
    counts = {}
    for k, vals in samples.items():
        c = [0] * (len(edges) - 1)
        for v in vals:
            for j in range(len(edges) - 1):
                if edges[j] <= v < edges[j + 1] or (j == len(edges) - 2 and v >= edges[j + 1]):
                    c[j] += 1
                    break
        counts[k] = c
    used = [j for j in range(len(edges) - 1) if any(c[j] for c in counts.values())]
    lo, hi = used[0], used[-1]
    height, top, bottom, left = 240, 24, 40, 48
    leg, leg_h = legend([(f"{k} (n={len(samples[k])})", PALETTE[i % len(PALETTE)]) for i, k in enumerate(counts)], top)
    top += leg_h + 4
    plot_h = height - top - bottom
    nb = hi - lo + 1
    group_w = (W - left - 10) / nb
    bar_w = group_w * 0.8 / len(counts)
    cmax = max(max(c) for c in counts.values())
    marks = sum(1 for c in counts.values() for j in range(lo, hi + 1) if c[j])
    parts = [_open(name, title, height, marks), leg]
    parts.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{W - 6}" y2="{top + plot_h}" stroke="#888"/>')
    parts.append(f'<text x="{left - 4}" y="{top + 8}" text-anchor="end">{cmax}</text>')
    for b, j in enumerate(range(lo, hi + 1)):
        gx = left + b * group_w + group_w * 0.1
        for s, (k, c) in enumerate(counts.items()):
            if not c[j]:
                continue
            bh = plot_h * c[j] / cmax
            parts.append(f'<rect class="mark" x="{gx + s * bar_w:.1f}" y="{top + plot_h - bh:.1f}" width="{bar_w:.1f}" '
                         f'height="{bh:.1f}" fill="{PALETTE[s % len(PALETTE)]}"><title>{esc(k)} [{fmt(edges[j])}, '
                         f'{fmt(edges[j + 1])}): {c[j]}</title></rect>')
        if b % max(1, nb // 12) == 0:
            parts.append(f'<text x="{gx:.1f}" y="{top + plot_h + 14}">{fmt(edges[j])}</text>')
    parts.append(f'<text x="{left + (W - left) / 2}" y="{height - 4}" text-anchor="middle" fill="#555">{esc(x_label)}</text>')
    parts.append("</svg>")
    return "".join(parts)
