"""Soak benchmark of incremental dedup: N nights appended to one dedup index; is the cost per night flat?

    python -m benchmarks.nightly_soak --nights 5 --docs-per-night 4000 --out /tmp/soak

Each night is a generated bilingual (en + zh) dump of ``--docs-per-night`` pages: fresh pages,
re-crawls of earlier nights' pages (same URL; unchanged or edited) and copies within the night.
The night runs the dedup stage (``tasks.dedup.run_dedup``, local executor, no Prefect) against and
appended to ``OUT/index`` in a fresh subprocess, so its CPU seconds, peak RSS and bytes written
(``wchar`` of /proc/self/io: every byte the process wrote) are its own. Writes ``OUT/soak.json``:
one object per night with night, docs_in, kept, dup_within, dup_across, wall_s, cpu_s,
peak_rss_mb, index_bytes, bytes_written (and segments_read, docs_read, the components rounds and, per
phase, its units and CPU seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa

from storage import Counts, DatasetWriter, conform_documents, open_dataset, write_shard

SHARD = 2000


def night_docs(k: int, n: int, rng: random.Random, earlier: list[dict[str, Any]], recrawl: float, within: float) -> list[dict[str, Any]]:
    from tasks.demo_crawl.compose import DocumentComposer

    composers = {"en": DocumentComposer("en"), "zh": DocumentComposer("zh")}
    n_re = round(n * recrawl) if earlier else 0
    n_in = round(n * within)
    docs = []
    for i in range(n - n_re - n_in):
        lang = "en" if rng.random() < 0.6 else "zh"
        docs.append({"id": f"n{k:03d}-{i}", "text": composers[lang].compose(rng).text(), "url": f"https://{lang}.example.org/{k}/{i}",
                     "source": f"night-{k:03d}", "lang": lang, "lang_score": 0.9})
    fresh = list(docs)
    for j in range(n_re):  # re-crawl of an earlier night's page: same URL, half edited
        o = rng.choice(earlier)
        text = o["text"] if j % 2 else o["text"].replace("。", "，", 1).replace(". ", ", ", 1) + " (updated)"
        docs.append({**o, "id": f"n{k:03d}-re{j}", "text": text, "source": f"night-{k:03d}"})
    for j in range(n_in):
        o = rng.choice(fresh)
        docs.append({**o, "id": f"n{k:03d}-in{j}", "url": None})
    rng.shuffle(docs)
    earlier += fresh
    return docs


def write_night(root: Path, docs: list[dict[str, Any]]) -> str:
    w = DatasetWriter(str(root), kind="documents", stage="soak_input", config={"n": len(docs), "first": docs[0]["id"]})
    shards = [write_shard(w.location, "data", i // SHARD, conform_documents(pa.Table.from_pylist(docs[i : i + SHARD])))
              for i in range(0, len(docs), SHARD)]
    w.commit(shards, Counts(input=len(docs), kept=len(docs)))
    return open_dataset(w.location).uri


def run_night(uri: str, out: str, index: str) -> dict[str, Any]:
    """One night in this process (the subprocess side); prints its own measurements as JSON."""
    from tasks.dedup import DedupConfig, run_dedup

    t0 = time.perf_counter()
    result = run_dedup([uri], out, DedupConfig(report_by_dumps=False), index=index, executor="local")
    wall = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_SELF)
    io = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
    # peak RSS of this process: VmHWM (reset by exec). ru_maxrss is not: Linux carries the parent's RSS at
    # fork over the exec, and the parent here holds every earlier night's pages (it read 290 -> 397 MB over 10 nights)
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    hwm_mb = int(status["VmHWM"].split()[0]) / 1024
    m = open_dataset(result).manifest
    dropped = open_dataset(result).read_all("dropped", columns=["id", "duplicate_of"]).to_pylist()
    within = sum(1 for r in dropped if r["duplicate_of"].split("-")[0] == r["id"].split("-")[0])
    return {"docs_in": m.counts.input, "kept": m.counts.kept, "dup_within": within, "dup_across": len(dropped) - within,
            "wall_s": round(wall, 2), "cpu_s": round(ru.ru_utime + ru.ru_stime, 2), "peak_rss_mb": round(hwm_mb, 1),
            "index_bytes": m.run["index"]["index_bytes"], "bytes_written": int(io["wchar"]),
            "segments_read": m.run["index"]["segments_read"], "docs_read": m.run["index"]["docs_read"],
            "rounds": m.stats["components_rounds"],
            "phases": {k: {"units": v["units"], "cpu_s": v["cpu_s"]} for k, v in m.run["phases"].items()}}


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nights", type=int, default=5)
    ap.add_argument("--docs-per-night", type=int, default=4000)
    ap.add_argument("--out", required=True)
    ap.add_argument("--recrawl", type=float, default=0.3, help="share of a night re-crawling earlier nights' pages")
    ap.add_argument("--within", type=float, default=0.1, help="share of a night copying its own pages")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--night-job", nargs=3, metavar=("INPUT", "OUT", "INDEX"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.night_job:
        print("SOAK " + json.dumps(run_night(*args.night_job)), flush=True)
        # results are out: skip interpreter teardown, where a C++ thread of a library aborts the process
        # now and then ("terminate called without an active exception", exit 134; 5 of 6 runs at 4cd4c9a)
        sys.stderr.flush()
        os._exit(0)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng, earlier, rows = random.Random(args.seed), [], []
    for k in range(1, args.nights + 1):
        uri = write_night(out / "input" / f"night-{k:03d}", night_docs(k, args.docs_per_night, rng, earlier, args.recrawl, args.within))
        proc = subprocess.run([sys.executable, "-m", "benchmarks.nightly_soak", "--out", str(out), "--night-job", uri,
                               str(out / "dedup" / f"night-{k:03d}"), str(out / "index")], capture_output=True, text=True, check=False)
        line = [x for x in proc.stdout.splitlines() if x.startswith("SOAK ")]
        if proc.returncode != 0 or not line:
            raise SystemExit(f"night {k} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
        rows.append({"night": k, **json.loads(line[0][5:])})
        print(json.dumps(rows[-1]), flush=True)
        (out / "soak.json").write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main()
