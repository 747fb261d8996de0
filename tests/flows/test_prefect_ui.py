"""The Prefect UI as a user meets it: a real ``prefect server start`` on a non-default port, driven
through headless Chromium and the API (issue #15).

One server per module (about 20 s to start on 2 cores), on port 0 (any free port, never 4200).
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from flows.serve import PrefectServer
from tests.flows.dashboard.cdp import HeadlessChromium, chromium_path

pytestmark = pytest.mark.slow

needs_chromium = pytest.mark.skipif(chromium_path() is None, reason="chromium is not installed (apt-get install -y chromium)")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("prefect-ui")
    with PrefectServer(home=home, port=0, services=False).start(timeout=240) as srv:
        yield srv


def test_ui_settings_name_the_bound_port(server: PrefectServer) -> None:
    assert server.port != 4200
    with urllib.request.urlopen(f"{server.ui_url}/ui-settings", timeout=10) as r:
        settings = json.loads(r.read())
    assert settings["api_url"] == f"http://127.0.0.1:{server.port}/api"


@needs_chromium
def test_ui_page_reaches_its_own_api_in_chromium(server: PrefectServer, tmp_path: Path) -> None:
    with HeadlessChromium() as browser:
        page = browser.open("about:blank")
        try:
            page.call("Network.enable")
            page.navigate(f"{server.ui_url}/deployments")
            page.settle(8.0)  # the single-page app fetches /ui-settings, then calls the API it names
            responses = [(e["params"]["response"]["url"], e["params"]["response"]["status"])
                         for e in page.events if e.get("method") == "Network.responseReceived"]
            failed = [e["params"] for e in page.events if e.get("method") == "Network.loadingFailed"]
            api_calls = [(u, s) for u, s in responses if "/api/" in u]
            assert any(u.startswith(server.api_url + "/") and s == 200 for u, s in api_calls), responses
            assert all(u.startswith(server.api_url + "/") for u, _ in api_calls), api_calls
            assert not failed, failed
            text = page.evaluate("document.body.innerText")
            assert "Deployments" in text and "connect" not in text.lower(), text[:2000]
            assert [e for e in page.errors if "favicon.ico" not in e] == [], page.errors
        finally:
            page.close()
