"""Find runs and stage outputs under a folder and read what the dashboard shows.

A *stage output* is a folder holding ``manifest.json`` (a dataset, tokenizer or checkpoint
published by storage), ``metrics.jsonl`` (training curves) or ``results.json`` (eval scores).
When its parent holds ``LATEST`` (a versioned stage root), the parent is the stage and only
the version ``LATEST`` names is shown; older versions are counted. A *run* is the folder that
holds stage outputs (``runs/demo`` holds ``runs/demo/filter/``...). A folder holding
``report.json`` and ``results.jsonl`` is a *scaling study* (tasks/scaling_study.py): it is a run
of its own, shown from its report and PNG plots, and its many small training runs are not walked.
Only what the stages publish is read; the shapes are in docs/dashboard.md.
"""

from __future__ import annotations

import functools
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from storage import Dataset, DatasetError, Manifest, open_dataset

STAGE_ORDER = ["smoke", "ingest", "filter", "dedup", "dedup_index", "remix", "tokenizer", "train_tokenizer", "tokenize",
               "pretrain", "sft", "dpo", "eval"]
MARKERS = ("manifest.json", "metrics.jsonl", "results.json")
SKIP_DIRS = {"data", "dropped", "quarantine", "train", "val", "__pycache__", "prefect", "node_modules"}


@dataclass
class StageView:
    name: str
    root: Path  # the stage folder (holds LATEST when versioned)
    location: Path  # the version shown
    manifest: Manifest | None = None
    versions: int = 1
    metrics: list[dict[str, Any]] = field(default_factory=list)
    results: dict[str, Any] | None = None
    error: str | None = None  # why the manifest could not be read
    previous: StageView | None = None  # the newest other complete version of a versioned stage (shown beside LATEST)

    @property
    def stats(self) -> dict[str, Any]:
        return self.manifest.stats if self.manifest else {}

    @property
    def sort_key(self) -> tuple[int, str, str]:
        order = STAGE_ORDER.index(self.name) if self.name in STAGE_ORDER else len(STAGE_ORDER)
        return (order, self.manifest.created_at if self.manifest else "", self.name)


@dataclass
class StudyView:
    """A scaling study's folder: ``report.json`` (fits, comparison, held-out runs) and ``plots/*.png``."""

    path: Path
    report: dict[str, Any] = field(default_factory=dict)
    plots: list[Path] = field(default_factory=list)
    results: int = 0  # rows of results.jsonl (one per grid run)
    error: str | None = None


@dataclass
class RunView:
    name: str  # relative to the dashboard's root ("." for the root itself)
    path: Path
    stages: list[StageView] = field(default_factory=list)
    study: StudyView | None = None


STUDY_MARKERS = ("report.json", "results.jsonl")


