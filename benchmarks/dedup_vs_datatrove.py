"""Whole-stage throughput and memory: our dedup vs datatrove's 4-stage MinHash, side by side.

    python -m benchmarks.dedup_vs_datatrove --input /tmp/demo100k/ingest --workers 2
    python -m benchmarks.dedup_vs_datatrove --input DATASET --only ours --workers 1   # 1 vs 2 Ray workers
    python -m benchmarks.dedup_vs_datatrove --input DATASET --half                  # first half of the shards

Both sides read the same document dataset (parquet shards), use 5-gram shingles and the same
permutations / bands (ours: ``MinhashConfig`` defaults, 20 bands x 6 rows; datatrove:
``num_buckets=20, hashes_per_bucket=6``) and the same number of worker processes. Each side runs
in its own child process (Ray workers at niceness 0, not Ray's default 15, so that a
shared machine does not starve them). Reported: wall seconds (Ray start excluded for ours), CPU seconds of all
workers, docs/s per core (= docs / (wall x workers)), docs per CPU second, and peak RSS per worker.
Ours does more work than datatrove's pipeline: exact-text and URL dedup and true-Jaccard
verification of every candidate pair. datatrove tokenises every doc with its English word
tokenizer (one language per pipeline).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _subset(uri: str, half: bool, work: str) -> tuple[str, list[str], int]:
    """(dataset uri, shard files, docs) of the input, or of its first half of shards."""
    from storage import Counts, DatasetWriter, open_dataset, write_shard

    ds = open_dataset(uri, kind="documents")
    shards = ds.shards("data")
    if half:
        shards = shards[: max(1, len(shards) // 2)]
        w = DatasetWriter(f"{work}/half", kind="documents", stage="half", config={"of": ds.digest})
        infos = [write_shard(w.location, "data", i, ds.read_shard(s)) for i, s in enumerate(shards)]
        n = sum(s.rows for s in infos)
        w.commit(infos, Counts(input=n, kept=n))
        ds = open_dataset(w.location)
        shards = ds.shards("data")
    return ds.uri, [ds.shard_uri(s) for s in shards], sum(s.rows for s in shards)


def run_ours(uri: str, workers: int, work: str) -> dict[str, Any]:
    from storage import open_dataset
    from tasks.dedup import DedupConfig, run_dedup
    from tasks.executor import init_ray

    init_ray(num_cpus=workers)
    cpu0 = time.process_time()
    t0 = time.time()
    out = run_dedup([uri], f"{work}/ours", DedupConfig(workers=workers, report_by_dumps=False), executor="ray")
    wall = time.time() - t0
    m = open_dataset(out).manifest
    phases = m.run["phases"]
    return {
        "wall_s": wall,
        "cpu_s": sum(p["cpu_s"] for p in phases.values()) + time.process_time() - cpu0,
        "peak_rss_worker_mb": max(p["peak_rss_mb"] for p in phases.values()),
        "peak_rss_driver_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "removed": m.counts.dropped_total,
        "removed_by_reason": m.counts.dropped,
        "phases": {k: {"cpu_s": v["cpu_s"], "peak_rss_mb": v["peak_rss_mb"]} for k, v in phases.items()},
        "output_digest": output_digest(out),
    }


def output_digest(uri: str) -> str:
    """sha256 of the decisions: sorted kept ids and sorted (id, reason, duplicate_of) of dropped docs.

    Equal digests = the same clusters / kept documents (a speed-up must not change them)."""
    import hashlib

    from storage import open_dataset

    ds = open_dataset(uri)
    kept = sorted(i for s in ds.shards("data") for i in ds.read_shard(s, columns=["id"]).column("id").to_pylist())
    dropped = sorted(
        tuple(r.values())
        for s in ds.shards("dropped")
        for r in ds.read_shard(s, columns=["id", "reason", "duplicate_of"]).to_pylist()
    )
    return hashlib.sha256(json.dumps([kept, dropped]).encode()).hexdigest()[:16]


def run_datatrove(files: list[str], workers: int, work: str) -> dict[str, Any]:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup import MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter, MinhashDedupSignature
    from datatrove.pipeline.dedup.minhash import MinhashConfig
    from datatrove.pipeline.readers import ParquetReader
    from datatrove.pipeline.writers import ParquetWriter

    folder = os.path.dirname(files[0])
    cfg = MinhashConfig(n_grams=5, num_buckets=20, hashes_per_bucket=6, seed=1)
    tasks = len(files)

    def reader() -> ParquetReader:
        return ParquetReader(folder, glob_pattern="*.parquet", text_key="text", id_key="id")

    t0 = time.time()
    stages = [
        LocalPipelineExecutor([reader(), MinhashDedupSignature(f"{work}/dt/sigs", config=cfg, language="en")],
                              tasks=tasks, workers=workers, logging_dir=f"{work}/dt/logs/1", skip_completed=False),
        LocalPipelineExecutor([MinhashDedupBuckets(f"{work}/dt/sigs", f"{work}/dt/buckets", config=cfg)],
                              tasks=cfg.num_buckets, workers=workers, logging_dir=f"{work}/dt/logs/2", skip_completed=False),
        LocalPipelineExecutor([MinhashDedupCluster(f"{work}/dt/buckets", f"{work}/dt/remove", config=cfg)],
                              tasks=1, workers=1, logging_dir=f"{work}/dt/logs/3", skip_completed=False),
        LocalPipelineExecutor([reader(), MinhashDedupFilter(f"{work}/dt/remove", exclusion_writer=ParquetWriter(f"{work}/dt/removed")),
                               ParquetWriter(f"{work}/dt/out")],
                              tasks=tasks, workers=workers, logging_dir=f"{work}/dt/logs/4", skip_completed=False),
    ]
    for st in stages:
        st.run()
    wall = time.time() - t0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    me = resource.getrusage(resource.RUSAGE_SELF)
    removed = 0
    for f in os.listdir(f"{work}/dt/removed") if os.path.isdir(f"{work}/dt/removed") else []:
        import pyarrow.parquet as pq

        removed += pq.read_metadata(f"{work}/dt/removed/{f}").num_rows
    return {
        "wall_s": wall,
        "cpu_s": ru.ru_utime + ru.ru_stime + me.ru_utime + me.ru_stime,
        "peak_rss_worker_mb": max(ru.ru_maxrss, me.ru_maxrss) / 1024,
        "removed": removed,
    }


class TreeSampler:
    """Samples /proc every 0.5 s: CPU seconds and peak RSS of every descendant of ``root`` (Linux).

    Needed because datatrove's workers are grandchildren (forkserver) that are never reaped into
    ``RUSAGE_CHILDREN``; loses at most the last 0.5 s of each process.
    """

    def __init__(self, root: int) -> None:
        import threading

        self.root, self.cpu, self.rss = root, {}, {}
        self.tick, self.page = os.sysconf("SC_CLK_TCK"), os.sysconf("SC_PAGE_SIZE")
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stop.wait(0.5):
            stats = {}
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    try:
                        with open(f"/proc/{pid}/stat") as f:
                            fields = f.read().rsplit(")", 1)[1].split()
                    except OSError:
                        continue
                    stats[int(pid)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / self.tick, int(fields[21]) * self.page)
            tree, frontier = set(), {self.root}
            while frontier:
                tree |= frontier
                frontier = {p for p, (pp, _, _) in stats.items() if pp in frontier and p not in tree}
            for p in tree:
                _, cpu, rss = stats.get(p, (0, 0.0, 0))
                self.cpu[p] = max(self.cpu.get(p, 0.0), cpu)
                self.rss[p] = max(self.rss.get(p, 0), rss)

    def finish(self) -> tuple[float, float]:
        self.stop.set()
        self.thread.join()
        return sum(self.cpu.values()), max(self.rss.values(), default=0) / (1 << 20)


def child(args: argparse.Namespace) -> None:
    work = tempfile.mkdtemp(prefix=f"dedup-bench-{args.child}-", dir=args.tmp)
    try:
        uri, files, docs = _subset(args.input, args.half, work)
        res = run_ours(uri, args.workers, work) if args.child == "ours" else run_datatrove(files, args.workers, work)
        res.update({"system": args.child, "docs": docs, "workers": args.workers})
        res["docs_per_s_per_core"] = docs / (res["wall_s"] * args.workers)
        res["docs_per_cpu_s"] = docs / res["cpu_s"]
        print("RESULT " + json.dumps(res), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", required=True, help="document dataset (e.g. the ingested demo crawl)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--only", choices=["ours", "datatrove"], default=None)
    ap.add_argument("--half", action="store_true", help="use the first half of the input's shards")
    ap.add_argument("--tmp", default=None, help="scratch directory")
    ap.add_argument("--expect-digest", default=None, help="fail unless our output digest (kept ids, dropped id/reason/duplicate_of) equals this")
    ap.add_argument("--child", choices=["ours", "datatrove"], default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    results = []
    for system in [args.only] if args.only else ["ours", "datatrove"]:
        cmd = [sys.executable, "-m", "benchmarks.dedup_vs_datatrove", "--input", args.input, "--workers", str(args.workers), "--child", system]
        cmd += ["--half"] if args.half else []
        cmd += ["--tmp", args.tmp] if args.tmp else []
        popen = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env={"RAY_worker_niceness": "0", **os.environ, "RAY_AUTH_MODE": "disabled"})
        sampler = TreeSampler(popen.pid)
        stdout, stderr = popen.communicate()
        tree_cpu, tree_rss = sampler.finish()
        proc = subprocess.CompletedProcess(cmd, popen.returncode, stdout, stderr)
        lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
        if not lines:
            print(proc.stdout[-3000:], proc.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"{system} failed (exit {proc.returncode})")
        res = json.loads(lines[0][7:])
        # whole process tree, sampled from /proc (includes Ray's own daemons for ours)
        res["tree_cpu_s"], res["tree_peak_rss_mb"] = tree_cpu, tree_rss
        if system == "datatrove":
            res["cpu_s"] = tree_cpu
            res["peak_rss_worker_mb"] = tree_rss
            res["docs_per_cpu_s"] = res["docs"] / res["cpu_s"]
        results.append(res)
    print(f"{'system':10} {'docs':>8} {'workers':>7} {'wall s':>8} {'cpu s':>8} {'docs/s/core':>12} {'docs/cpu-s':>11} {'peak RSS/worker MB':>19} {'removed':>8}")
    for r in results:
        print(f"{r['system']:10} {r['docs']:>8} {r['workers']:>7} {r['wall_s']:>8.1f} {r['cpu_s']:>8.1f} {r['docs_per_s_per_core']:>12.1f} "
              f"{r['docs_per_cpu_s']:>11.1f} {r['peak_rss_worker_mb']:>19.0f} {r['removed']:>8}")
    print(json.dumps(results, indent=1))
    ours = [r for r in results if r["system"] == "ours"]
    if ours and len(results) == 2:
        dt = results[1]
        print(f"speed-up per core (same run): {ours[0]['docs_per_s_per_core'] / dt['docs_per_s_per_core']:.2f}x; "
              f"per CPU second: {ours[0]['docs_per_cpu_s'] / dt['docs_per_cpu_s']:.2f}x")
    if ours:
        print(f"our output digest: {ours[0]['output_digest']}")
        if args.expect_digest and ours[0]["output_digest"] != args.expect_digest:
            raise SystemExit(f"output digest {ours[0]['output_digest']} != expected {args.expect_digest}: the decisions changed")


if __name__ == "__main__":
    main()
