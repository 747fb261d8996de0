"""The scaling-study Prefect flow (test harness, in-process runs) publishes its report, laws and runs; the CLI
reads a YAML config, resumes a finished study and reports a missing config."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from flows.cli import app
from tests.model.token_fixtures import write_token_dataset

ROOT = Path(__file__).resolve().parents[2]


def study_yaml(tmp_path: Path) -> Path:
    tokens = write_token_dataset(tmp_path / "tokens", n_train_docs=40, n_val_docs=10)
    cfg = {"data": {"markov": tokens}, "out": str(tmp_path / "study"), "budgets": [1e7, 3e7], "lr_grid": [1e-2], "batch_grid": [4],
           "shapes": [{"n_layer": 1, "d_model": 16, "n_head": 2}], "seq_len": 32, "warmup_steps": 1, "min_steps": 1, "eval_batches": 1,
           "bootstrap": 5, "save_checkpoints": False}
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_scaling_study_flow_publishes_report_laws_and_runs(prefect_harness, tmp_path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from tasks.scaling_study import load_study_config
    from flows.scaling_study import scaling_study_flow

    cfg = load_study_config(str(study_yaml(tmp_path)))
    report_path = scaling_study_flow(cfg, executor="local")
    report = json.loads(Path(report_path).read_text())
    assert report["variants"]["markov"]["runs"]["ok"] == 4

    async def read(key: str):
        async with get_client() as client:
            return await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))

    md = asyncio.run(read("scaling-study-report"))[-1].data
    assert "markov" in md and "markov-loss.png" in md and "4 runs ok" in md
    laws = asyncio.run(read("scaling-study-laws"))[-1]
    rows = json.loads(laws.data) if isinstance(laws.data, str) else laws.data
    assert {r["law"] for r in rows} >= {"B_opt", "lr_opt", "L", "allocation"}  # one shape: allocation not fitted, and said so
    runs = asyncio.run(read("scaling-study-runs"))[-1]
    assert len(json.loads(runs.data) if isinstance(runs.data, str) else runs.data) == 4

    # the command on the same config resumes: every run is finished, so it only refits and replots
    results = Path(cfg.out) / "results.jsonl"
    before = results.read_text()
    r = CliRunner().invoke(app, ["scaling-study", "--config", str(tmp_path / "study.yaml"), "--no-prefect", "--executor", "local"])
    assert r.exit_code == 0, r.output
    assert results.read_text() == before
    assert "markov: allocation not fitted" in r.output and r.output.strip().endswith("report.json")


def test_scaling_study_command_rejects_a_missing_config(tmp_path) -> None:
    bad = CliRunner().invoke(app, ["scaling-study", "--config", str(tmp_path / "missing.yaml"), "--no-prefect"])
    assert bad.exit_code == 2 and "does not exist" in bad.output
    from tasks.scaling_study import load_study_config

    micro = load_study_config(str(ROOT / "configs" / "scaling_study_micro.yaml"))
    assert len(micro.budgets) == 3 and len(micro.shapes) == 4 and micro.holdout_budget > max(micro.budgets)