def read_study(d: Path) -> StudyView:
    view = StudyView(path=d)
    try:
        view.report = json.loads((d / "report.json").read_text(encoding="utf-8"))
    except ValueError as e:
        view.error = f"report.json does not parse: {e}"
    with open(d / "results.jsonl", encoding="utf-8") as f:
        view.results = sum(1 for line in f if line.strip())
    view.plots = sorted((d / "plots").glob("*.png")) if (d / "plots").is_dir() else []
    return view


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """metrics.jsonl rows; unparseable lines are skipped (a writer may be mid-line)."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict):
                rows.append(row)
    return rows


def _stage_location(d: Path) -> tuple[Path, bool]:
    """(stage root, whether ``d`` is the version LATEST names or not versioned at all)."""
    latest = d.parent / "LATEST"
    if latest.is_file():
        return d.parent, latest.read_text(encoding="utf-8").strip() == d.name
    return d, True


def find_runs(root: Path) -> list[RunView]:
    """Walk ``root`` and group stage outputs into runs, in pipeline order."""
    root = root.resolve()
    stages: dict[Path, StageView] = {}
    studies: list[RunView] = []
    others: dict[Path, list[Path]] = {}  # older complete versions per versioned stage root
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in SKIP_DIRS)
        if all(m in filenames for m in STUDY_MARKERS):
            d = Path(dirpath)
            name = os.path.relpath(d, root)
            studies.append(RunView(name=name, path=d, study=read_study(d)))
            dirnames[:] = []  # the study's grid runs are summarised by its report
            continue
        if not any(m in filenames for m in MARKERS):
            continue
        d = Path(dirpath)
        stage_root, shown = _stage_location(d)
        view = stages.get(stage_root)
        if view is None:
            view = stages[stage_root] = StageView(name=stage_root.name, root=stage_root, location=d, versions=0)
        view.versions += 1
        if not shown:
            if "manifest.json" in filenames:
                others.setdefault(stage_root, []).append(d)
            continue
        view.location = d
        if "manifest.json" in filenames:
            try:
                ds = open_dataset(str(d))
                view.manifest = ds.manifest
                view.name = ds.manifest.stage or view.name
            except DatasetError as e:
                view.error = str(e)
        if "metrics.jsonl" in filenames:
            view.metrics = read_metrics(d / "metrics.jsonl")
        if "results.json" in filenames:
            try:
                view.results = json.loads((d / "results.json").read_text(encoding="utf-8"))
            except ValueError as e:
                view.error = f"results.json does not parse: {e}"
    for stage_root, dirs in others.items():
        if stage_root in stages and stages[stage_root].manifest is not None:
            stages[stage_root].previous = previous_version(dirs)
    runs: dict[Path, RunView] = {}
    for view in stages.values():
        run_path = view.root.parent if view.root != root else root
        # a versioned output kept inside another stage's root (dedup's OUT/index beside OUT/dedup-<key>)
        # belongs to that stage's run, not to a run named after the stage
        while run_path != root and (run_path / "LATEST").is_file() and run_path.is_relative_to(root):
            run_path = run_path.parent
        name = os.path.relpath(run_path, root) if run_path.is_relative_to(root) else str(run_path)
        runs.setdefault(run_path, RunView(name=name, path=run_path)).stages.append(view)
    for run in runs.values():
        run.stages.sort(key=lambda s: s.sort_key)
    return sorted(list(runs.values()) + studies, key=lambda r: r.name)


def previous_version(dirs: list[Path]) -> StageView | None:
    """The newest (by manifest ``created_at``) readable version among ``dirs``, as a view of its own."""
    views = []
    for d in dirs:
        try:
            m = open_dataset(str(d)).manifest
        except DatasetError:
            continue
        views.append(StageView(name=m.stage or d.parent.name, root=d.parent, location=d, manifest=m))
    return max(views, key=lambda v: v.manifest.created_at, default=None)


def flat_config(d: Any, prefix: str = "") -> dict[str, Any]:
    """``{"langid.thresholds.en": 0.9, ...}``: a resolved config as dotted leaves (lists stay values)."""
    if not isinstance(d, dict):
        return {prefix: d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(flat_config(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def config_changes(old: Manifest, new: Manifest) -> list[tuple[str, Any, Any]]:
    """(dotted key, old value, new value) for every config leaf that differs between two versions."""
    a, b = flat_config(old.config), flat_config(new.config)
    return [(k, a.get(k, "-"), b.get(k, "-")) for k in sorted(set(a) | set(b)) if a.get(k, "-") != b.get(k, "-")]


# ----------------------------------------------------------------------------- sampling shards


@functools.lru_cache(maxsize=64)
def _sample_section(uri: str, digest: str, section: str, columns: tuple[str, ...], max_rows: int) -> list[dict[str, Any]]:
    ds: Dataset = open_dataset(uri)
    shards = ds.shards(section)
    if not shards:
        return []
    picks = shards if len(shards) <= 4 else [shards[round(i * (len(shards) - 1) / 3)] for i in range(4)]
    per_shard = max(1, math.ceil(max_rows / len(picks)))
    rows: list[dict[str, Any]] = []
    for shard in picks:
        table = ds.read_shard(shard)
        cols = [c for c in columns if c in table.column_names]
        rows.extend(table.select(cols).slice(0, per_shard).to_pylist())
    return rows[:max_rows]


def sample_rows(view: StageView, section: str, columns: tuple[str, ...], max_rows: int = 2000) -> list[dict[str, Any]]:
    """Up to ``max_rows`` rows from at most 4 evenly spaced shards of a section (checksums verified)."""
    if view.manifest is None:
        return []
    return _sample_section(str(view.location), view.manifest.digest, section, columns, max_rows)


def length_samples(view: StageView, max_rows: int = 2000) -> dict[str, list[int]]:
    """Document lengths in characters by language for kept docs, plus all dropped docs as 'dropped'."""
    out: dict[str, list[int]] = {}
    for row in sample_rows(view, "data", ("text", "lang"), max_rows):
        out.setdefault(str(row.get("lang") or "?"), []).append(len(row.get("text") or ""))
    dropped = [len(r.get("text") or "") for r in sample_rows(view, "dropped", ("text",), max_rows)]
    if dropped:
        out["dropped"] = dropped
    return out


def dropped_examples(view: StageView, per_reason: int = 3, max_rows: int = 5000) -> dict[str, list[dict[str, Any]]]:
    """A few dropped documents per reason, from the dropped/ shards."""
    cols = ("id", "reason", "text", "url", "source", "lang", "duplicate_of", "detail")
    out: dict[str, list[dict[str, Any]]] = {}
    for row in sample_rows(view, "dropped", cols, max_rows):
        bucket = out.setdefault(str(row.get("reason")), [])
        if len(bucket) < per_reason:
            bucket.append(row)
    return dict(sorted(out.items()))
