"""Prefect artifacts for training and evaluation outputs, and progress on long stages.

Reads the same files the dashboard reads (docs/dashboard.md): ``metrics.jsonl`` lines
``{"step", "loss", "val_loss", "lr", "tokens_per_s", "mfu"}`` and ``results.json``
``{"tasks": {task: {metric: value}}}``. The row builders are pure; the ``publish_*``
functions create the artifacts (inside a flow run they are linked to it)::

    publish_training_artifacts("runs/demo/pretrain", stage="pretrain")   # summary, curve table, checkpoint link
    publish_eval_artifacts("runs/demo/eval", stage="eval")               # score table
    progress = StageProgress("dedup", total=len(units)); progress.update(done)
    run_filter(..., progress=PrefectProgress("filter"))                  # live: shards done / total, docs/s, ETA
    with watch_training(run_dir, "pretrain"): run_pretrain(...)          # live: step / total, loss, tokens/s, ETA
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flows.artifacts import artifact_key
from flows.dashboard.collect import read_metrics
from tasks.code_digest import STAGE_MODULES, stage_code_digest
from tasks.progress import ProgressEvent


def code_digest_line(stage: str) -> str:
    """Markdown line naming the digest of the code that computed ``stage`` (part of its run key)."""
    if stage not in STAGE_MODULES:
        return f"- code digest: n/a (no stage module for {stage!r})"
    return f"- code digest: `{stage_code_digest(stage)[:16]}` ({STAGE_MODULES[stage]} and the repo modules it imports)"


def training_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Last step and loss, best validation loss, final lr, mean throughput and MFU."""
    if not rows:
        return {}
    out: dict[str, Any] = {"steps": rows[-1].get("step"), "final_loss": rows[-1].get("loss")}
    val = [r["val_loss"] for r in rows if isinstance(r.get("val_loss"), (int, float))]
    if val:
        out["best_val_loss"] = min(val)
        out["final_val_loss"] = val[-1]
    lrs = [r["lr"] for r in rows if isinstance(r.get("lr"), (int, float))]
    if lrs:
        out["final_lr"] = lrs[-1]
    for key in ("tokens_per_s", "mfu"):
        vals = [r[key] for r in rows if isinstance(r.get(key), (int, float))]
        if vals:
            out[f"mean_{key}"] = sum(vals) / len(vals)
    return out


def curve_rows(rows: list[dict[str, Any]], max_rows: int = 50) -> list[dict[str, Any]]:
    """At most ``max_rows`` evenly spaced metric rows (always the last one), for a table artifact."""
    if len(rows) <= max_rows:
        picked = rows
    else:
        idx = sorted({round(i * (len(rows) - 1) / (max_rows - 1)) for i in range(max_rows)})
        picked = [rows[i] for i in idx]
    keys = ("step", "loss", "val_loss", "lr", "tokens_per_s", "mfu")
    return [{k: r.get(k) for k in keys} for r in picked]


def eval_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"task": task, **scores} for task, scores in sorted((results.get("tasks") or {}).items())]


def publish_training_artifacts(run_dir: str, stage: str, checkpoint: str | None = None) -> dict[str, str]:
    """Summary markdown, sampled curve table and checkpoint link of a training run folder."""
    from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact

    rows = read_metrics(Path(run_dir) / "metrics.jsonl")
    summary = training_summary(rows)
    keys = {k: artifact_key(stage, k) for k in ("training-summary", "curve", "checkpoint")}
    lines = [f"## {stage}: {summary.get('steps', 0)} steps"] + [f"- {k}: {v:.6g}" if isinstance(v, float) else f"- {k}: {v}"
                                                               for k, v in summary.items()]
    lines.append(code_digest_line(stage))
    create_markdown_artifact(key=keys["training-summary"], markdown="\n".join(lines), description=f"{stage} training summary")
    create_table_artifact(key=keys["curve"], table=curve_rows(rows), description=f"{stage} loss / lr / throughput by step")
    target = str(Path(checkpoint or run_dir).resolve())
    create_link_artifact(key=keys["checkpoint"], link=f"file://{target}", link_text=f"{stage} checkpoint")
    return keys


def publish_eval_artifacts(eval_dir: str, stage: str = "eval") -> str:
    from prefect.artifacts import create_table_artifact

    results = json.loads((Path(eval_dir) / "results.json").read_text(encoding="utf-8"))
    key = artifact_key(stage, "scores")
    digest = stage_code_digest("eval")[:16]
    create_table_artifact(key=key, table=eval_rows(results), description=f"{stage} scores by task and metric (code digest {digest})")
    return key


