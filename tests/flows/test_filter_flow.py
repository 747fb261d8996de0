"""The filter Prefect flow (test harness) and the ``longterm filter`` / ``train-quality-classifier`` CLI."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from flows.cli import app
from storage import open_dataset
from tests.flows.run_artifacts_of import artifacts_of, progress_of
from tests.tasks.filter_samples import EN_SENTENCES, ZH_SENTENCES
from tests.tasks.test_filter import DOCS, make_documents


def test_filter_flow_publishes_funnel_artifacts(prefect_harness, ray_cluster, tmp_path: Path) -> None:
    from flows.filter import filter_flow

    src = make_documents(tmp_path / "in")
    state = filter_flow(src, str(tmp_path / "out"), {"langid": {"keep": ["en", "zh"]}}, return_state=True)
    uri = state.result()
    m = open_dataset(uri).manifest
    assert m.counts.input == len(DOCS) and m.counts.is_conserved()

    arts = artifacts_of(state.state_details.flow_run_id)
    assert {"filter-funnel", "filter-summary", "filter-manifest"} <= set(arts)
    funnel = {(r["scope"], r["name"]): r for r in arts["filter-funnel"]}
    whole = funnel[("all", "filter")]
    assert (whole["input"], whole["kept"], whole["dropped"]) == (len(DOCS), m.counts.kept, m.counts.dropped_total)
    assert {name for scope, name in funnel if scope == "lang"} == set(m.stats["by_lang"])
    assert sum(r["input"] for (scope, _), r in funnel.items() if scope == "lang") == len(DOCS)
    assert m.code_digest and f"code digest `{m.code_digest[:16]}`" in arts["filter-summary"]
    # live progress: the flow passed a callback into run_filter; its artifact ends at 100% with the last event
    percent, description = progress_of(state.state_details.flow_run_id, "filter-progress")
    assert percent == 100.0 and description.startswith("filter: 2/2 shards (100%)") and "docs/s" in description, description

    # force=True recomputes into a fresh version that LATEST names; the old one stays
    forced = filter_flow(src, str(tmp_path / "out"), {"langid": {"keep": ["en", "zh"]}}, force=True)
    assert forced != uri and Path(forced).name.startswith(Path(uri).name + "-f")
    assert open_dataset(str(tmp_path / "out")).uri == forced and open_dataset(uri).digest == open_dataset(forced).digest


def test_cli_filter_without_prefect_and_classifier_training(ray_cluster, tmp_path: Path) -> None:
    runner = CliRunner()
    src = make_documents(tmp_path / "in")
    cfg = tmp_path / "filter.json"
    cfg.write_text(json.dumps({"langid": {"keep": ["en"]}}))
    res = runner.invoke(app, ["filter", src, "--out", str(tmp_path / "out"), "--config", str(cfg), "--no-prefect"])
    assert res.exit_code == 0, res.output
    assert "lang_unsupported" in res.output
    assert open_dataset(str(tmp_path / "out")).manifest.config["langid"]["keep"] == ["en"]
    first = open_dataset(str(tmp_path / "out")).uri
    again = runner.invoke(app, ["filter", src, "--out", str(tmp_path / "out"), "--config", str(cfg), "--no-prefect"])
    assert again.exit_code == 0 and first in again.output, "a rerun reuses the version"
    forced = runner.invoke(app, ["filter", src, "--out", str(tmp_path / "out"), "--config", str(cfg), "--no-prefect", "--force"])
    assert forced.exit_code == 0, forced.output
    assert open_dataset(str(tmp_path / "out")).uri != first and open_dataset(str(tmp_path / "out")).uri in forced.output

    bad = runner.invoke(app, ["filter", str(tmp_path / "missing"), "--out", str(tmp_path / "o2"), "--no-prefect"])
    assert bad.exit_code == 2 and "no such dataset" in bad.output

    pos, neg = tmp_path / "pos.txt", tmp_path / "neg.jsonl"
    pos.write_text("\n".join(EN_SENTENCES * 5))
    neg.write_text("\n".join(json.dumps({"text": s}) for s in ZH_SENTENCES * 5))
    model = tmp_path / "qc.bin"
    res = runner.invoke(app, ["train-quality-classifier", "--positive", str(pos), "--negative", str(neg), "--out", str(model)])
    assert res.exit_code == 0, res.output
    assert model.is_file() and "40 positive and 40 negative" in res.output
