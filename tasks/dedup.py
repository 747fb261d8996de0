"""Dedup stage: exact, URL and MinHash near-duplicate removal across all input dumps together.

    from tasks.dedup import DedupConfig, run_dedup
    uri = run_dedup(["runs/filter/dump-01", "runs/filter/dump-02"], "runs/dedup", DedupConfig())
    uri = run_dedup(["runs/filter/dump-03"], "runs/dedup-03", DedupConfig(), index="runs/dedup-index")

Output (``OUT/dedup-<key>/``): kept documents under ``data/``, dropped ones under ``dropped/``
with ``reason`` (``exact_dup``, ``url_dup``, ``near_dup``) and ``duplicate_of`` (id of the kept
document). The documents kept are also appended to a dedup index (:mod:`dedup.index`): the run
reads every segment of ``index`` (documents kept by earlier runs, never recomputed), writes its
own segment and a new index manifest, under the index lock, so the next dump is deduplicated
against everything kept so far at a cost that does not grow with the history. Without
``index`` the run gets a fresh one of its own at ``OUT/index/dedup-<key>/``.
``longterm dedup-index compact INDEX`` merges segments. Intermediates live in
``OUT/_work/dedup-<key>/`` until the run succeeds (kept with ``keep_intermediates``); a rerun
after a crash skips every complete phase unit, and a rerun of a finished run is a no-op (the
index is not part of the key, only its location: a run never deduplicates against its own segment).

Stats: ``by_lang``/``by_source`` funnels, ``dedup_by_dumps`` (DeepSeek Table 1: removal when
deduplicating the first 1, 2, 4, ... dumps together, from the clusters), ``cluster_sizes``,
``minhash`` (the implied threshold). ``manifest.run["phases"]``: units computed / skipped, CPU
seconds and peak RSS per phase; ``manifest.run["index"]``: segments read, index bytes (not part of
the manifest digest: a resumed run publishes the digest of a clean run).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from dedup.index import IndexLock, empty_manifest, index_doc_shards, load_segment, read_manifest, write_manifest, write_segment
from dedup.intermediates import PhaseStore
from dedup.minhash import MinhashConfig
from dedup.pipeline import filter_unit, run_phases  # noqa: F401  (filter_unit: re-export for tests)
from storage import Counts, DatasetError, DatasetWriter, ShardInfo, open_dataset
from storage.uri import filesystem_for, join
from tasks.code_digest import stage_code_digest
from tasks.executor import check_executor, init_ray, map_units
from tasks.progress import ProgressFn, ProgressMeter

log = logging.getLogger(__name__)


@dataclass
class DedupConfig:
    minhash: MinhashConfig = field(default_factory=MinhashConfig)
    url_dedup: bool = True  # also drop documents whose normalised URL was already kept
    partitions: int = 8  # band/key/node partitions (files per phase); more = less memory per unit
    report_by_dumps: bool = True  # DeepSeek Table 1 report (from the clusters; costs nothing extra)
    index_shingles: int = 256  # shingle hashes kept per indexed doc for verification (bottom-k; exact up to k)
    workers: int | None = None  # concurrent Ray workers (default: all CPUs); does not change the output
    keep_intermediates: bool = False  # keep OUT/_work/dedup-<key> after success

    def __post_init__(self) -> None:
        if self.partitions < 1:
            raise ValueError(f"DedupConfig.partitions must be >= 1, got {self.partitions}")
        if self.index_shingles < 1:
            raise ValueError(f"DedupConfig.index_shingles must be >= 1, got {self.index_shingles}")

    def output_config(self) -> dict[str, Any]:
        """What determines the output (the content key): not workers or keep_intermediates."""
        return {"minhash": asdict(self.minhash), "url_dedup": self.url_dedup, "partitions": self.partitions,
                "report_by_dumps": self.report_by_dumps, "index_shingles": self.index_shingles}


def _index_compatible(m: dict[str, Any], cfg: DedupConfig, where: str) -> None:
    mine = asdict(cfg.minhash)
    for k in ("n_grams", "char_n_grams", "num_perm", "bands", "rows", "seed", "verify_jaccard"):
        if m["minhash"].get(k) != mine[k]:
            raise DatasetError(
                f"{where}: dedup index was built with minhash.{k}={m['minhash'].get(k)!r}, this run uses {mine[k]!r}; "
                f"use the same MinHash settings as the index (or rebuild the index from all dumps)"
            )
    for k in ("partitions", "index_shingles"):
        if m[k] != getattr(cfg, k):
            raise DatasetError(f"{where}: dedup index was built with {k}={m[k]}, this run uses {getattr(cfg, k)}; use the index's")


def _abs(uri: str) -> str:
    _, path = filesystem_for(uri)
    return path if "://" not in uri else uri


def run_dedup(
    inputs: list[str],
    out: str,
    cfg: DedupConfig | None = None,
    *,
    index: str | None = None,
    executor: str = "ray",
    ray_address: str | None = None,
    force: bool = False,
    lock_wait_s: float = 600.0,
    progress: ProgressFn | None = None,
) -> str:
    """Deduplicate ``inputs`` together and against the dedup index ``index`` (appended to); return the version URI.

    A rerun with the same inputs, config, index location and code is a no-op (after a crash it
    resumes from the complete phase units); ``force`` recomputes every phase into a fresh version
    (its segment replaces the earlier run's in the index). ``lock_wait_s``: how long to wait for
    another run holding the index lock before failing. ``progress``: called as each unit of each phase
    finishes (tasks/progress.py: ``dedup: 3/8 signatures units``, docs/s where the phase counts docs, ETA)."""
    cfg = cfg or DedupConfig()
    if not inputs:
        raise ValueError("run_dedup: give at least one input dataset")
    datasets = [open_dataset(u, kind="documents") for u in inputs]
    refs = [d.ref() for d in datasets]
    code = stage_code_digest("dedup")
    config = cfg.output_config() | ({"index": _abs(index)} if index else {})
    writer = DatasetWriter(out, kind="documents", stage="dedup", config=config, inputs=refs, code_digest=code, force=force)
    if writer.reuse():
        return writer.location
    root = index or join(out, "index", writer.name)
    with IndexLock(root, wait_s=lock_wait_s, purpose=f"dedup {writer.location}"):
        return _run_locked(datasets, writer, root, cfg, executor, ray_address, progress)


class PhaseMapper:
    """The ``map_units`` callable dedup/ gets (it never imports Ray or knows of progress): each call runs one
    phase's units on this stage's executor and reports units done / total of that phase (docs where its
    results count them: signatures ``docs``, filter ``input``)."""

    def __init__(self, executor: str, concurrency: int | None, progress: ProgressFn | None) -> None:
        self.executor, self.concurrency, self.progress = executor, concurrency, progress

    def __call__(self, fn: Any, units: Any) -> list[Any]:
        phase = getattr(fn, "phase", "dedup")
        if units and isinstance(units[0], dict) and "round" in units[0]:
            phase = f"{phase} (round {units[0]['round'] + 1})"
        meter = ProgressMeter(self.progress, "dedup", total=len(units), unit=f"{phase} units", item="docs")

        def on_result(r: dict[str, Any]) -> None:
            meter.advance(items=r.get("docs", r.get("input", 0)) if isinstance(r, dict) else 0)

        return map_units(fn, units, executor=self.executor, concurrency=self.concurrency,
                         on_result=on_result if self.progress is not None else None)


def _run_locked(datasets: list[Any], writer: DatasetWriter, root: str, cfg: DedupConfig, executor: str, ray_address: str | None,
                progress: ProgressFn | None = None) -> str:
    m = read_manifest(root) or empty_manifest(asdict(cfg.minhash), cfg.partitions, cfg.index_shingles)
    _index_compatible(m, cfg, root)
    own = [e for e in m["segments"] if writer.key in e["runs"]]
    if any(len(e["runs"]) > 1 for e in own):
        raise DatasetError(
            f"{root}: this run's documents ({writer.key}) are already in a compacted segment of the index; "
            f"its output {writer.location} was not published. Rerun with --force after rebuilding the index, or drop this output"
        )
    base = [e for e in m["segments"] if writer.key not in e["runs"]]  # never deduplicate against our own segment
    print(f"dedup: {cfg.minhash.describe()}; index {root}: {len(base)} segment(s), {sum(e['rows'] for e in base):,} docs", flush=True)

    shards: list[dict[str, Any]] = []
    segments = []
    for e in base:
        seg = load_segment(root, e)
        segments.append({"name": seg["name"], "bands": seg["bands"], "keys": seg["keys"]})
        shards += index_doc_shards(seg)  # consecutive docs files of a segment: one doc shard
    # a rerun after a crash between the index commit and the output commit keeps its doc-index range
    next_doc = int(own[0]["lo"]) if own else int(m["next_doc_index"])
    for ds in datasets:
        for s in ds.shards("data"):
            shards.append({"kind": "input", "uri": ds.uri, "info": s.to_dict(), "lo": next_doc, "hi": next_doc + s.rows})
            next_doc += s.rows
    shards.sort(key=lambda x: x["lo"])
    for i, s in enumerate(shards):
        s["unit"] = i

    work = join(writer.root, "_work", writer.name)  # a forced run gets its own, so it recomputes every phase
    ctx = {
        "work": work, "minhash": asdict(cfg.minhash), "partitions": cfg.partitions, "shards": shards,
        "url_dedup": cfg.url_dedup, "out_location": writer.location, "index_root": root, "segments": segments,
        "segment_out": writer.name, "index_shingles": cfg.index_shingles,
    }
    check_executor(executor)
    if executor == "ray":
        init_ray(ray_address)
    # dedup/ never imports Ray: the phases get this stage's executor as a map_units callable
    result = run_phases(ctx, PhaseMapper(executor, cfg.workers, progress))

    # the index first (segment.json, then the manifest), then the output: a crash in between
    # reruns this run against the index without its own segment
    seg = result["segment"]
    entry = write_segment(root, writer.name, [writer.key], seg["bands"], seg["keys"], seg["docs"])
    new_manifest = {**m, "version": m["version"] + 1, "segments": base + [entry], "next_doc_index": max(int(m["next_doc_index"]), next_doc)}
    write_manifest(root, new_manifest)

    counts = Counts()
    by_lang: dict[str, Any] = {}
    by_source: dict[str, Any] = {}
    out_shards: list[ShardInfo] = []
    for r in result["filter"]:
        counts = counts.add(Counts(input=r["input"], kept=r["kept"], dropped=r["dropped"]))
        out_shards += [ShardInfo.from_dict(x) for x in r["shards"]]
        for agg, part in ((by_lang, r["by_lang"]), (by_source, r["by_source"])):
            for name, c in part.items():
                a = agg.setdefault(name, {"input": 0, "kept": 0, "dropped": {}, "quarantined": 0})
                a["input"] += c["input"]
                a["kept"] += c["kept"]
                for k, v in c["dropped"].items():
                    a["dropped"][k] = a["dropped"].get(k, 0) + v
    stats = {
        "by_lang": by_lang,
        "by_source": by_source,
        "dedup_by_dumps": result["dedup_by_dumps"] if cfg.report_by_dumps else [],
        "cluster_sizes": result["cluster_sizes"],
        "minhash": {"config": asdict(cfg.minhash), "threshold": round(cfg.minhash.threshold, 4), "describe": cfg.minhash.describe()},
        "candidate_pairs": result["candidate_pairs"],
        "verified_pairs": result["verified_pairs"],
        "components_rounds": result["rounds"],
        "index_segment": writer.name,
    }
    run = {
        "phases": result["phases"],
        "index": {"root": root, "segments_read": len(base), "docs_read": sum(e["rows"] for e in base), "segment_bytes": entry["bytes"],
                  "index_bytes": sum(e["bytes"] for e in new_manifest["segments"]), "manifest_version": new_manifest["version"]},
    }
    # units computed / skipped and CPU seconds per phase differ between a resumed and a clean run:
    # kept out of the manifest digest (manifest.run), so both publish the same digest
    writer.commit(out_shards, counts, stats, run=run)
    if not cfg.keep_intermediates:
        PhaseStore(work, "").clear()
    return writer.location
