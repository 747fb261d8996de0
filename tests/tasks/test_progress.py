"""tasks/progress.py: events of a stage as its units finish (pure; the flow turns them into Prefect artifacts)."""

from __future__ import annotations

from pathlib import Path

from tasks.progress import ProgressEvent, ProgressMeter
from tests.tasks.test_filter import DOCS, make_documents


def test_meter_reports_done_total_rate_and_eta() -> None:
    now = [100.0]
    events: list[ProgressEvent] = []
    meter = ProgressMeter(events.append, "filter", 4, unit="shards", item="docs", clock=lambda: now[0])
    assert events[0].done == 0 and events[0].eta_s is None and "ETA n/a" in events[0].line()
    now[0] = 110.0
    meter.advance(items=500)
    e = events[-1]
    assert (e.done, e.total, e.items, e.elapsed_s) == (1, 4, 500, 10.0)
    assert e.items_per_s == 50.0 and e.eta_s == 30.0
    assert e.line() == "filter: 1/4 shards (25%), 500 docs, 50 docs/s, ETA 30 s"
    now[0] = 140.0
    meter.advance(items=1500, units=3)
    assert events[-1].line() == "filter: 4/4 shards (100%), 2,000 docs, 50 docs/s, done"


def test_training_event_line_carries_loss_and_given_rate() -> None:
    e = ProgressEvent("pretrain", 30, 120, unit="steps", item="tokens", rate=4096.0, elapsed_s=60.0, extra={"loss": 3.25})
    assert e.line() == "pretrain: 30/120 steps (25%), loss 3.25, 4,096 tokens/s, ETA 3 min 00 s"


def test_meter_without_a_callback_is_silent() -> None:
    meter = ProgressMeter(None, "filter", 2)
    meter.advance(items=3)
    assert meter.done == 1 and meter.items == 3


def test_run_filter_reports_each_shard_with_its_documents(tmp_path: Path) -> None:
    from tasks.filter import FilterConfig, run_filter

    src = make_documents(tmp_path / "in", shards=3)
    events: list[ProgressEvent] = []
    run_filter(src, str(tmp_path / "out"), FilterConfig(), executor="local", progress=events.append)
    assert [(e.done, e.total) for e in events] == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert events[-1].items == len(DOCS) and events[-1].stage == "filter" and events[-1].line().endswith("done")


def test_run_remix_reports_both_passes_over_every_shard(tmp_path: Path) -> None:
    from tasks.remix import RemixConfig, run_remix
    from tests.tasks.test_remix import TARGETS, make_documents as remix_documents, write_documents

    docs = remix_documents(num_en=40, num_zh=20, hard=False)
    uri = write_documents(tmp_path / "docs", docs, shards=2)
    events: list[ProgressEvent] = []
    run_remix(uri, str(tmp_path / "remix"), RemixConfig(targets=TARGETS, max_repeats=3), executor="local", progress=events.append)
    assert [(e.done, e.total) for e in events] == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]
    assert events[2].items == len(docs) and events[-1].items == 2 * len(docs) and events[-1].unit == "shard passes"


def test_run_dedup_reports_units_done_of_each_phase(tmp_path: Path) -> None:
    from tasks.dedup import DedupConfig, run_dedup
    from tests.dedup.corpus import planted_corpus, write_docs

    docs, _ = planted_corpus()
    uri = write_docs(str(tmp_path / "in"), docs, shard_size=max(1, len(docs) // 3 + 1))  # 3 input shards
    events: list[ProgressEvent] = []
    run_dedup([uri], str(tmp_path / "out"), DedupConfig(partitions=2, report_by_dumps=False), executor="local", progress=events.append)
    phases = [e.unit for e in events if e.done == 0]
    assert phases[:2] == ["signatures units", "candidates units"] and phases[-2:] == ["filter units", "segment units"]
    assert "components (round 1) units" in phases
    by_phase: dict[str, list[tuple[int, int]]] = {}
    for e in events:
        by_phase.setdefault(e.unit, []).append((e.done, e.total))
    assert by_phase["signatures units"] == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert by_phase["segment units"] == [(0, 2), (1, 2), (2, 2)]
    sig_done = [e for e in events if e.unit == "signatures units"][-1]
    assert sig_done.items == len(docs) and sig_done.stage == "dedup" and "docs/s" in sig_done.line()
    assert events[-1].line().endswith("done")
