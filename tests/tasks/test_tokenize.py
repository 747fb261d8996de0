"""tokenize stage: token shards, split by id hash, per-language validation, stats, empty texts, Ray vs local."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from model.data import TokenLoader
from model.tokenizer import Tokenizer
from storage import DatasetError, open_dataset
from tasks.ops.tokenize import TokenizeConfig, split_of
from tasks.ops.tokenizer_training import TokenizerTrainConfig
from tasks.tokenize import run_tokenize
from tasks.train_tokenizer import run_train_tokenizer
from tests.tasks.tokens_fixtures import make_documents, write_documents

TOK_CFG = TokenizerTrainConfig(vocab_size=800, character_coverage=0.995, heldout_fraction=0.1, num_threads=1)
CFG = TokenizeConfig(val_fraction=0.2, max_shard_tokens=1000)


@pytest.fixture(scope="module")
def docs() -> list[dict]:
    docs = make_documents(num_en=50, num_zh=30)
    for i, d in enumerate(docs):
        d["metadata"] = json.dumps({"group": "news" if i % 3 == 0 else "other"})
    docs[5]["text"] = ""  # empty texts are dropped with a reason, not lost
    docs[55]["text"] = ""
    return docs


@pytest.fixture(scope="module")
def env(docs: list[dict], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("tokenize")
    doc_uri = write_documents(root / "docs", docs, shards=3)
    tok_uri = run_train_tokenizer(doc_uri, str(root / "tokenizer"), TOK_CFG)
    out = run_tokenize(doc_uri, tok_uri, str(root / "tokens"), CFG, executor="local")
    return {"docs": doc_uri, "tokenizer": tok_uri, "tokens": out, "root": str(root)}


def _decode_stream(tok: Tokenizer, tokens: np.ndarray) -> list[str]:
    ends = np.flatnonzero(tokens == tok.eos_id)
    starts = np.concatenate([[0], ends[:-1] + 1])
    return [tok.decode(tokens[s:e]) for s, e in zip(starts, ends)]


def test_shards_hold_every_document_in_order(env: dict[str, str], docs: list[dict]) -> None:
    ds = open_dataset(env["tokens"], kind="tokens")
    tok = Tokenizer.load(env["tokenizer"])
    stats = ds.manifest.stats
    assert stats["dtype"] == "uint16" and stats["eos_id"] == tok.eos_id and stats["tokenizer_digest"] == tok.digest
    train = np.concatenate([ds.read_shard(s).column("tokens").to_numpy() for s in ds.shards("train")])
    assert train.dtype == np.uint16 and len(train) == stats["tokens"]["train"]
    assert len(ds.shards("train")) > 3  # max_shard_tokens rolled over within input shards
    kept = [d for d in docs if d["text"]]
    assert _decode_stream(tok, train) == [d["text"] for d in kept if split_of(d["id"], CFG) == "train"]
    for shard in ds.shards("val"):
        lang = shard.attrs["lang"]
        tokens = ds.read_shard(shard).column("tokens").to_numpy()
        texts = _decode_stream(tok, tokens)
        assert texts and all(t in {d["text"] for d in kept if d["lang"] == lang and split_of(d["id"], CFG) == "val"} for t in texts)
    assert {s.attrs["lang"] for s in ds.shards("val")} == {"en", "zh"}
    assert sum(s.rows for s in ds.shards("val")) == stats["tokens"]["val"]


def test_counts_and_stats(env: dict[str, str], docs: list[dict]) -> None:
    m = open_dataset(env["tokens"]).manifest
    assert m.counts.input == len(docs) and m.counts.kept == len(docs) - 2
    assert m.counts.dropped == {"tokenize_empty_text": 2}
    dropped = open_dataset(env["tokens"]).read_all("dropped")
    assert sorted(dropped.column("id").to_pylist()) == sorted([docs[5]["id"], docs[55]["id"]])
    tokens = m.stats["tokens"]
    assert set(tokens["by_group"]) == {"news", "other"}
    for breakdown in ("by_lang", "by_group"):
        assert sum(v["train"] for v in tokens[breakdown].values()) == tokens["train"]
        assert sum(v["val"] for v in tokens[breakdown].values()) == tokens["val"]
    n_val = sum(1 for d in docs if d["text"] and split_of(d["id"], CFG) == "val")
    assert sum(v["val"] for v in m.stats["docs"]["by_lang"].values()) == n_val
    assert m.stats["by_lang"]["zh"]["dropped"] == {"tokenize_empty_text": 1}
    assert 1.0 < m.stats["bytes_per_token"]["en"] < 8.0


def test_rerun_is_a_no_op(env: dict[str, str]) -> None:
    assert run_tokenize(env["docs"], env["tokenizer"], str(Path(env["tokens"]).parent), CFG, executor="local") == env["tokens"]


def test_loader_reads_the_stage_output_and_checks_the_tokenizer(env: dict[str, str], tmp_path: Path) -> None:
    tok = Tokenizer.load(env["tokenizer"])
    loader = TokenLoader(env["tokens"], seq_len=32, batch_size=2, tokenizer=tok)
    x, y = loader.next_batch()
    assert int(x.max()) < tok.vocab_size and torch_equal_shift(x, y)
    other = run_train_tokenizer(env["docs"], str(tmp_path / "other"), TokenizerTrainConfig(
        vocab_size=600, character_coverage=0.99, heldout_fraction=0.1, num_threads=1))
    with pytest.raises(DatasetError, match=r"shards were tokenized with tokenizer sha256 \w+ \(vocab \d+.* but the tokenizer at .*other"):
        TokenLoader(env["tokens"], seq_len=32, tokenizer=Tokenizer.load(other))


def torch_equal_shift(x, y) -> bool:
    return bool((x[:, 1:] == y[:, :-1]).all())


def test_all_empty_texts_refused(env: dict[str, str], tmp_path: Path) -> None:
    uri = write_documents(tmp_path / "empty", [{"id": f"e{i}", "text": "", "lang": "en"} for i in range(4)], shards=2)
    with pytest.raises(ValueError, match=r"nothing to tokenize: all 4 documents have empty text"):
        run_tokenize(uri, env["tokenizer"], str(tmp_path / "tokens"), CFG, executor="local")


def test_rerun_after_a_crash_publishes_the_clean_digest(env: dict[str, str], tmp_path: Path) -> None:
    out = run_tokenize(env["docs"], env["tokenizer"], str(tmp_path / "tokens"), CFG, executor="local")
    clean = open_dataset(out).manifest
    assert clean.code_digest and clean.digest == open_dataset(env["tokens"]).digest, "same inputs, same digest anywhere"
    # killed before publishing: no manifest, one token shard lost
    Path(out, "manifest.json").unlink()
    next(Path(out, "train").glob("*.arrow")).unlink()
    again = run_tokenize(env["docs"], env["tokenizer"], str(tmp_path / "tokens"), CFG, executor="local")
    assert again == out and open_dataset(again).digest == clean.digest
