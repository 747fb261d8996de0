"""Regenerate the screenshots in docs/images: the Prefect UI (deployments, a data-to-model run with its
artifacts) and the data-quality dashboard (a run page, and a stage rerun shown beside its previous version).

    python -m tests.flows.screenshots                  # or: make screenshots   (about 5 min on 2 cores)
    python -m tests.flows.screenshots --out /tmp/shots --work runs/screenshots

What it does: a tiny demo crawl, a real ``prefect server start`` on a free port with the deployments of
prefect.yaml, ``data_to_model`` run against it (the tiny config of tests/flows/test_data_to_model.py),
a rerun with a stricter English language-ID threshold (filter recomputes), then headless Chromium
(tests/flows/dashboard/cdp.py) on both UIs. Needs chromium (``make browser``).
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHANGED_FILTER = {"langid": {"thresholds": {"en": 0.9, "zh": 0.5}}}


def build_run(work: Path, api_url: str) -> str:
    """The tiny pipeline through eval, then filter rerun with one changed key; returns the first filter run's id."""
    from flows.data_to_model import PipelineConfig, data_to_model
    from tasks.config import parse
    from tasks.demo_crawl import generate_demo_crawl
    from tests.flows.test_data_to_model import TINY

    crawl = work / "crawl"
    if not (crawl / "ground_truth.jsonl").is_file():
        generate_demo_crawl(str(crawl), num_docs=240, num_dumps=2, seed=3)
    from prefect.logging.handlers import APILogWorker
    from prefect.settings import PREFECT_API_URL, temporary_settings

    # prefect is imported already (deploy_project): an environment variable set now would not be read
    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        state = data_to_model(crawl=str(crawl), out=str(work / "run"), config=parse(PipelineConfig, TINY), return_state=True)
        state.result()
        data_to_model(crawl=str(crawl), out=str(work / "run"), config={**TINY, "filter": CHANGED_FILTER}, until="filter")
        APILogWorker.drain_all(timeout=10)
        return first_stage_run(str(state.state_details.flow_run_id), "filter")


def first_stage_run(parent_id: str, flow_name: str) -> str:
    """The id of the ``flow_name`` subflow run of the data-to-model run ``parent_id`` (it holds the stage's artifacts)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName, FlowRunFilter, FlowRunFilterParentFlowRunId

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])),
                                     flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent_id])))
    assert runs, f"no {flow_name} subflow run under {parent_id}"
    return str(runs[0].id)


CLICK_TAB_JS = """(() => { const tab = Array.from(document.querySelectorAll('li.p-tab, [role=tab], button'))
  .find(e => e.innerText && e.innerText.trim() === %r); if (tab) tab.click(); return !!tab; })()"""


def shoot(page, url: str, path: Path, wait_s: float, scroll_to: str | None = None, tab: str | None = None) -> Path:
    page.navigate(url)
    page.settle(wait_s)
    if tab:
        assert page.evaluate(CLICK_TAB_JS % tab), f"no tab {tab!r} on {url}"
        page.settle(3)
    if scroll_to:
        page.evaluate(f"document.getElementById({scroll_to!r}).scrollIntoView()")
        page.settle(0.5)
    page.call("Page.captureScreenshot", format="png")  # warm-up: the first capture can be blank
    r = page.call("Page.captureScreenshot", format="png")
    import base64

    path.write_bytes(base64.b64decode(r["data"]))
    print(f"  {path} ({path.stat().st_size / 1e3:.0f} kB)")
    return path


def main(argv: list[str] | None = None) -> list[Path]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "images", help="where the PNGs go")
    ap.add_argument("--work", type=Path, default=REPO / "runs" / "screenshots", help="scratch folder (deleted first)")
    args = ap.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: stop the server and dashboard we started

    from flows.dashboard.server import DashboardServer
    from flows.serve import PrefectServer, deploy_project, ensure_work_pool
    from tests.flows.dashboard.cdp import HeadlessChromium, chromium_path

    if chromium_path() is None:
        raise SystemExit("chromium is not installed (make browser)")
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    shots: list[Path] = []
    with PrefectServer(home=args.work / "prefect", port=0, services=False).start(timeout=240) as server:
        ensure_work_pool(server.api_url)
        deployed, _ = deploy_project(server.api_url)
        print(f"server {server.ui_url}: {len(deployed)} deployments; running the tiny pipeline ...")
        run_id = build_run(args.work, server.api_url)
        board = DashboardServer(args.work, port=0).start()
        try:
            with HeadlessChromium() as browser:
                page = browser.open("about:blank")
                shots.append(shoot(page, f"{server.ui_url}/deployments", args.out / "prefect-deployments.png", 6))
                shots.append(shoot(page, f"{server.ui_url}/runs/flow-run/{run_id}", args.out / "prefect-run-artifacts.png", 8,
                                   tab="Artifacts"))
                # wide enough for the two versions' funnels side by side (680 px each)
                page.call("Emulation.setDeviceMetricsOverride", width=1560, height=1000, deviceScaleFactor=1, mobile=False)
                shots.append(shoot(page, f"{board.url}/run?name=run", args.out / "dashboard.png", 2))
                shots.append(shoot(page, f"{board.url}/run?name=run", args.out / "dashboard-versions.png", 2, scroll_to="compare-filter"))
                page.close()
        finally:
            board.stop()
    print(f"{len(shots)} screenshots in {time.monotonic() - t0:.0f} s")
    return shots


if __name__ == "__main__":
    main()
