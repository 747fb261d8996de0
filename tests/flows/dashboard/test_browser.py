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