class StageProgress:
    """A Prefect progress artifact for a long stage, updated at most every ``min_interval_s``."""

    def __init__(self, stage: str, total: int, min_interval_s: float = 2.0) -> None:
        from prefect.artifacts import create_progress_artifact

        self.total = max(1, total)
        self.min_interval_s = min_interval_s
        self._last = 0.0
        self.artifact_id = create_progress_artifact(0.0, key=artifact_key(stage, "progress"),
                                                    description=f"{stage}: units done")

    def update(self, done: int, force: bool = False) -> None:
        from prefect.artifacts import update_progress_artifact

        now = time.monotonic()
        if force or done >= self.total or now - self._last >= self.min_interval_s:
            update_progress_artifact(self.artifact_id, 100.0 * min(done, self.total) / self.total)
            self._last = now


class PrefectProgress:
    """The progress callback a flow passes into a stage driver (tasks/progress.py): each event becomes an
    update of the stage's progress artifact (percent done; the description says units done / total, items/s and
    ETA) and a log line of the run, at most every ``min_interval_s`` (always the first and the last)."""

    def __init__(self, stage: str, min_interval_s: float = 2.0) -> None:
        self.stage = stage
        self.min_interval_s = min_interval_s
        self.artifact_id = None
        self._last = float("-inf")
        self.lines: list[str] = []  # what was reported, for the caller and for tests

    def _logger(self) -> logging.Logger | logging.LoggerAdapter:
        from prefect import get_run_logger
        from prefect.exceptions import MissingContextError

        try:
            return get_run_logger()
        except MissingContextError:
            return logging.getLogger(f"longterm.{self.stage}")

    def __call__(self, event: ProgressEvent) -> None:
        from prefect.artifacts import create_progress_artifact, update_progress_artifact

        now = time.monotonic()
        final = event.done >= event.total
        if not final and self.artifact_id is not None and now - self._last < self.min_interval_s:
            return
        self._last = now
        line = event.line()
        self.lines.append(line)
        if self.artifact_id is None:
            self.artifact_id = create_progress_artifact(100.0 * event.fraction, key=artifact_key(self.stage, "progress"),
                                                        description=line)
        else:
            update_progress_artifact(self.artifact_id, 100.0 * event.fraction, description=line)
        self._logger().info(line)


def training_event(run_dir: Path, stage: str, elapsed_s: float) -> ProgressEvent | None:
    """Step / total steps, last loss and tokens/s of a training run folder (``config.json`` or ``loop.json`` + ``metrics.jsonl``)."""
    try:  # pretrain's config.json; SFT / DPO: the loop's loop.json (model/loop.py)
        total = int(json.loads((run_dir / "config.json").read_text())["run"]["total_steps"])
    except (OSError, ValueError, KeyError, TypeError):
        try:
            total = int(json.loads((run_dir / "loop.json").read_text())["total_steps"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
    rows = [r for r in read_metrics(run_dir / "metrics.jsonl") if isinstance(r.get("loss"), (int, float))]
    if not rows:
        return ProgressEvent(stage, 0, total, unit="steps", item="tokens", elapsed_s=elapsed_s)
    last = rows[-1]
    step = int(last.get("step", 0))
    return ProgressEvent(stage, min(step, total), total, unit="steps", item="tokens", rate=last.get("tokens_per_s"),
                         elapsed_s=elapsed_s, extra={"loss": float(last["loss"])})


@contextlib.contextmanager
def watch_training(run_dir: str | Path, stage: str, interval_s: float = 2.0, report: PrefectProgress | None = None) -> Iterator[PrefectProgress]:
    """While the block trains into ``run_dir``, report its progress every ``interval_s`` from a thread that reads
    the files the trainer writes (the trainer knows nothing of Prefect). The thread runs in a copy of the caller's
    context, so the artifact and log lines belong to the caller's flow / task run."""
    report = report or PrefectProgress(stage, min_interval_s=0.0)
    run = Path(run_dir)
    stop = threading.Event()
    start = time.monotonic()
    seen: list[tuple[int, int]] = []

    def poll() -> None:
        event = training_event(run, stage, time.monotonic() - start)
        if event is not None and (not seen or seen[-1] != (event.done, event.total)):
            seen.append((event.done, event.total))
            report(event)

    def loop() -> None:
        while not stop.wait(interval_s):
            with contextlib.suppress(Exception):  # progress must never fail the training it watches
                poll()

    thread = threading.Thread(target=contextvars.copy_context().run, args=(loop,), name=f"{stage}-progress", daemon=True)
    thread.start()
    try:
        yield report
    finally:
        stop.set()
        thread.join(timeout=10)
        with contextlib.suppress(Exception):
            poll()  # the last step
