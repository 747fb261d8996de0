"""Ingest stage: raw crawl files -> a normalised, checksummed ``documents`` dataset.

    from tasks.ingest import IngestConfig, run_ingest
    uri = run_ingest(["runs/demo-crawl"], "runs/ingest", IngestConfig())             # Ray (local cluster)
    uri = run_ingest(["a.jsonl.gz", "crawl/*.warc.gz"], "out", IngestConfig(), executor="local")

One unit of work = one input file. A Ray worker streams its file through the format's reader
(:mod:`tasks.readers`), normalises texts in Arrow batches (:mod:`tasks.ops.normalize`), writes
``data/``, ``dropped/`` and ``quarantine/`` shards of at most ``rows_per_shard`` rows /
``shard_bytes`` bytes straight into the staging version, and returns counts and shard infos.
The driver sums them and commits the manifest (which re-checks conservation:
input = kept + dropped + quarantined).

Accounting: every document candidate read is one input record (a JSONL line that is not blank,
a Parquet row, a WARC response/resource/conversion record, an HTML file). Kept documents have
non-empty normalised text; dropped ones carry a reason (``ingest_empty_text``,
``ingest_no_main_text``, ``ingest_not_html``, ``ingest_http_status``); anything unparseable
(and an unreadable file, a truncated tail, a file that is not what its name says, a link out of
the input root, each as one entry) is quarantined.

Internal errors (see :mod:`tasks.internal_errors`): an exception of our own code fails the stage
with its traceback; only a parser choking on one record (HTML extraction, one WARC record) is
quarantined as ``internal_error`` and counted, and more than ``max_internal_error_rate`` of the
records (default 1%) fails the stage naming the first one.

Content addressing: the version key hashes this config, ``source`` and one fingerprint per
input file: ``path + size + mtime`` (``input_fingerprint="stat"``, the default: free) or the
file's sha256 (``"sha256"``: reads every byte once more, but survives copies and touch). A rerun
on unchanged files is a no-op; edited or added files make a new version.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from storage import Counts, DatasetWriter, InputRef, ShardInfo, write_shard
from storage.schema import DOCUMENT_SCHEMA, DROPPED_SCHEMA, QUARANTINE_SCHEMA
from tasks.internal_errors import InternalErrors
from tasks.ops.normalize import NormalizeConfig, normalize_texts, truncate_utf8, utf8_length
from tasks.readers import (
    DroppedRecord,
    InputFile,
    QuarantinedRecord,
    RawDocument,
    ReaderOptions,
    ReaderStats,
    list_input_files,
    printable_path,
    read_input_file,
)
from tasks.code_digest import stage_code_digest
from tasks.progress import ProgressFn, ProgressMeter
from tasks.executor import map_units

log = logging.getLogger(__name__)

STAGE = "ingest"
EMPTY_TEXT = "ingest_empty_text"
MAX_FILES_IN_STATS = 1000  # per-file funnels are recorded in the manifest up to this many files


@dataclass(frozen=True)
class IngestConfig:
    rows_per_shard: int = 50_000  # documents per data shard (also caps dropped/quarantine shards)
    shard_bytes: int = 128 << 20  # ...or this much text, whichever comes first
    batch_rows: int = 2048  # documents normalised per Arrow batch...
    batch_chars: int = 32 << 20  # ...or this many characters, whichever comes first (memory bound)
    max_doc_bytes: int = 1 << 20  # extracted text above this follows ``oversize``
    oversize: str = "truncate"  # "truncate" (cut at a line break, counted) or "quarantine"
    max_record_bytes: int = 64 << 20  # a raw JSONL line above this is quarantined unparsed
    max_html_bytes: int = 8 << 20  # HTML payloads above this follow ``oversize``
    favor_precision: bool = True  # trafilatura main-text extraction
    include_tables: bool = True
    input_fingerprint: str = "stat"  # "stat" (path+size+mtime) or "sha256" (file contents)
    normalize: NormalizeConfig = field(default_factory=NormalizeConfig)
    max_internal_error_rate: float = 0.01  # parser crashes above this share of records fail the stage

    def __post_init__(self) -> None:
        if self.oversize not in ("truncate", "quarantine"):
            raise ValueError(f"IngestConfig.oversize must be 'truncate' or 'quarantine', got {self.oversize!r}")
        if self.input_fingerprint not in ("stat", "sha256"):
            raise ValueError(f"IngestConfig.input_fingerprint must be 'stat' or 'sha256', got {self.input_fingerprint!r}")
        if min(self.rows_per_shard, self.shard_bytes, self.batch_rows, self.batch_chars, self.max_doc_bytes, self.max_html_bytes) <= 0:
            raise ValueError("IngestConfig sizes (rows_per_shard, shard_bytes, batch_*, max_*_bytes) must be positive")
        if not 0 <= self.max_internal_error_rate <= 1:
            raise ValueError(f"IngestConfig.max_internal_error_rate must be in [0, 1], got {self.max_internal_error_rate}")

    def reader_options(self) -> ReaderOptions:
        return ReaderOptions(
            max_record_bytes=self.max_record_bytes,
            max_html_bytes=self.max_html_bytes,
            oversize=self.oversize,
            favor_precision=self.favor_precision,
            include_tables=self.include_tables,
        )


# ----------------------------------------------------------------------------- worker


class _Funnel:
    """Conservation counts for the whole file plus per source."""

    def __init__(self) -> None:
        self.total = Counts()
        self.by_source: dict[str, Counts] = {}

    def _bump(self, source: str, kind: str, reason: str | None = None) -> None:
        for c in (self.total, self.by_source.setdefault(source, Counts())):
            c.input += 1
            if kind == "kept":
                c.kept += 1
            elif kind == "dropped":
                c.dropped[reason or "?"] = c.dropped.get(reason or "?", 0) + 1
            else:
                c.quarantined += 1

    def kept(self, source: str) -> None:
        self._bump(source, "kept")

    def quarantined(self, source: str) -> None:
        self._bump(source, "quarantined")

    def dropped(self, source: str, reason: str) -> None:
        self._bump(source, "dropped", reason)


class _SectionWriter:
    """Buffers rows of one section and writes a shard whenever the row or byte cap is reached."""

    def __init__(self, location: str, section: str, schema: pa.Schema, unit_index: int, max_rows: int, max_bytes: int) -> None:
        self.location, self.section, self.schema = location, section, schema
        self.unit_index, self.max_rows, self.max_bytes = unit_index, max_rows, max_bytes
        self.rows: list[dict[str, Any]] = []
        self.tables: list[pa.Table] = []
        self.buffered_rows = 0
        self.buffered_bytes = 0
        self.shards: list[ShardInfo] = []

    def add_rows(self, rows: list[dict[str, Any]], nbytes: int = 0) -> None:
        self.rows.extend(rows)
        self.buffered_rows += len(rows)
        self.buffered_bytes += nbytes
        self._maybe_flush()

    def add_table(self, table: pa.Table) -> None:
        self.tables.append(table)
        self.buffered_rows += table.num_rows
        self.buffered_bytes += table.nbytes
        self._maybe_flush()

    def _maybe_flush(self) -> None:
        if self.buffered_rows >= self.max_rows or self.buffered_bytes >= self.max_bytes:
            self.flush()

    def flush(self) -> None:
        parts = list(self.tables)
        if self.rows:
            parts.append(pa.Table.from_pylist(self.rows, schema=self.schema))
        self.rows, self.tables = [], []
        self.buffered_rows = self.buffered_bytes = 0
        if not parts:
            return
        table = pa.concat_tables(parts).combine_chunks()
        # never exceed max_rows in one shard (a flush can hold one batch beyond the cap)
        for start in range(0, table.num_rows, self.max_rows):
            chunk = table.slice(start, self.max_rows)
            name = f"part-{self.unit_index:05d}-{len(self.shards):04d}.parquet"
            self.shards.append(write_shard(self.location, self.section, len(self.shards), chunk, name=name))


class IngestFileProcessor:
    """Ray unit processor: ingest one input file into the staging version at ``location``."""

    def __init__(self, cfg: IngestConfig, location: str) -> None:
        self.cfg = cfg
        self.location = location
        self.opts = cfg.reader_options()

    def __call__(self, unit: dict[str, Any]) -> dict[str, Any]:
        cfg = self.cfg
        f = InputFile(unit["path"], unit["root"], unit["fmt"], unit.get("problem"))
        default_source: str = unit["source"]
        index = int(unit["index"])
        writers = {
            "data": _SectionWriter(self.location, "data", DOCUMENT_SCHEMA, index, cfg.rows_per_shard, cfg.shard_bytes),
            "dropped": _SectionWriter(self.location, "dropped", DROPPED_SCHEMA, index, cfg.rows_per_shard, cfg.shard_bytes),
            "quarantine": _SectionWriter(self.location, "quarantine", QUARANTINE_SCHEMA, index, cfg.rows_per_shard, cfg.shard_bytes),
        }
        funnel = _Funnel()
        reader_stats = ReaderStats()
        extra = {"invalid_utf8_replacements": 0, "docs_with_invalid_utf8": 0, "truncated_docs": 0, "oversize_quarantined": 0, "text_bytes_kept": 0}
        errors = InternalErrors()
        batch: list[RawDocument] = []
        batch_chars = 0

        def quarantine(q: QuarantinedRecord, source: str) -> None:
            writers["quarantine"].add_rows(
                [{"source_file": q.source_file, "offset": q.offset, "line": q.line, "error": q.error, "raw": q.raw}],
                len(q.raw or "") + len(q.error),
            )
            funnel.quarantined(source)
            if q.internal:
                errors.add(f"{q.source_file}:{q.line}", q.error, q.trace)
                errors.check_unit(STAGE, funnel.total.input, cfg.max_internal_error_rate)

        def drop(d: DroppedRecord) -> None:
            source = d.source or default_source
            writers["dropped"].add_rows(
                [{"id": d.id, "reason": d.reason, "text": d.text, "url": d.url, "source": source, "lang": None, "duplicate_of": None, "detail": d.detail}]
            )
            funnel.dropped(source, d.reason)

        def flush_batch() -> None:
            nonlocal batch_chars
            if batch:
                self._process_batch(batch, default_source, writers, funnel, extra)
                batch.clear()
                batch_chars = 0

        for item in read_input_file(f, self.opts, reader_stats):
            if isinstance(item, RawDocument):
                if utf8_length(item.text) > cfg.max_doc_bytes:
                    if cfg.oversize == "quarantine":
                        extra["oversize_quarantined"] += 1
                        quarantine(
                            QuarantinedRecord(
                                f.path, item.offset, item.line,
                                f"document {item.id!r} text is {utf8_length(item.text)} bytes, above max_doc_bytes={cfg.max_doc_bytes} (oversize=quarantine)",
                                item.text[:2000],
                            ),
                            item.source or default_source,
                        )
                        continue
                    item.text = truncate_utf8(item.text, cfg.max_doc_bytes)
                    extra["truncated_docs"] += 1
                batch.append(item)
                batch_chars += len(item.text)
                if len(batch) >= cfg.batch_rows or batch_chars >= cfg.batch_chars:
                    flush_batch()
            elif isinstance(item, DroppedRecord):
                drop(item)
            else:
                quarantine(item, default_source)
        flush_batch()
        for w in writers.values():
            w.flush()
        return {
            "path": f.name,
            "fmt": f.fmt,
            "counts": funnel.total.to_dict(),
            "by_source": {s: c.to_dict() for s, c in funnel.by_source.items()},
            "stats": {**extra, **reader_stats.to_dict(), "file_bytes": _file_bytes(f)},
            "internal_errors": errors.to_dict(),
            "shards": [s.to_dict() for w in writers.values() for s in w.shards],
        }

    def _process_batch(
        self, batch: list[RawDocument], default_source: str, writers: dict[str, _SectionWriter], funnel: _Funnel, extra: dict[str, int]
    ) -> None:
        texts = normalize_texts(pa.array([d.text for d in batch], pa.string()), self.cfg.normalize)
        empty = pc.equal(pc.utf8_length(texts), 0).to_pylist()
        sources = [d.source or default_source for d in batch]
        for d in batch:
            if d.invalid_utf8:
                extra["invalid_utf8_replacements"] += d.invalid_utf8
                extra["docs_with_invalid_utf8"] += 1
        keep_idx = [i for i, e in enumerate(empty) if not e]
        drop_idx = [i for i, e in enumerate(empty) if e]
        if keep_idx:
            idx = pa.array(keep_idx, pa.int64())
            kept_texts = texts.take(idx)
            table = pa.Table.from_arrays(
                [
                    pa.array([batch[i].id for i in keep_idx], pa.string()),
                    kept_texts,
                    pa.array([batch[i].url for i in keep_idx], pa.string()),
                    pa.array([sources[i] for i in keep_idx], pa.string()),
                    pa.nulls(len(keep_idx), pa.string()),
                    pa.nulls(len(keep_idx), pa.float32()),
                    pa.array([_metadata_json(batch[i].metadata) for i in keep_idx], pa.string()),
                ],
                schema=DOCUMENT_SCHEMA,
            )
            extra["text_bytes_kept"] += pc.sum(pc.binary_length(kept_texts)).as_py() or 0
            writers["data"].add_table(table)
            for i in keep_idx:
                funnel.kept(sources[i])
        if drop_idx:
            writers["dropped"].add_rows(
                [
                    {"id": batch[i].id, "reason": EMPTY_TEXT, "text": batch[i].text[:1000], "url": batch[i].url, "source": sources[i],
                     "lang": None, "duplicate_of": None, "detail": "text is empty after normalisation"}
                    for i in drop_idx
                ]
            )
            for i in drop_idx:
                funnel.dropped(sources[i], EMPTY_TEXT)


def _file_bytes(f: InputFile) -> int:
    if f.problem:
        return 0  # never stat a link's target outside the root
    try:
        return os.path.getsize(f.path)
    except OSError:  # vanished since the listing (its reader quarantined it)
        return 0


def _finite(value: Any) -> Any:
    """``value`` with non-finite floats (NaN, Infinity: not JSON) as the strings JSON parsers write."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _metadata_json(metadata: dict[str, Any] | None) -> str | None:
    """Strict JSON of a record's metadata (valid UTF-8, no NaN/Infinity)."""
    if not metadata:
        return None
    try:
        text = json.dumps(metadata, ensure_ascii=False, default=str, sort_keys=True, allow_nan=False)
    except ValueError:  # NaN / Infinity somewhere inside
        metadata = _finite(metadata)
        text = json.dumps(metadata, ensure_ascii=False, default=str, sort_keys=True)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates nested inside metadata values
        text = json.dumps(metadata, ensure_ascii=True, default=str, sort_keys=True)
    return text


