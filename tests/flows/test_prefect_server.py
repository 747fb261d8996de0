"""Integration: a real ``prefect server start`` on 127.0.0.1, the project's deployments, a worker.

Deploys ``smoke`` from prefect.yaml on a process work pool, triggers two deployment runs through
the API (good parameters; then a config with an unknown key), waits for them, and reads back the
artifacts of the first and the failure message of the second. About 60 s on 2 cores.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from prefect import flow

from flows.serve import PrefectServer, PrefectWorker, deploy_project, ensure_work_pool
from storage import open_dataset
from tests.flows.run_artifacts_of import wait_final

pytestmark = pytest.mark.slow




@flow(name="publish-run-artifacts")
def _publish_run_artifacts(tmp_path: Path) -> None:
    """Runs in this process against the test server, like a training/eval flow would."""
    from flows.run_artifacts import StageProgress, publish_eval_artifacts, publish_training_artifacts

    run = tmp_path / "pretrain"
    run.mkdir()
    (run / "metrics.jsonl").write_text("\n".join(json.dumps({"step": s, "loss": 3.0 - s / 10, "val_loss": 2.5 + s / 10})
                                                 for s in (0, 1, 2)))
    publish_training_artifacts(str(run), "pretrain")
    (tmp_path / "results.json").write_text(json.dumps({"tasks": {"tiny": {"acc": 0.5}}}))
    publish_eval_artifacts(str(tmp_path), "eval")
    progress = StageProgress("dedup", total=4)
    progress.update(2)
    progress.update(4)


def test_deploy_trigger_and_read_artifacts(tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey
    from prefect.settings import PREFECT_API_URL, temporary_settings

    home = tmp_path / "prefect"
    out = tmp_path / "smoke-out"
    with PrefectServer(home=home, port=0, services=False).start(timeout=240) as server:
        assert server.api_url.startswith("http://127.0.0.1:")
        ensure_work_pool(server.api_url, "test-pool")
        deployed, skipped = deploy_project(server.api_url, "test-pool", only=["smoke"])
        assert list(deployed) == ["smoke"] and not skipped
        with PrefectWorker(server.api_url, "test-pool", home=home, poll_seconds=1) as worker, \
                temporary_settings(updates={PREFECT_API_URL: server.api_url}), get_client(sync_client=True) as client:
            dep = client.read_deployment(deployed["smoke"])
            assert dep.parameters == {"out": "runs/demo/smoke"}, "defaults come from prefect.yaml"
            good = client.create_flow_run_from_deployment(dep.id, parameters={"out": str(out), "config": {"docs": 12}})
            bad = client.create_flow_run_from_deployment(dep.id, parameters={"out": str(tmp_path / "bad"), "config": {"docz": 1}})

            good_run = wait_final(client, timeout=240.0, flow_run_id=good.id)
            assert good_run.state.is_completed(), f"{good_run.state}; worker log: {worker.log_path.read_text()[-3000:]}"
            artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[good.id])))
            by_key = {a.key: a for a in artifacts}
            assert {"smoke-funnel", "smoke-summary", "smoke-manifest"} <= set(by_key)
            funnel = by_key["smoke-funnel"].data
            rows = funnel if isinstance(funnel, list) else json.loads(funnel)
            overall = rows[0]
            assert (overall["input"], overall["kept"], overall["dropped"], overall["quarantined"]) == (13, 10, 2, 1)
            assert {r["name"] for r in rows if r["scope"] == "lang"} == {"en", "zh"}
            ds = open_dataset(str(out), kind="documents")
            assert f"file://{ds.uri}/manifest.json)" in by_key["smoke-manifest"].data
            ds.verify()

            bad_run = wait_final(client, timeout=240.0, flow_run_id=bad.id)
            assert bad_run.state.is_failed()
            assert "parameter 'config': unknown key 'docz'" in (bad_run.state.message or ""), bad_run.state.message
            assert not (tmp_path / "bad").exists(), "a bad parameter must fail the run before any output is written"

            # training / eval / progress artifacts land on the same server
            _publish_run_artifacts(tmp_path)
            keys = ["pretrain-training-summary", "pretrain-curve", "pretrain-checkpoint", "eval-scores", "dedup-progress"]
            found = {a.key: a for a in client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=keys)))}
            assert set(found) == set(keys)
            assert "best_val_loss: 2.5" in found["pretrain-training-summary"].data
            scores = found["eval-scores"].data
            scores = scores if isinstance(scores, list) else json.loads(scores)
            assert scores == [{"task": "tiny", "acc": 0.5}]
            assert float(found["dedup-progress"].data) == 100.0
        assert not worker.alive()
    assert not server.healthy()
