"""The filter Prefect flow (test harness) and the ``longterm filter`` / ``train-quality-classifier`` CLI."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from flows.cli import app
from storage import open_dataset
from tests.tasks.filter_samples import EN_SENTENCES, ZH_SENTENCES
from tests.tasks.test_filter import DOCS, make_documents


def test_filter_flow_publishes_funnel_artifacts(prefect_harness, ray_cluster, tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client

    from flows.filter import filter_flow

    src = make_documents(tmp_path / "in")
    uri = filter_flow(src, str(tmp_path / "out"), {"langid": {"keep": ["en", "zh"]}})
    m = open_dataset(uri).manifest
    assert m.counts.input == len(DOCS) and m.counts.is_conserved()

    import asyncio

    async def keys() -> set[str]:
        async with get_client() as client:
            return {a.key for a in await client.read_artifacts()}

    assert {"filter-funnel", "filter-summary", "filter-manifest"} <= asyncio.run(keys())


def test_cli_filter_without_prefect_and_classifier_training(ray_cluster, tmp_path: Path) -> None:
    runner = CliRunner()
    src = make_documents(tmp_path / "in")
    cfg = tmp_path / "filter.json"
    cfg.write_text(json.dumps({"langid": {"keep": ["en"]}}))
    res = runner.invoke(app, ["filter", src, "--out", str(tmp_path / "out"), "--config", str(cfg), "--no-prefect"])
    assert res.exit_code == 0, res.output
    assert "lang_unsupported" in res.output
    assert open_dataset(str(tmp_path / "out")).manifest.config["langid"]["keep"] == ["en"]

    bad = runner.invoke(app, ["filter", str(tmp_path / "missing"), "--out", str(tmp_path / "o2"), "--no-prefect"])
    assert bad.exit_code == 2 and "no such dataset" in bad.output

    pos, neg = tmp_path / "pos.txt", tmp_path / "neg.jsonl"
    pos.write_text("\n".join(EN_SENTENCES * 5))
    neg.write_text("\n".join(json.dumps({"text": s}) for s in ZH_SENTENCES * 5))
    model = tmp_path / "qc.bin"
    res = runner.invoke(app, ["train-quality-classifier", "--positive", str(pos), "--negative", str(neg), "--out", str(model)])
    assert res.exit_code == 0, res.output
    assert model.is_file() and "40 positive and 40 negative" in res.output