# ----------------------------------------------------------------------------- driver


def file_fingerprint(path: str, how: str, problem: str | None = None) -> str:
    """Digest of one input file for the content key (see module docstring); a path the listing
    refused (a link out of the root, a dangling link) is keyed by its path and the problem."""
    if problem:
        return "problem:" + hashlib.sha256(os.fsencode(os.path.abspath(path)) + f"|{problem}".encode()).hexdigest()
    if how == "sha256":
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        return "sha256:" + h.hexdigest()
    st = os.stat(path)
    return "stat:" + hashlib.sha256(os.fsencode(os.path.abspath(path)) + f"|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()


def _merge_funnels(into: dict[str, dict[str, Any]], name: str, c: dict[str, Any]) -> None:
    total = Counts.from_dict(into.get(name, {})).add(Counts.from_dict(c))
    into[name] = {"input": total.input, "kept": total.kept, "dropped": dict(sorted(total.dropped.items())), "quarantined": total.quarantined}


def run_ingest(
    inputs: list[str],
    out: str,
    cfg: IngestConfig | None = None,
    *,
    source: str | None = None,
    executor: str = "ray",
    ray_address: str | None = None,
    force: bool = False,
    progress: ProgressFn | None = None,
) -> str:
    """Ingest files/directories/globs into a new version under ``out``; return its URI.

    ``source`` names the origin of records that carry no ``dump``/``source`` field (default: the
    name of each file's parent directory). A rerun with unchanged inputs, config and code is a
    no-op; ``force`` recomputes anyway. ``progress`` gets an event as each input file finishes.
    """
    cfg = cfg or IngestConfig()
    files, skipped = list_input_files(list(inputs))
    skipped = [printable_path(p) for p in skipped]
    refs = [InputRef(uri=f.name, digest=file_fingerprint(f.path, cfg.input_fingerprint, f.problem)) for f in files]
    config = {**asdict(cfg), "source": source}
    config.pop("max_internal_error_rate")  # decides whether the stage succeeds, never what it writes
    writer = DatasetWriter(out, kind="documents", stage=STAGE, config=config, inputs=refs,
                           code_digest=stage_code_digest("ingest"), force=force)
    if writer.reuse():
        log.info("ingest: %s is already complete (same inputs and config)", writer.location)
        return writer.location
    units = [
        {
            "index": i,
            "path": f.path,
            "root": f.root,
            "fmt": f.fmt,
            "problem": f.problem,
            "source": source or os.path.basename(os.path.dirname(f.name)) or "unknown",
        }
        for i, f in enumerate(files)
    ]
    meter = ProgressMeter(progress, "ingest", len(units), unit="files", item="docs")
    results = map_units(
        IngestFileProcessor,
        units,
        ctor_kwargs={"cfg": cfg, "location": writer.location},
        executor=executor,
        address=ray_address,
        on_result=lambda r: meter.advance(items=r["counts"]["input"]),
    )
    counts = Counts()
    by_source: dict[str, dict[str, Any]] = {}
    by_format: dict[str, dict[str, Any]] = {}
    shards: list[ShardInfo] = []
    totals: dict[str, int] = {}
    dict_stats: dict[str, dict[str, int]] = {}
    empty_files: list[str] = []
    by_file: dict[str, dict[str, Any]] = {}
    errors = InternalErrors()
    for r in results:
        errors = errors.merge(InternalErrors.from_dict(r["internal_errors"]))
        c = Counts.from_dict(r["counts"])
        counts = counts.add(c)
        for name, sc in r["by_source"].items():
            _merge_funnels(by_source, name, sc)
        _merge_funnels(by_format, r["fmt"], r["counts"])
        _merge_funnels(by_file, r["path"], r["counts"])
        shards.extend(ShardInfo.from_dict(s) for s in r["shards"])
        for k, v in r["stats"].items():
            if isinstance(v, dict):  # skipped_records, decoded_as: counts by name
                into = dict_stats.setdefault(k, {})
                for name, n in v.items():
                    into[name] = into.get(name, 0) + n
            else:
                totals[k] = totals.get(k, 0) + int(v)
        if c.input == 0:
            empty_files.append(r["path"])
    by_lang: dict[str, dict[str, Any]] = {}
    _merge_funnels(by_lang, "unknown", counts.to_dict())  # language is identified by a later stage
    stats: dict[str, Any] = {
        "by_source": by_source,
        "by_lang": by_lang,
        "by_format": by_format,
        "files": len(files),
        "empty_files": empty_files[:100],
        "skipped_files": skipped[:100],
        "num_skipped_files": len(skipped),
        "warc_skipped_records": dict(sorted(dict_stats.get("skipped_records", {}).items())),
        "decoded_as": dict(sorted(dict_stats.get("decoded_as", {}).items())),
        "unread_paths": sum(1 for f in files if f.problem),
        **errors.stats(cfg.max_internal_error_rate),
        **dict(sorted(totals.items())),
    }
    if len(by_file) <= MAX_FILES_IN_STATS:
        stats["by_file"] = by_file
    errors.check_total(STAGE, counts.input, cfg.max_internal_error_rate)
    writer.commit(shards, counts, stats)
    log.info("ingest: %s kept %d of %d", writer.location, counts.kept, counts.input)
    return writer.location
