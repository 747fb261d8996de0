"""Ingest throughput (docs/s, MB/s) on a generated JSONL corpus and on the shared WARC files.

    python -m benchmarks.ingest_throughput --docs 100000 --files 4          # JSONL.gz, Ray + in-process
    python -m benchmarks.ingest_throughput --docs 20000 --executor local    # in-process only
    python -m benchmarks.ingest_throughput --warc ../shared/data/web_warc_dolma --repeat 10

The JSONL corpus is synthetic web-like text (English and Chinese paragraphs, ~1.5 KB per doc,
a few % broken lines and whitespace-only docs) written as ``--files`` gzip files. The WARC
benchmark copies the given WARC files ``--repeat`` times (so there are enough units for the
workers) and reports HTML responses per second: this is dominated by trafilatura extraction.
Each measurement is a fresh output directory (no content-addressed shortcut); Ray start-up is
excluded (``init_ray`` runs first), Ray scheduling and actor start-up are included (the
JSONL Ray measurement is repeated: the second run finds worker processes with warm imports).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import tempfile
import time

from storage import open_dataset
from tasks.ingest import IngestConfig, run_ingest

EN = [
    "The committee met on Tuesday to review the budget for the new library wing and the repairs to the roof.",
    "Researchers measured the river temperature every hour for three summers and found the nights warming fastest.",
    "A good bread starter needs flour, water, patience and a kitchen that stays warm through the night.",
    "The museum reopened with a small exhibition of maps drawn by sailors who never saw the coasts they charted.",
]
ZH = [
    "委员会周二开会，审议新图书馆侧翼的预算以及屋顶的维修工程。",
    "研究人员连续三个夏天每小时测量一次河水温度，发现夜间升温最快。",
    "好的面包酵头需要面粉、水、耐心，以及一个整夜保持温暖的厨房。",
    "博物馆重新开放，展出了一批由从未见过所绘海岸的水手绘制的地图。",
]


def write_corpus(root: str, num_docs: int, num_files: int, seed: int = 0) -> int:
    rng = random.Random(seed)
    per_file = (num_docs + num_files - 1) // num_files
    size = 0
    for k in range(num_files):
        path = os.path.join(root, "dump-00", f"part-{k:04d}.jsonl.gz")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as f:
            for i in range(k * per_file, min(num_docs, (k + 1) * per_file)):
                r = rng.random()
                if r < 0.01:
                    f.write('{"text": broken\n')
                    continue
                pool = ZH if r < 0.4 else EN
                paras = ["  ".join(rng.choice(pool) for _ in range(rng.randint(2, 5))) for _ in range(rng.randint(2, 6))]
                text = "\n\n\n".join(paras) if r > 0.02 else " \n\t "
                f.write(json.dumps({"id": f"d{i}", "url": f"https://site{i % 97}.example/{i}", "text": text, "dump": "bench"}, ensure_ascii=False) + "\n")
        size += os.path.getsize(path)
    return size


def measure(inputs: list[str], executor: str, label: str) -> dict:
    out = tempfile.mkdtemp(prefix="bench-ingest-out-")
    try:
        t = time.perf_counter()
        uri = run_ingest(inputs, out, IngestConfig(), executor=executor)
        seconds = time.perf_counter() - t
        m = open_dataset(uri).manifest
        row = {
            "what": label,
            "executor": executor,
            "input_records": m.counts.input,
            "kept": m.counts.kept,
            "seconds": round(seconds, 2),
            "docs_per_s": round(m.counts.input / seconds, 1),
            "input_MB_per_s": round(m.stats.get("bytes_decompressed", 0) / 1e6 / seconds, 2),
        }
    finally:
        shutil.rmtree(out, ignore_errors=True)
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--files", type=int, default=4)
    ap.add_argument("--executor", choices=["ray", "local", "both"], default="both")
    ap.add_argument("--warc", nargs="*", default=None, help="WARC files/directories to benchmark (default: ../shared/data/web_warc_dolma if present)")
    ap.add_argument("--repeat", type=int, default=4, help="copies of the WARC inputs")
    args = ap.parse_args()
    executors = ["local", "ray"] if args.executor == "both" else [args.executor]
    if "ray" in executors:
        from tasks.executor import init_ray

        init_ray()
    work = tempfile.mkdtemp(prefix="bench-ingest-")
    try:
        if args.docs:
            size = write_corpus(os.path.join(work, "jsonl"), args.docs, args.files)
            print(f"# JSONL corpus: {args.docs} docs in {args.files} gzip files, {size / 1e6:.1f} MB compressed", flush=True)
            for ex in executors:
                measure([os.path.join(work, "jsonl")], ex, f"jsonl.gz {args.docs} docs")
                if ex == "ray":  # the first Ray run pays for worker start-up and imports
                    measure([os.path.join(work, "jsonl")], ex, f"jsonl.gz {args.docs} docs (second run)")
        warc = args.warc
        default = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data", "web_warc_dolma")
        if warc is None and os.path.isdir(default):
            warc = [default]
        if warc:
            from tasks.readers import list_input_files

            files, _ = list_input_files(warc)
            wdir = os.path.join(work, "warc")
            os.makedirs(wdir)
            for r in range(args.repeat):
                for f in (f for f in files if not f.problem):
                    shutil.copy(f.path, os.path.join(wdir, f"r{r}-{os.path.basename(f.path)}"))
            for ex in executors:
                measure([wdir], ex, f"warc {len(files)} files x{args.repeat}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
