"""Benchmark: how long the dashboard takes to walk a run folder and render its page.

    python benchmarks/dashboard_render.py [--docs 20000] [--repeat 3]

Builds a real run (tests/flows/dashboard/fake_run.py: 8 stage outputs, documents datasets of
--docs rows) in a temp folder, then times find_runs + run_page cold (shards sampled and read)
and warm (samples cached per manifest digest), and one HTTP GET through the server.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flows.dashboard.collect import find_runs  # noqa: E402
from flows.dashboard.page import run_page  # noqa: E402
from flows.dashboard.server import DashboardServer  # noqa: E402
from tests.flows.dashboard.fake_run import build_run  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        build_run(root / "demo", num_docs=args.docs)
        print(f"built run with {args.docs} docs per documents stage in {time.perf_counter() - t0:.2f} s")
        t0 = time.perf_counter()
        html = run_page(find_runs(root)[0])
        print(f"cold render: {time.perf_counter() - t0:.3f} s, {len(html) / 1e3:.0f} kB of HTML")
        warm = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            run_page(find_runs(root)[0])
            warm.append(time.perf_counter() - t0)
        print(f"warm render: best {min(warm):.3f} s of {args.repeat}")
        server = DashboardServer(root, port=0).start()
        try:
            t0 = time.perf_counter()
            with urllib.request.urlopen(server.url + "/run?name=demo", timeout=60) as r:
                r.read()
            print(f"HTTP GET /run: {time.perf_counter() - t0:.3f} s")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
