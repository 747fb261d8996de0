"""Dedup stage: exact, URL and MinHash near-duplicate removal across all input dumps together.

    from tasks.dedup import DedupConfig, run_dedup
    uri = run_dedup(["runs/filter/dump-01", "runs/filter/dump-02"], "runs/dedup", DedupConfig())
    uri = run_dedup(["runs/filter/dump-03"], "runs/dedup-03", DedupConfig(), against="runs/dedup/index")

Output (``OUT/dedup-<key>/``): kept documents under ``data/``, dropped ones under ``dropped/``
with ``reason`` (``exact_dup``, ``url_dup``, ``near_dup``) and ``duplicate_of`` (id of the kept
document). Beside it, ``OUT/index/dedup_index-<key>/`` (kind ``dedup_index``): node key, id,
exact hash, URL hash, band keys and signature of every kept document (and of the ``against``
index), so the next dump is deduplicated against everything kept so far without recomputing
old dumps. Intermediates live in ``OUT/_work/dedup-<key>/`` until the run succeeds (kept with
``keep_intermediates``); a rerun after a crash skips every complete phase unit.

Stats: ``by_lang``/``by_source`` funnels, ``dedup_by_dumps`` (DeepSeek Table 1: removal when
deduplicating the first 1, 2, 4, ... dumps together), ``cluster_sizes``, ``minhash`` (the implied
threshold). ``manifest.run["phases"]``: units computed / skipped, CPU seconds and peak RSS per
phase (not part of the manifest digest: a resumed run publishes the digest of a clean run).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from dedup.intermediates import PhaseStore
from dedup.minhash import MinhashConfig
from dedup.pipeline import filter_unit, removal_by_dumps, run_phases  # noqa: F401  (filter_unit: re-export for tests)
from dedup.ray_ops import run_units
from storage import Counts, DatasetError, DatasetWriter, ShardInfo, open_dataset, write_shard
from storage.uri import join
from tasks.code_digest import stage_code_digest

log = logging.getLogger(__name__)


@dataclass
class DedupConfig:
    minhash: MinhashConfig = field(default_factory=MinhashConfig)
    url_dedup: bool = True  # also drop documents whose normalised URL was already kept
    partitions: int = 8  # band/key/node partitions (files per phase); more = less memory per unit
    report_by_dumps: bool = True  # DeepSeek Table 1 report (reruns the graph phases per subset)
    workers: int | None = None  # concurrent Ray workers (default: all CPUs); does not change the output
    keep_intermediates: bool = False  # keep OUT/_work/dedup-<key> after success

    def __post_init__(self) -> None:
        if self.partitions < 1:
            raise ValueError(f"DedupConfig.partitions must be >= 1, got {self.partitions}")

    def output_config(self) -> dict[str, Any]:
        """What determines the output (the content key): not workers or keep_intermediates."""
        return {"minhash": asdict(self.minhash), "url_dedup": self.url_dedup, "partitions": self.partitions,
                "report_by_dumps": self.report_by_dumps}


def _index_compatible(index_cfg: dict[str, Any], cfg: MinhashConfig, where: str) -> None:
    mine = asdict(cfg)
    for k in ("n_grams", "char_n_grams", "num_perm", "bands", "rows", "seed"):
        if index_cfg.get(k) != mine[k]:
            raise DatasetError(
                f"{where}: dedup index was built with minhash.{k}={index_cfg.get(k)!r}, this run uses {mine[k]!r}; "
                f"use the same MinHash settings as the index (or rebuild the index from all dumps)"
            )


def _copy_index_unit(unit: dict[str, Any]) -> dict[str, Any]:
    src = open_dataset(unit["uri"])
    shard = ShardInfo.from_dict(unit["info"])
    info = write_shard(unit["dest"], "data", 0, src.read_shard(shard), name=f"prev-{unit['n']:05d}.parquet", attrs=shard.attrs)
    return info.to_dict()


def run_dedup(
    inputs: list[str],
    out: str,
    cfg: DedupConfig | None = None,
    *,
    against: str | None = None,
    executor: str = "ray",
    ray_address: str | None = None,
    force: bool = False,
) -> str:
    """Deduplicate ``inputs`` together (and against ``against``); return the published version URI.

    A rerun with the same inputs, config and code is a no-op (after a crash it resumes from the
    complete phase units); ``force`` recomputes every phase into a fresh version."""
    cfg = cfg or DedupConfig()
    if not inputs:
        raise ValueError("run_dedup: give at least one input dataset")
    datasets = [open_dataset(u, kind="documents") for u in inputs]
    index = open_dataset(against, kind="dedup_index") if against else None
    if index is not None:
        _index_compatible(index.manifest.config.get("minhash", {}), cfg.minhash, index.uri)
    refs = [d.ref() for d in datasets] + ([index.ref()] if index else [])
    code = stage_code_digest("dedup")
    writer = DatasetWriter(out, kind="documents", stage="dedup", config=cfg.output_config(), inputs=refs,
                           code_digest=code, force=force)
    if writer.reuse():
        return writer.location
    print(f"dedup: {cfg.minhash.describe()}", flush=True)

    shards: list[dict[str, Any]] = []
    if index is not None:
        for s in index.shards("data"):
            shards.append({"kind": "index", "uri": index.uri, "info": s.to_dict(), "lo": int(s.attrs["lo"]), "hi": int(s.attrs["hi"])})
    next_doc = int(index.manifest.stats.get("next_doc_index", 0)) if index else 0
    for ds in datasets:
        for s in ds.shards("data"):
            shards.append({"kind": "input", "uri": ds.uri, "info": s.to_dict(), "lo": next_doc, "hi": next_doc + s.rows})
            next_doc += s.rows
    shards.sort(key=lambda x: x["lo"])
    for i, s in enumerate(shards):
        s["unit"] = i

    index_writer = DatasetWriter(
        join(out, "index"), kind="dedup_index", stage="dedup_index", config={"minhash": asdict(cfg.minhash)}, inputs=refs, key=writer.key,
        code_digest=code, force=force,
    )
    work = join(out, "_work", writer.name)  # a forced run gets its own, so it recomputes every phase
    ctx = {
        "work": work, "minhash": asdict(cfg.minhash), "partitions": cfg.partitions, "shards": shards, "prefix": "",
        "url_dedup": cfg.url_dedup, "out_location": writer.location, "index_location": index_writer.location,
    }
    if executor == "ray":
        from tasks.runner import init_ray

        init_ray(ray_address)
    result = run_phases(ctx, executor=executor, workers=cfg.workers)
    by_dumps = removal_by_dumps(ctx, result["docs_by_source"], executor, cfg.workers) if cfg.report_by_dumps else []

    # index: previous index shards (copied, not recomputed) + this run's kept documents
    copies = [
        {"uri": index.uri, "info": s.to_dict(), "dest": index_writer.location, "n": n} for n, s in enumerate(index.shards("data"))
    ] if index else []
    index_shards = [ShardInfo.from_dict(x) for x in run_units(_copy_index_unit, copies, executor=executor, max_workers=cfg.workers)]
    index_shards += [ShardInfo.from_dict(r["index_shard"]) for r in result["filter"]]
    index_rows = sum(s.rows for s in index_shards)
    index_writer.commit(
        index_shards, Counts(input=index_rows, kept=index_rows),
        stats={"next_doc_index": next_doc, "minhash": asdict(cfg.minhash), "documents": writer.location},
    )

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
        "dedup_by_dumps": by_dumps,
        "cluster_sizes": result["cluster_sizes"],
        "minhash": {"config": asdict(cfg.minhash), "threshold": round(cfg.minhash.threshold, 4), "describe": cfg.minhash.describe()},
        "candidate_pairs": result["candidate_pairs"],
        "verified_pairs": result["verified_pairs"],
        "components_rounds": result["rounds"],
        "index": index_writer.location,
        "against": index.uri if index else None,
    }
    # units computed / skipped and CPU seconds per phase differ between a resumed and a clean run:
    # kept out of the manifest digest (manifest.run), so both publish the same digest
    writer.commit(out_shards, counts, stats, run={"phases": result["phases"]})
    if not cfg.keep_intermediates:
        PhaseStore(work, "").clear()
    return writer.location
