"""Time the demo crawl generator at several sizes.

    python benchmarks/demo_crawl.py                 # 2,000 and 100,000 pages
    python benchmarks/demo_crawl.py --docs 20000    # one size

Prints wall time, CPU time, output size and records per second for each size.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import tempfile
import time
from pathlib import Path

from tasks.demo_crawl import generate_demo_crawl


def measure(num_docs: int, num_dumps: int, root: Path) -> dict:
    out = root / f"demo-{num_docs}"
    cpu0, wall0 = time.process_time(), time.perf_counter()
    summary = generate_demo_crawl(str(out), num_docs=num_docs, num_dumps=num_dumps, seed=0)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    shutil.rmtree(out)
    return {"docs": num_docs, "records": summary["num_records"], "files": len(summary["files"]),
            "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "mib": round(size / 2**20, 1),
            "records_per_s": round(summary["num_records"] / wall)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, action="append", help="page count (repeatable); default 2000 and 100000")
    parser.add_argument("--dumps", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        for num_docs in args.docs or [2000, 100000]:
            print(measure(num_docs, args.dumps, Path(tmp)), flush=True)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
