"""Stage driver: remix a document dataset to target domain-group proportions per language.

    longterm remix runs/dedup --out runs/remix --config configs/remix.yaml

Two passes over the input shards, each one Ray unit per shard (``tasks.executor.map_units``):
1. measure: label every document (language, source, registered domain -> group) and sum documents
   and bytes per (language, group);
2. sample: with the rates planned from those sizes (``tasks.ops.remix.plan_rates``), write for
   each shard ``data/`` (every kept document once, metadata JSON gains ``group`` and ``domain``),
   ``repeats/`` (the extra copies of upsampled documents, same id, metadata ``remix_copy`` = 2, 3, ...)
   and ``dropped/`` (reason ``remix_downsampled``).

Conservation: ``input = kept + dropped{remix_downsampled}`` where kept counts distinct documents
(the rows of ``data/``); the repeat rows are extra and reported in ``stats["repeats"]``. Consumers
that want the remixed stream (tokenize) read ``data`` and ``repeats``; consumers that want each
document once (train-tokenizer) read ``data``. ``stats["mixture"]`` holds the targets and the
realised documents and bytes per group and language before and after.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import pyarrow as pa

from storage import DROPPED_SCHEMA, Counts, DatasetWriter, ShardInfo, conform_documents, open_dataset, write_shard
from tasks.code_digest import stage_code_digest
from tasks.config import to_mapping
from tasks.ops.funnel_counts import Funnel, count_document, merge_funnels
from tasks.ops.remix import Cell, DomainGrouper, RemixConfig, copies_of, plan_rates, with_metadata
from tasks.executor import map_units
from tasks.progress import ProgressFn, ProgressMeter

DROP_DOWNSAMPLED = "remix_downsampled"
REPEATS = "repeats"


def _labels(table: pa.Table, grouper: DomainGrouper) -> list[tuple[str, str, str, int]]:
    """(lang, domain, group, utf8 bytes) per row."""
    out = []
    for lang, url, source, text in zip(*(table.column(c).to_pylist() for c in ("lang", "url", "source", "text"))):
        domain, group = grouper.label(url, source)
        out.append((lang or "unknown", domain, group, len((text or "").encode("utf-8"))))
    return out


class RemixMeasureUnit:
    """Pass 1: documents and bytes per (language, group) of one shard."""

    def __init__(self, input_uri: str, cfg: RemixConfig) -> None:
        self.dataset = open_dataset(input_uri, kind="documents")
        self.grouper = DomainGrouper(cfg.groups, cfg.default_group)

    def __call__(self, unit: dict[str, Any]) -> dict[str, Any]:
        shard = next(s for s in self.dataset.shards("data") if s.path == unit["shard"])
        table = self.dataset.read_shard(shard, columns=["lang", "url", "source", "text"])
        cells: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
        for lang, _, group, n_bytes in _labels(table, self.grouper):
            cells[lang][group][0] += 1
            cells[lang][group][1] += n_bytes
        return {"cells": cells}


class RemixSampleUnit:
    """Pass 2: write one shard's kept documents, extra copies and downsampled documents."""

    def __init__(self, input_uri: str, location: str, cfg: RemixConfig, rates: dict[str, dict[str, float]]) -> None:
        self.dataset = open_dataset(input_uri, kind="documents")
        self.cfg = cfg
        self.grouper = DomainGrouper(self.cfg.groups, self.cfg.default_group)
        self.location = location
        self.rates = rates

    def __call__(self, unit: dict[str, Any]) -> dict[str, Any]:
        index = int(unit["index"])
        shard = next(s for s in self.dataset.shards("data") if s.path == unit["shard"])
        table = conform_documents(self.dataset.read_shard(shard))
        labels = _labels(table, self.grouper)
        kept_rows, kept_meta, repeat_rows, repeat_meta, dropped_rows, dropped_detail = [], [], [], [], [], []
        after: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0, 0]))  # docs, bytes, unique
        funnel: dict[str, Funnel] = {"by_lang": {}, "by_source": {}}
        ids, metas, sources = (table.column(c).to_pylist() for c in ("id", "metadata", "source"))
        for row, ((lang, domain, group, n_bytes), doc_id, meta, source) in enumerate(zip(labels, ids, metas, sources)):
            rate = self.rates.get(lang, {}).get(group, 1.0)
            copies = copies_of(doc_id, rate, self.cfg)
            for scope, name in (("by_lang", lang), ("by_source", source or "unknown")):
                count_document(funnel[scope], name, None if copies else DROP_DOWNSAMPLED)
            if copies == 0:
                dropped_rows.append(row)
                dropped_detail.append(f"group {group} ({domain or 'no domain'}), lang {lang}: rate {rate:.3f}")
                continue
            kept_rows.append(row)
            kept_meta.append(with_metadata(meta, group=group, domain=domain))
            for k in range(2, copies + 1):
                repeat_rows.append(row)
                repeat_meta.append(with_metadata(meta, group=group, domain=domain, remix_copy=k))
            cell = after[lang][group]
            cell[0] += copies
            cell[1] += copies * n_bytes
            cell[2] += 1
        shards: list[ShardInfo] = []
        for section, rows, meta in (("data", kept_rows, kept_meta), (REPEATS, repeat_rows, repeat_meta)):
            if rows or section == "data":
                part = table.take(rows).set_column(6, "metadata", pa.array(meta, pa.string()))
                shards.append(write_shard(self.location, section, index, conform_documents(part)))
        if dropped_rows:
            d = table.take(dropped_rows)
            dropped = pa.table({
                "id": d.column("id"), "reason": pa.array([DROP_DOWNSAMPLED] * d.num_rows),
                "text": d.column("text"), "url": d.column("url"), "source": d.column("source"), "lang": d.column("lang"),
                "duplicate_of": pa.nulls(d.num_rows, pa.string()), "detail": pa.array(dropped_detail),
            }).cast(DROPPED_SCHEMA)
            shards.append(write_shard(self.location, "dropped", index, dropped))
        return {"shards": [s.to_dict() for s in shards], "after": after, "funnel": funnel}


