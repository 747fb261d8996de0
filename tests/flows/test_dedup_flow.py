"""The dedup flow under Prefect's test harness (artifacts) and the CLI without Prefect."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from storage import open_dataset
from tests.dedup.corpus import planted_corpus, write_docs
from tests.flows.run_artifacts_of import artifacts_of


def test_dedup_flow_publishes_table1_artifact(prefect_harness, tmp_path: Path) -> None:

    from flows.deduplicate import dedup_flow
    from tasks.dedup import DedupConfig

    docs, truth = planted_corpus()
    uri = write_docs(str(tmp_path / "in"), docs, shard_size=50)
    state = dedup_flow([uri], str(tmp_path / "out"), DedupConfig(partitions=2), executor="local", return_state=True)
    out = state.result()
    assert open_dataset(out).manifest.counts.dropped_total == len(truth)
    run_id = state.state_details.flow_run_id

    arts = artifacts_of(run_id)  # only this flow run's artifacts: other tests of the session publish the same keys
    rows = arts["dedup-by-dumps"]
    assert [(r["dumps_together"], r["removed"]) for r in rows] == [(1, 0), (2, 40), (3, 45)]
    assert "dedup-funnel" in arts and "dedup-cluster-sizes" in arts
    # live progress: run_dedup reported each phase's units through the flow's callback; the last phase ends it
    from tests.flows.run_artifacts_of import progress_of

    percent, description = progress_of(run_id, "dedup-progress")
    assert percent == 100.0 and description.startswith("dedup: 2/2 segment units (100%)") and description.endswith("done"), description


def test_cli_no_prefect_with_config_file(tmp_path: Path) -> None:
    from flows.cli import app

    docs, truth = planted_corpus()
    uri = write_docs(str(tmp_path / "in"), docs, shard_size=50)
    cfg = tmp_path / "dedup.json"
    cfg.write_text(json.dumps({"partitions": 2, "report_by_dumps": False, "minhash": {"survivor": "first"}}))
    res = CliRunner().invoke(app, ["dedup", uri, "--out", str(tmp_path / "out"), "--config", str(cfg), "--no-prefect", "--executor", "local"])
    assert res.exit_code == 0, res.output
    assert '"dropped_total": 45' in res.output
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"bands": 3}))
    res = CliRunner().invoke(app, ["dedup", uri, "--out", str(tmp_path / "o2"), "--config", str(bad), "--no-prefect"])
    assert res.exit_code == 2 and "unknown key 'bands' (did you mean 'minhash.bands'?)" in res.output
