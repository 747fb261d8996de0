"""The dashboard in a real browser: headless Debian Chromium over the DevTools protocol.

Loads the run page of a real run folder, checks every chart rendered with a non-empty box and
its data marks, that the page logged no console error, exception or failed load, and saves a
screenshot to runs/test-artifacts/dashboard.png (override with LONGTERM_SCREENSHOT_DIR).
Chromium comes from Debian: ``apt-get install -y chromium``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flows.dashboard.server import DashboardServer
from tests.flows.dashboard.cdp import HeadlessChromium, chromium_path
from tests.flows.dashboard.fake_run import build_run

REPO = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.skipif(chromium_path() is None, reason="chromium is not installed (apt-get install -y chromium)")

CHARTS_JS = """JSON.stringify(Array.from(document.querySelectorAll('svg.chart')).map(s => {
  const r = s.getBoundingClientRect();
  return {name: s.dataset.chart, marks: s.querySelectorAll('.mark, .mark-line').length,
          declared: Number(s.dataset.marks), w: r.width, h: r.height};
}))"""


def test_dashboard_renders_in_chromium(tmp_path: Path) -> None:
    import json

    build_run(tmp_path / "runs" / "demo")
    server = DashboardServer(tmp_path / "runs", port=0).start()
    try:
        with HeadlessChromium() as browser:
            page = browser.open(server.url + "/")
            try:
                assert page.evaluate("document.title") == "run demo"
                rendered = json.loads(page.evaluate(CHARTS_JS))
                names = {c["name"] for c in rendered}
                assert {"funnel-filter", "lengths-filter", "dedup-rate-dedup", "clusters-dedup", "mixture-domain-remix",
                        "compression-tokenizer", "loss-pretrain", "eval-eval"} <= names
                for c in rendered:
                    assert c["w"] > 100 and c["h"] > 50, c
                    assert c["marks"] > 0, f"chart {c['name']} drew no marks"
                assert page.evaluate("document.querySelectorAll('.nodata').length") == 0
                assert page.errors == [], page.errors
                out = Path(os.environ.get("LONGTERM_SCREENSHOT_DIR", REPO / "runs" / "test-artifacts"))
                shot = page.screenshot(out / "dashboard.png")
                assert shot.stat().st_size > 20_000, "a screenshot of a drawn page is not tiny"
                # the detector itself works: a console error on the page is caught
                page.evaluate("console.error('detector check')")
                page.settle()
                assert any("detector check" in e for e in page.errors)
            finally:
                page.close()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def real_run(prefect_harness, ray_cluster, tmp_path_factory) -> Path:
    """The output of a real tiny pipeline (data_to_model through eval), then filter rerun with one changed key."""
    from flows.data_to_model import PipelineConfig, data_to_model
    from tasks.config import parse
    from tasks.demo_crawl import generate_demo_crawl
    from tests.flows.screenshots import CHANGED_FILTER
    from tests.flows.test_data_to_model import TINY

    root = tmp_path_factory.mktemp("real-run")
    generate_demo_crawl(str(root / "crawl"), num_docs=240, num_dumps=2, seed=3)
    data_to_model(crawl=str(root / "crawl"), out=str(root / "run"), config=parse(PipelineConfig, TINY))
    data_to_model(crawl=str(root / "crawl"), out=str(root / "run"), config={**TINY, "filter": CHANGED_FILTER}, until="filter")
    return root


SECTIONS_JS = """JSON.stringify(Array.from(document.querySelectorAll('section.stage')).map(s => ({
  id: s.id, charts: Array.from(s.querySelectorAll('svg.chart')).map(c => c.dataset.chart),
  text: s.innerText})))"""


@pytest.mark.slow
def test_dashboard_of_a_real_pipeline_run_and_a_rerun_side_by_side(real_run: Path) -> None:
    import json

    server = DashboardServer(real_run, port=0).start()
    try:
        with HeadlessChromium() as browser:
            page = browser.open(server.url + "/run?name=run")
            try:
                assert page.evaluate("document.title") == "run run"
                sections = {s["id"].removeprefix("stage-"): s for s in json.loads(page.evaluate(SECTIONS_JS))}
                for stage in ("ingest", "filter", "dedup", "remix", "tokenize", "pretrain", "sft", "dpo", "eval"):
                    assert stage in sections, f"no section for {stage}: {sorted(sections)}"
                for stage in ("ingest", "filter", "dedup", "remix"):  # document stages: funnel and length plots
                    assert {f"funnel-{stage}", f"lengths-{stage}"} <= set(sections[stage]["charts"]), sections[stage]["charts"]
                assert "dedup-rate-dedup" in sections["dedup"]["charts"] and "mixture-domain-remix" in sections["remix"]["charts"]
                assert "loss-pretrain" in sections["pretrain"]["charts"] and "eval-eval" in sections["eval"]["charts"]
                # the real stages' own stat shapes (remix rows, tokenize bytes_per_token) are drawn, not "no data"
                assert "compression-tokenize" in sections["tokenize"]["charts"], sections["tokenize"]["charts"]
                nodata = page.evaluate("Array.from(document.querySelectorAll('.nodata')).map(e => e.dataset.chart || '')")
                assert set(nodata) <= {"throughput-sft", "throughput-dpo"}, nodata  # SFT/DPO log no tokens/s
                rendered = json.loads(page.evaluate(CHARTS_JS))
                for c in rendered:
                    assert c["w"] > 100 and c["h"] > 50, c
                empty = [c["name"] for c in rendered if c["marks"] == 0]
                assert not empty, f"charts without marks: {empty}"

                # the rerun: filter's LATEST beside its previous version, the changed key and the count deltas
                filt = sections["filter"]
                assert {"compare-previous-filter", "compare-latest-filter"} <= set(filt["charts"]), filt["charts"]
                assert "Versions side by side" in filt["text"] and "langid.thresholds.en" in filt["text"], filt["text"][-3000:]
                deltas = json.loads(page.evaluate("""JSON.stringify(Array.from(
                    document.querySelectorAll('#stage-filter table.compare-counts tr')).slice(1).map(
                    r => Array.from(r.cells).map(c => c.innerText)))"""))
                by_key = {r[0]: r[1:] for r in deltas}
                before, after, diff = by_key["all: kept"]
                assert int(after) < int(before) and int(diff) == int(after) - int(before), by_key["all: kept"]
                assert by_key["all: input"][2] == "+0", "same input, a stricter threshold keeps fewer"
                assert "compare-previous-ingest" not in sections["ingest"]["charts"], "ingest was reused: one version"
                assert page.errors == [], page.errors
            finally:
                page.close()
    finally:
        server.stop()