def _merge_cells(parts: list[dict[str, dict[str, list[int]]]], width: int) -> dict[str, dict[str, list[int]]]:
    merged: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0] * width))
    for part in parts:
        for lang, groups in part.items():
            for group, values in groups.items():
                for i, v in enumerate(values):
                    merged[lang][group][i] += v
    return merged


def mixture_rows(before: dict[str, dict[str, Cell]], after: dict[str, dict[str, list[int]]],
                 plan: dict[str, dict[str, dict[str, float | None]]]) -> list[dict[str, Any]]:
    """One row per (language, group): target, rate, and documents/bytes/shares before and after."""
    rows = []
    for lang in sorted(set(before) | set(after)):
        groups = sorted(set(before.get(lang, {})) | set(plan.get(lang, {})))
        total_before = sum(c.bytes for c in before.get(lang, {}).values()) or 1
        total_after = sum(v[1] for v in after.get(lang, {}).values()) or 1
        for g in groups:
            b = before.get(lang, {}).get(g, Cell())
            a = after.get(lang, {}).get(g, [0, 0, 0])
            p = plan.get(lang, {}).get(g, {})
            rows.append({
                "lang": lang, "group": g,
                "target_share": p.get("share"), "effective_share": p.get("effective_share"),
                "rate": round(p["rate"], 4) if p.get("rate") is not None else None,
                "docs_before": b.docs, "bytes_before": b.bytes, "byte_share_before": round(b.bytes / total_before, 4),
                "docs_after": a[0], "unique_docs_after": a[2], "bytes_after": a[1],
                "byte_share_after": round(a[1] / total_after, 4),
            })
    return rows


def run_remix(
    input_uri: str,
    out: str,
    cfg: RemixConfig,
    *,
    executor: str = "ray",
    ray_address: str | None = None,
    force: bool = False,
    progress: ProgressFn | None = None,
) -> str:
    """Remix ``input_uri`` to ``cfg``'s target proportions; publish under ``out``; return the version URI.

    A rerun with the same input, config and code is a no-op; ``force`` recomputes anyway. ``progress`` gets
    an event as each shard of each of the two passes finishes (measure, then sample: 2 x shards units)."""
    ds = open_dataset(input_uri, kind="documents")
    writer = DatasetWriter(out, kind="documents", stage="remix", config=to_mapping(cfg), inputs=[ds.ref()],
                           code_digest=stage_code_digest("remix"), force=force)
    if writer.reuse():
        return writer.location
    units = [{"index": i, "shard": s.path} for i, s in enumerate(ds.shards("data"))]
    meter = ProgressMeter(progress, "remix", 2 * len(units), unit="shard passes", item="docs")
    measured = map_units(RemixMeasureUnit, units, ctor_kwargs={"input_uri": ds.uri, "cfg": cfg},
                         executor=executor, address=ray_address,
                         on_result=lambda r: meter.advance(items=sum(c[0] for g in r["cells"].values() for c in g.values())))
    before = {lang: {g: Cell(*v) for g, v in groups.items()}
              for lang, groups in _merge_cells([m["cells"] for m in measured], 2).items()}
    plan = plan_rates(before, cfg)
    rates = {lang: {g: p["rate"] for g, p in groups.items()} for lang, groups in plan.items()}
    sampled = map_units(RemixSampleUnit, units,
                        ctor_kwargs={"input_uri": ds.uri, "location": writer.location, "cfg": cfg, "rates": rates},
                        executor=executor, address=ray_address,
                        on_result=lambda r: meter.advance(items=sum(c["input"] for c in r["funnel"]["by_lang"].values())))
    shards = [ShardInfo.from_dict(s) for r in sampled for s in r["shards"]]
    after = _merge_cells([r["after"] for r in sampled], 3)
    by_lang = merge_funnels([r["funnel"]["by_lang"] for r in sampled])
    n_dropped = sum(c["dropped"].get(DROP_DOWNSAMPLED, 0) for c in by_lang.values())
    counts = Counts(input=sum(c["input"] for c in by_lang.values()), kept=sum(c["kept"] for c in by_lang.values()),
                    dropped={DROP_DOWNSAMPLED: n_dropped} if n_dropped else {})
    repeats = sum(s.rows for s in shards if s.section == REPEATS)
    stats = {
        "mixture": {"unit": cfg.unit, "scale": cfg.scale, "max_repeats": cfg.max_repeats,
                    "rows": mixture_rows(before, after, plan)},
        "repeats": repeats,
        "rows_with_repeats": counts.kept + repeats,
        "by_lang": by_lang,
        "by_source": merge_funnels([r["funnel"]["by_source"] for r in sampled]),
    }
    json.dumps(stats)  # fail here, not in commit, if anything is not JSON
    writer.commit(shards, counts, stats)
    return writer.location
