"""Filter stage: language ID + heuristic quality filters (+ optional quality classifier).

Input: any ``documents`` dataset. Output (content addressed, ``DIR/filter-<key>/``):
``data/`` kept documents with ``lang``/``lang_score`` set (and C4's line removal applied
to ``text``), ``dropped/`` every dropped document with its namespaced ``reason`` and a
``detail``, ``quarantine/`` rows that could not be processed. The manifest counts drops per
reason and records ``stats.by_lang`` / ``stats.by_source`` funnels.

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
from collections.abc import Iterable
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
from tasks.ops.langid import LangIdConfig, LanguageIdentifier
from tasks.ops.quality import QualityConfig, QualityFilter
from tasks.ops.quality_classifier import (
    QualityClassifierConfig,
    QualityScorer,
    train_quality_classifier,
)
from tasks.runner import run_units

__all__ = ["ClassifierConfig", "FilterConfig", "run_filter", "train_quality_classifier", "QualityClassifierConfig"]

log = logging.getLogger(__name__)
REASON_CLASSIFIER = "quality_classifier_low"


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


def _with_metadata(raw: str | None, extra: dict[str, Any]) -> str | None:
    if not extra:
        return raw
    try:
        meta = json.loads(raw) if raw else {}
        if not isinstance(meta, dict):
            meta = {"metadata": meta}
    except ValueError:
        meta = {"metadata_raw": raw}
    meta.update(extra)
    return json.dumps(meta, ensure_ascii=False)


class FilterShardProcessor:
    """One Ray actor: loads fastText (and the classifier) once, filters one input shard per call.

    ``cfg`` is the driver's parsed FilterConfig object (Ray pickles it), never re-parsed here.
    """

    def __init__(self, cfg: FilterConfig, input_uri: str, location: str) -> None:
        self.cfg = cfg
        self.dataset = open_dataset(input_uri, kind="documents")
        self.location = location
        self.langid = LanguageIdentifier(self.cfg.langid)
        self.quality = QualityFilter(self.cfg.quality)
        c = self.cfg.classifier
        self.scorer = QualityScorer(c.model_path) if c.model_path else None
        self.classifier_langs = set(c.languages) if c.languages else None

    def filter_batch(self, batch: pa.Table) -> tuple[dict[str, list], dict[str, list]]:
        """Return (kept rows, dropped rows) as column dicts; every input row is in exactly one."""
        cols = {name: batch.column(name).to_pylist() for name in ("id", "text", "url", "source", "metadata")}
        n = batch.num_rows
        texts = [t or "" for t in cols["text"]]
        dec = self.langid(pa.array(texts, pa.string()))
        reasons: list[str | None] = list(dec.reason)
        details = [""] * n
        for i, r in enumerate(reasons):
            if r is not None:
                details[i] = f"lang={dec.lang[i]} score={dec.score[i]:.3f}"
        out_text = list(texts)
        extras: list[dict[str, Any]] = [{} for _ in range(n)]
        todo = [i for i in range(n) if reasons[i] is None]
        for i, res in zip(todo, self.quality([texts[i] for i in todo], [dec.lang[i] for i in todo])):
            if res.reason is not None:
                reasons[i], details[i] = res.reason, res.detail
            else:
                out_text[i] = res.text
                if res.removed_lines:
                    extras[i]["c4_removed_lines"] = res.removed_lines
        if self.scorer is not None:
            todo = [
                i for i in range(n)
                if reasons[i] is None and (self.classifier_langs is None or dec.lang[i] in self.classifier_langs)
            ]
            scores = self.scorer.score([out_text[i] for i in todo])
            thr = self.cfg.classifier.threshold
            for i, s in zip(todo, scores):
                extras[i]["quality_score"] = round(float(s), 4)
                if thr is not None and s < thr:
                    reasons[i], details[i] = REASON_CLASSIFIER, f"quality_score {s:.3f} < {thr}"
        kept: dict[str, list] = {k: [] for k in DOCUMENT_SCHEMA.names}
        dropped: dict[str, list] = {k: [] for k in DROPPED_SCHEMA.names}
        for i in range(n):
            if reasons[i] is None:
                kept["id"].append(cols["id"][i])
                kept["text"].append(out_text[i])
                kept["url"].append(cols["url"][i])
                kept["source"].append(cols["source"][i])
                kept["lang"].append(dec.lang[i])
                kept["lang_score"].append(float(dec.score[i]))
                kept["metadata"].append(_with_metadata(cols["metadata"][i], extras[i]))
            else:
                dropped["id"].append(cols["id"][i])
                dropped["reason"].append(reasons[i])
                dropped["text"].append(cols["text"][i])
                dropped["url"].append(cols["url"][i])
                dropped["source"].append(cols["source"][i])
                dropped["lang"].append(dec.lang[i])
                dropped["duplicate_of"].append(None)
                dropped["detail"].append(details[i])
        return kept, dropped

    def _process_rows(self, batch: pa.Table, source_file: str, offset: int, parts: dict[str, list], funnels) -> None:
        """Filter a batch; if it raises, retry row by row and quarantine the rows that still fail."""
        try:
            groups = [(batch, self.filter_batch(batch))]
        except Exception as e:  # noqa: BLE001 - a bad batch must not kill the run
            log.warning("filter: batch at %s+%d failed (%s); retrying row by row", source_file, offset, e)
            groups = []
            for j in range(batch.num_rows):
                row = batch.slice(j, 1)
                try:
                    groups.append((row, self.filter_batch(row)))
                except Exception as row_error:  # noqa: BLE001
                    parts["quarantine"].append(
                        {
                            "source_file": source_file,
                            "offset": None,
                            "line": offset + j + 1,
                            "error": f"filter failed: {type(row_error).__name__}: {row_error}",
                            "raw": json.dumps(row.to_pylist()[0], ensure_ascii=False, default=str)[:4000],
                        }
                    )
                    for key, name in (("by_lang", "und"), ("by_source", str(row.column("source")[0].as_py()))):
                        _funnel_add(funnels[key], name, None, quarantined=True)
        for _, (kept, dropped) in groups:
            parts["data"].append(kept)
            parts["dropped"].append(dropped)
            for lang, src in zip(kept["lang"], kept["source"]):
                _funnel_add(funnels["by_lang"], lang, None)
                _funnel_add(funnels["by_source"], str(src), None)
            for lang, src, reason in zip(dropped["lang"], dropped["source"], dropped["reason"]):
                _funnel_add(funnels["by_lang"], lang, reason)
                _funnel_add(funnels["by_source"], str(src), reason)

    def __call__(self, unit: dict[str, Any]) -> dict[str, Any]:
        shard = ShardInfo.from_dict(unit["shard"])
        table = self.dataset.read_shard(shard, columns=["id", "text", "url", "source", "metadata"])
        parts: dict[str, list] = {"data": [], "dropped": [], "quarantine": []}
        funnels: dict[str, dict] = {"by_lang": {}, "by_source": {}}
        offset = 0
        for batch in table.to_batches(max_chunksize=self.cfg.batch_size):
            self._process_rows(pa.Table.from_batches([batch]), shard.path, offset, parts, funnels)
            offset += batch.num_rows
        shards: list[ShardInfo] = []
        counts = Counts(input=table.num_rows)
        for section, schema in (("data", DOCUMENT_SCHEMA), ("dropped", DROPPED_SCHEMA)):
            merged = _concat_columns(parts[section], schema.names)
            out = pa.table(merged, schema=schema)
            if section == "data":
                counts.kept = out.num_rows
            else:
                for r in merged["reason"]:
                    counts.dropped[r] = counts.dropped.get(r, 0) + 1
            if out.num_rows:
                shards.append(write_shard(self.location, section, unit["index"], out))
        if parts["quarantine"]:
            q = pa.Table.from_pylist(parts["quarantine"], schema=QUARANTINE_SCHEMA)
            counts.quarantined = q.num_rows
            shards.append(write_shard(self.location, "quarantine", unit["index"], q))
        return {"shards": [s.to_dict() for s in shards], "counts": counts.to_dict(), **funnels}


def _concat_columns(parts: Iterable[dict[str, list]], names: list[str]) -> dict[str, list]:
    merged: dict[str, list] = {k: [] for k in names}
    for p in parts:
        for k in names:
            merged[k].extend(p[k])
    return merged


# ----------------------------------------------------------------------------- driver


def resolved_config(cfg: FilterConfig) -> dict[str, Any]:
    """The config recorded in the manifest (and hashed into the version key), with the
    classifier model's sha256 so a retrained model gives a new version."""
    d = to_mapping(cfg)
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
) -> str:
    """Filter a documents dataset into ``out``; return the published version's URI.

    A rerun with the same input, config and code is a no-op; ``force`` recomputes anyway."""
    cfg = cfg or FilterConfig()
    ds = open_dataset(input_uri, kind="documents")
    config = resolved_config(cfg)
    writer = DatasetWriter(out, kind="documents", stage="filter", config=config, inputs=[ds.ref()],
                           code_digest=stage_code_digest("filter"), force=force)
    if writer.reuse():
        log.info("filter: %s is already complete (same input, config and code)", writer.location)
        return writer.location
    units = [{"shard": s.to_dict(), "index": i} for i, s in enumerate(ds.shards("data"))]
    results = run_units(
        FilterShardProcessor,
        units,
        ctor_kwargs={"cfg": cfg, "input_uri": ds.uri, "location": writer.location},
        executor=executor,
        ray_address=ray_address,
    )
    counts = Counts()
    shards: list[ShardInfo] = []
    by_lang: dict[str, dict] = {}
    by_source: dict[str, dict] = {}
    for r in results:
        counts = counts.add(Counts.from_dict(r["counts"]))
        shards.extend(ShardInfo.from_dict(s) for s in r["shards"])
        _merge_funnels(by_lang, r["by_lang"])
        _merge_funnels(by_source, r["by_source"])
    expected = sum(s.rows for s in ds.shards("data"))
    if counts.input != expected:
        raise AssertionError(f"filter: read {counts.input} rows but the input shards hold {expected}")
    writer.commit(shards, counts, {"by_lang": by_lang, "by_source": by_source})
    return writer.location
