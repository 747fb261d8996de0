"""The pretrain Prefect flow (test harness) with its artifacts, and the `plan` / `pretrain` commands."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from flows.cli import app
from tests.model.token_fixtures import write_token_dataset


@pytest.fixture(scope="module")
def tokens(tmp_path_factory) -> str:
    return write_token_dataset(tmp_path_factory.mktemp("tok"), n_train_docs=40, n_val_docs=10)


def test_pretrain_flow_publishes_metrics_summary_and_checkpoint(prefect_harness, tokens, tmp_path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

    from flows.pretrain import pretrain_flow

    config = dict(seq_len=32, batch_size=2, steps=3, eval_every=3, eval_batches=1, log_every=1, progress=False, tensorboard=False)
    state = pretrain_flow(tokens, str(tmp_path / "run"), "tiny", config, return_state=True)
    ckpt = state.result()
    assert ckpt.endswith("step-00000003")
    run_id = state.state_details.flow_run_id

    async def read(key: str):  # this flow run's artifacts only: other tests publish the same keys
        async with get_client() as client:
            return await client.read_artifacts(artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=[key]), flow_run_id=ArtifactFilterFlowRunId(any_=[run_id])))

    import asyncio

    table = asyncio.run(read("pretrain-metrics"))[-1]
    rows = json.loads(table.data) if isinstance(table.data, str) else table.data
    assert [r["step"] for r in rows] == [1, 2, 3] and rows[-1]["val_loss"] is not None
    summary = asyncio.run(read("pretrain-summary"))[-1]
    assert "scaling-law plan" in summary.data and "step-00000003" in summary.data
    link = asyncio.run(read("pretrain-checkpoint"))[-1]
    assert "checkpoints/step-00000003)" in link.data
    # live progress from a thread reading config.json / metrics.jsonl while the trainer runs
    from tests.flows.run_artifacts_of import progress_of

    percent, description = progress_of(run_id, "pretrain-progress")
    assert percent == 100.0 and description.startswith("pretrain: 3/3 steps (100%), loss ") and "tokens/s" in description, description


def test_plan_command() -> None:
    r = CliRunner().invoke(app, ["plan", "--model", "deepseek-7b", "--tokens", "2e12", "--json"])
    assert r.exit_code == 0, r.output
    assert 2200 <= json.loads(r.output)["batch_sequences"] <= 2400
    r = CliRunner().invoke(app, ["plan", "--compute", "1e21"])
    assert r.exit_code == 0 and "shape near M_opt" in r.output
    bad = CliRunner().invoke(app, ["plan", "--model", "tiny"])
    assert bad.exit_code == 2 and "--tokens" in bad.output


def test_pretrain_command_without_prefect(tokens, tmp_path) -> None:
    out = tmp_path / "run"
    r = CliRunner().invoke(app, ["pretrain", "--no-prefect", "--data", tokens, "--out", str(out), "--seq-len", "32", "--batch-size", "2",
                                 "--steps", "2", "--eval-every", "0", "--no-progress", "--no-tensorboard"])
    assert r.exit_code == 0, r.output
    assert r.output.strip().splitlines()[-1].endswith("step-00000002")
    bad = CliRunner().invoke(app, ["pretrain", "--no-prefect", "--data", str(tmp_path / "missing"), "--out", str(out)])
    assert bad.exit_code == 2 and "no such dataset" in bad.output
