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
from tests.flows.run_artifacts_of import wait_final

pytestmark = pytest.mark.slow

needs_chromium = pytest.mark.skipif(chromium_path() is None, reason="chromium is not installed (apt-get install -y chromium)")


@pytest.fixture(scope="module")
def server(prefect_server: PrefectServer) -> PrefectServer:
    return prefect_server  # tests/flows/conftest.py: one real server for this module


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




def tiny_study(tmp_path: Path) -> dict:
    from tests.model.token_fixtures import write_token_dataset

    tokens = write_token_dataset(tmp_path / "tokens", n_train_docs=40, n_val_docs=10)
    return {"data": {"markov": tokens}, "out": str(tmp_path / "study"), "budgets": [1e7, 3e7], "lr_grid": [1e-2], "batch_grid": [4],
            "shapes": [{"n_layer": 1, "d_model": 16, "n_head": 2}], "seq_len": 32, "warmup_steps": 1, "min_steps": 1,
            "eval_batches": 1, "bootstrap": 5, "save_checkpoints": False}


@pytest.fixture(scope="module")
def study_deployment(server: PrefectServer) -> str:
    """The ``scaling-study`` deployment of prefect.yaml on a process pool of the module's server."""
    from flows.serve import deploy_project, ensure_work_pool

    ensure_work_pool(server.api_url, "ui-pool")
    deployed, skipped = deploy_project(server.api_url, "ui-pool", only=["scaling-study"])
    assert list(deployed) == ["scaling-study"] and not skipped
    return deployed["scaling-study"]


@needs_chromium
def test_scaling_study_run_form_renders_typed_fields_in_chromium(server: PrefectServer, study_deployment: str) -> None:
    with HeadlessChromium() as browser:
        page = browser.open(f"{server.ui_url}/deployments/deployment/{study_deployment}/run")
        try:
            page.settle(8.0)
            text = page.evaluate("document.body.innerText")
            for label in ("Budgets", "Lr Grid", "Shapes", "Seq Len", "Save Checkpoints", "executor"):
                assert label in text, text[:3000]
            fields = json.loads(page.evaluate(
                "JSON.stringify(Array.from(document.querySelectorAll('input,select,textarea')).map(e => "
                "({tag: e.tagName, type: e.type, value: e.value, options: e.options ? Array.from(e.options).map(o => o.text) : []})))"))
            numbers = [f["value"] for f in fields if f["type"] == "number"]
            assert numbers[:3] == ["300000000", "1000000000", "3000000000"], numbers  # budgets from prefect.yaml, as numbers
            assert any(f["tag"] == "SELECT" and f["options"] == ["ray", "local"] and f["value"] == "ray" for f in fields), fields
            assert any(f["type"] == "checkbox" for f in fields)  # save_checkpoints: a boolean
        finally:
            page.close()


def test_scaling_study_deployment_is_typed_and_runs_on_the_process_pool(server: PrefectServer, study_deployment: str,
                                                                          tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.serve import PrefectWorker

    with temporary_settings(updates={PREFECT_API_URL: server.api_url}), get_client(sync_client=True) as client:
        dep = client.read_deployment(study_deployment)
        schema = dep.parameter_openapi_schema
        assert schema["properties"]["executor"]["enum"] == ["ray", "local"]
        assert schema["properties"]["config"]["$ref"].endswith("/StudyConfig")
        study = schema["definitions"]["StudyConfig"]["properties"]
        assert study["budgets"] == {"items": {"type": "number"}, "title": "Budgets", "type": "array"}
        assert study["seq_len"]["type"] == "integer" and study["save_checkpoints"]["type"] == "boolean"
        assert "Ray tasks" in schema["properties"]["executor"]["description"]  # from the flow's docstring
        assert dep.parameters["config"]["data"] == {"curated": "runs/demo/tokens"}

        cfg = tiny_study(tmp_path)
        with PrefectWorker(server.api_url, "ui-pool", home=server.home, poll_seconds=1) as worker:
            run = client.create_flow_run_from_deployment(dep.id, parameters={"config": cfg, "executor": "local"})
            final = wait_final(client, timeout=400.0, flow_run_id=run.id)
            assert final.state.is_completed(), f"{final.state}; worker log: {worker.log_path.read_text()[-3000:]}"
        report = json.loads((tmp_path / "study" / "report.json").read_text())
        assert report["variants"]["markov"]["runs"]["ok"] == 4
        keys = {a.key for a in client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id])))}
        assert {"scaling-study-report", "scaling-study-laws", "scaling-study-runs"} <= keys


@needs_chromium
def test_screenshot_of_the_deployments_page(server: PrefectServer, study_deployment: str, tmp_path: Path) -> None:
    """What ``make screenshots`` (tests/flows/screenshots.py) does for docs/images/prefect-deployments.png."""
    from tests.flows.screenshots import shoot

    with HeadlessChromium() as browser:
        page = browser.open("about:blank")
        try:
            shot = shoot(page, f"{server.ui_url}/deployments", tmp_path / "deployments.png", 6)
            assert "scaling-study" in page.evaluate("document.body.innerText")
        finally:
            page.close()
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def test_readme_shows_every_screenshot_the_command_writes() -> None:
    import re

    repo = Path(__file__).resolve().parents[2]
    source = (repo / "tests" / "flows" / "screenshots.py").read_text()
    written = set(re.findall(r'args\.out / "([a-z-]+\.png)"', source))
    assert len(written) == 4
    readme = (repo / "README.md").read_text()
    for name in written:
        assert f"(docs/images/{name})" in readme, name
        assert (repo / "docs" / "images" / name).is_file(), f"docs/images/{name}: run make screenshots"
