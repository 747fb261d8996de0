"""Token-stage flows under Prefect's test harness on the real Ray cluster, and the CLI commands."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from storage import open_dataset
from tasks.ops.tokenize import TokenizeConfig
from tasks.ops.tokenizer_training import TokenizerTrainConfig
from tasks.tokenize import run_tokenize
from tasks.train_tokenizer import run_train_tokenizer
from tests.tasks.tokens_fixtures import make_documents, write_documents

TOK_CFG = TokenizerTrainConfig(vocab_size=700, character_coverage=0.995, heldout_fraction=0.1, num_threads=1)


def test_tokenize_flow_on_ray_matches_local_and_publishes_counts(prefect_harness, ray_cluster, tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    from flows.tokenize import tokenize_flow

    docs = make_documents(num_en=40, num_zh=20)
    for i, d in enumerate(docs):
        d["metadata"] = json.dumps({"group": "news" if i % 2 else "forum"})
    doc_uri = write_documents(tmp_path / "docs", docs, shards=2)
    tok_uri = run_train_tokenizer(doc_uri, str(tmp_path / "tok"), TOK_CFG)
    cfg = TokenizeConfig(val_fraction=0.2)
    local = open_dataset(run_tokenize(doc_uri, tok_uri, str(tmp_path / "local"), cfg, executor="local")).manifest

    state = tokenize_flow(doc_uri, tok_uri, str(tmp_path / "tokens"), cfg, return_state=True)
    assert state.is_completed()
    ds = open_dataset(state.result(), kind="tokens")
    ds.verify()
    # Ray workers write byte-identical shards to the in-process run
    assert [(s.path, s.sha256) for s in ds.manifest.shards] == [(s.path, s.sha256) for s in local.shards]

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])))
    by_key = {a.key: a for a in artifacts}
    assert {"tokenize-funnel", "tokenize-summary", "tokenize-manifest", "tokenize-tokens"} <= set(by_key)
    data = by_key["tokenize-tokens"].data
    rows = json.loads(data) if isinstance(data, str) else data
    groups = {r["name"]: r for r in rows if r["breakdown"] == "group"}
    assert set(groups) == {"news", "forum"}
    assert sum(r["train_tokens"] for r in groups.values()) == ds.manifest.stats["tokens"]["train"]


def test_cli_train_tokenizer_and_refusal(tmp_path: Path) -> None:
    from flows.cli import app

    doc_uri = write_documents(tmp_path / "docs", make_documents(num_en=20, num_zh=10), shards=1)
    result = CliRunner().invoke(app, ["train-tokenizer", doc_uri, "--out", str(tmp_path / "tok"), "--vocab-size", "500",
                                      "--character-coverage", "0.99", "--no-prefect"])
    assert result.exit_code == 0, result.output
    assert "train_tokenizer-" in result.output and "vocab=500, padded=512" in result.output
    empty = write_documents(tmp_path / "empty", [{"id": "e", "text": "", "lang": "en"}], shards=1)
    result = CliRunner().invoke(app, ["train-tokenizer", empty, "--out", str(tmp_path / "tok2"), "--no-prefect"])
    assert result.exit_code == 2 and "no text to train a tokenizer on (1 documents, 1 with empty text)" in result.output
    result = CliRunner().invoke(app, ["remix", doc_uri, "--out", str(tmp_path / "r"), "--config", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2 and "nope.yaml: cannot read the remix config" in result.output
