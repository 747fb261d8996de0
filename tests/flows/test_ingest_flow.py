"""The ingest Prefect flow under Prefect's test harness, on the real local Ray cluster, and the
``longterm ingest`` command: the run publishes a dataset and its artifacts."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from storage import open_dataset
from tasks.ingest import IngestConfig


def small_crawl(root: Path) -> Path:
    (root / "dump-01").mkdir(parents=True)
    (root / "dump-01" / "a.jsonl").write_text(
        "\n".join(
            [
                json.dumps({"id": "a1", "text": "First English document about ferries.", "dump": "CC-01"}),
                json.dumps({"id": "a2", "text": "第二个文档，讲的是渡船。", "dump": "CC-01"}),
                '{"text": broken',
                json.dumps({"id": "a3", "text": "   "}),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    (root / "dump-02").mkdir()
    (root / "dump-02" / "b.jsonl").write_text(json.dumps({"text": "A record without id or dump."}) + "\n", encoding="utf-8")
    return root


def test_ingest_flow_publishes_dataset_and_artifacts(prefect_harness, ray_cluster, tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    from flows.ingest import ingest_flow

    crawl = small_crawl(tmp_path / "crawl")
    state = ingest_flow([str(crawl)], str(tmp_path / "out"), config=IngestConfig(rows_per_shard=1000), return_state=True)
    assert state.is_completed()
    uri = state.result()
    ds = open_dataset(uri, kind="documents")
    ds.verify()
    c = ds.manifest.counts
    assert (c.input, c.kept, c.dropped, c.quarantined) == (5, 3, {"ingest_empty_text": 1}, 1)
    assert set(ds.manifest.stats["by_source"]) == {"CC-01", "dump-01", "dump-02"}

    flow_run_id = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
    by_key = {a.key: a for a in artifacts}
    assert {"ingest-funnel", "ingest-summary", "ingest-manifest"} <= set(by_key)
    table = by_key["ingest-funnel"].data
    rows = json.loads(table) if isinstance(table, str) else table
    sources = {r["name"]: r for r in rows if r["scope"] == "source"}
    assert sources["CC-01"]["kept"] == 2 and sources["dump-01"]["quarantined"] == 1
    assert f"{uri}/manifest.json" in by_key["ingest-manifest"].data


def test_cli_ingest_without_prefect(ray_cluster, tmp_path: Path) -> None:
    from flows.cli import app

    crawl = small_crawl(tmp_path / "crawl")
    cfg = tmp_path / "ingest.yaml"
    cfg.write_text("rows_per_shard: 2\nnormalize:\n  max_blank_lines: 1\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["ingest", str(crawl / "dump-01"), str(crawl / "dump-02" / "b.jsonl"), "--out", str(out), "--source", "demo", "--no-prefect", "--config", str(cfg)])
    assert result.exit_code == 0, result.output
    uri = result.output.strip().splitlines()[0]
    assert uri.startswith(str(out / "ingest-"))
    assert '"kept": 3' in result.output
    ds = open_dataset(uri)
    assert ds.manifest.config["rows_per_shard"] == 2 and ds.manifest.config["source"] == "demo"
    assert max(s.rows for s in ds.shards("data")) == 2
    assert set(ds.read_all().column("source").to_pylist()) == {"CC-01", "demo"}

    bad = CliRunner().invoke(app, ["ingest", str(tmp_path / "nope"), "--out", str(out), "--no-prefect"])
    assert bad.exit_code == 2 and "no such file or directory" in bad.output
    cfg.write_text("rows_per_shard: 2\nbogus: 1\n")
    bad_cfg = CliRunner().invoke(app, ["ingest", str(crawl), "--out", str(out), "--no-prefect", "--config", str(cfg)])
    assert bad_cfg.exit_code == 2 and "ingest.yaml: unknown key 'bogus'; IngestConfig keys:" in bad_cfg.output
