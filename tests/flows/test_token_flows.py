"""Token-stage flows under Prefect's test harness on the real Ray cluster, and the CLI commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from model.data import TokenLoader
from model.tokenizer import Tokenizer
from storage import open_dataset
from tasks.ops.remix import RemixConfig
from tasks.ops.tokenize import TokenizeConfig
from tasks.ops.tokenizer_training import TokenizerTrainConfig
from tasks.tokenize import run_tokenize
from tasks.train_tokenizer import run_train_tokenizer
from tests.tasks.tokens_fixtures import make_documents, write_documents

TOK_CFG = TokenizerTrainConfig(vocab_size=700, character_coverage=0.995, heldout_fraction=0.1, num_threads=1)


def test_remix_tokenizer_tokenize_flows_on_ray(prefect_harness, ray_cluster, tmp_path: Path) -> None:
    """remix -> train-tokenizer -> tokenize as Prefect flows on Ray; tokenize is byte-identical to the
    in-process run; each flow publishes its artifacts; the loader reads the result."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    from flows.remix import remix_flow
    from flows.tokenize import tokenize_flow
    from flows.tokenizer import train_tokenizer_flow

    def artifacts_of(state) -> dict:
        with get_client(sync_client=True) as client:
            found = client.read_artifacts(artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])))
        return {a.key: (json.loads(a.data) if isinstance(a.data, str) and a.type == "table" else a.data) for a in found}

    doc_uri = write_documents(tmp_path / "docs", make_documents(num_en=40, num_zh=20), shards=2)
    targets = {"*": {"news": 0.4, "encyclopedia": 0.2, "forum": 0.2, "other": 0.2, "code": 0.0, "academic": 0.0}}
    remix_state = remix_flow(doc_uri, str(tmp_path / "remix"), RemixConfig(targets=targets), return_state=True)
    assert remix_state.is_completed()
    remix_uri = remix_state.result()
    mixture = artifacts_of(remix_state)["remix-mixture"]
    assert {r["group"] for r in mixture} >= {"news", "encyclopedia", "forum", "other"}

    tok_state = train_tokenizer_flow(remix_uri, str(tmp_path / "tok"), TOK_CFG, return_state=True)
    tok_uri = tok_state.result()
    assert "vocab 700 (padded 768)" in artifacts_of(tok_state)["train-tokenizer-card"]

    cfg = TokenizeConfig(val_fraction=0.2)
    state = tokenize_flow(remix_uri, tok_uri, str(tmp_path / "tokens"), cfg, return_state=True)
    assert state.is_completed()
    ds = open_dataset(state.result(), kind="tokens")
    ds.verify()
    local = open_dataset(run_tokenize(remix_uri, tok_uri, str(tmp_path / "local"), cfg, executor="local")).manifest
    assert [(s.path, s.sha256) for s in ds.manifest.shards] == [(s.path, s.sha256) for s in local.shards]
    found = artifacts_of(state)
    assert {"tokenize-funnel", "tokenize-summary", "tokenize-manifest", "tokenize-tokens"} <= set(found)
    groups = {r["name"]: r for r in found["tokenize-tokens"] if r["breakdown"] == "group"}
    assert set(groups) <= {"news", "encyclopedia", "forum", "other"} and len(groups) >= 3
    assert sum(r["train_tokens"] for r in groups.values()) == ds.manifest.stats["tokens"]["train"]
    # a wrong parameter fails the flow at once, naming the parameter
    bad = tokenize_flow(remix_uri, remix_uri, str(tmp_path / "bad"), return_state=True)
    assert bad.is_failed()
    with pytest.raises(ValueError, match=r"parameter 'tokenizer': .* is a 'documents' dataset .* a 'tokenizer' dataset is needed"):
        bad.result()
    x, y = TokenLoader(ds.uri, seq_len=16, batch_size=2, tokenizer=Tokenizer.load(tok_uri)).next_batch()
    assert x.shape == (2, 16) and bool((x[:, 1:] == y[:, :-1]).all())


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
    assert result.exit_code == 2 and "nope.yaml does not exist" in result.output
