"""Tokenizer wrapper: exact round trip, special ids, vocab padding, loading and refusing bad directories."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from model.tokenizer import CHAT_MARKERS, Tokenizer, pad_vocab_size, token_dtype_for
from storage import DatasetError
from tasks.ops.tokenizer_training import TokenizerTrainConfig
from tasks.train_tokenizer import run_train_tokenizer
from tests.tasks.tokens_fixtures import HARD_TEXTS, make_documents, write_documents

CFG = TokenizerTrainConfig(vocab_size=800, character_coverage=0.995, heldout_fraction=0.1, num_threads=1)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[dict]]:
    docs = make_documents()
    return write_documents(tmp_path_factory.mktemp("docs"), docs), docs


@pytest.fixture(scope="module")
def tokenizer_dir(corpus: tuple[str, list[dict]], tmp_path_factory: pytest.TempPathFactory) -> str:
    return run_train_tokenizer(corpus[0], str(tmp_path_factory.mktemp("tok") / "tokenizer"), CFG)


def test_round_trip_every_document(tokenizer_dir: str, corpus: tuple[str, list[dict]]) -> None:
    tok = Tokenizer.load(tokenizer_dir)
    texts = [d["text"] for d in corpus[1]] + HARD_TEXTS + ["", " ", "\n", "▁", "<|user|>", "\x00\x7f\r"]
    for text in texts:
        assert tok.decode(tok.encode(text)) == text, repr(text)
        assert tok.decode(tok.encode(text, allow_special=False)) == text, repr(text)
    batch = tok.encode_batch(texts, eos=True)
    assert [tok.decode(ids) for ids in batch] == texts
    assert all(ids[-1] == tok.eos_id for ids in batch)
    assert batch[:-6] == [tok.encode(t, eos=True) for t in texts[:-6]]


def test_special_ids_and_padding(tokenizer_dir: str) -> None:
    tok = Tokenizer.load(tokenizer_dir)
    assert (tok.unk_id, tok.bos_id, tok.eos_id, tok.pad_id) == (0, 1, 2, 3)
    assert list(tok.special_ids) == list(CHAT_MARKERS)
    assert sorted(tok.special_ids.values()) == [4, 5, 6, 7]
    assert tok.padded_vocab_size % 128 == 0 and tok.vocab_size <= tok.padded_vocab_size < tok.vocab_size + 128
    # chat markers: one id with allow_special, plain bytes/pieces without
    assert tok.encode("<|user|>") == [tok.special_ids["<|user|>"]]
    assert tok.special_ids["<|user|>"] not in tok.encode("<|user|>", allow_special=False)
    # BOS/EOS and padding ids decode to nothing; ids beyond the padded vocab are refused
    assert tok.decode([tok.bos_id, *tok.encode("hi"), tok.eos_id, tok.vocab_size]) == "hi"
    with pytest.raises(ValueError, match="outside the vocabulary"):
        tok.decode([tok.padded_vocab_size])


def test_digits_split_and_byte_fallback(tokenizer_dir: str) -> None:
    tok = Tokenizer.load(tokenizer_dir)
    pieces = [tok.id_to_piece(i) for i in tok.encode("year 2024")]
    assert pieces[-4:] == ["2", "0", "2", "4"]
    ids = tok.encode("𠀀")  # CJK Ext-B, never seen in training: four UTF-8 byte tokens
    assert [tok.id_to_piece(i) for i in ids] == ["<0xF0>", "<0xA0>", "<0x80>", "<0x80>"]


def test_pad_vocab_size_and_dtype() -> None:
    assert pad_vocab_size(100_015) == 100_096 and pad_vocab_size(128) == 128 and pad_vocab_size(129) == 256
    assert token_dtype_for(65_536) == "uint16" and token_dtype_for(102_400) == "uint32"


def test_training_is_deterministic_and_content_addressed(corpus: tuple[str, list[dict]], tokenizer_dir: str, tmp_path: Path) -> None:
    again = run_train_tokenizer(corpus[0], str(tmp_path / "tok2"), CFG)
    assert Tokenizer.load(again).digest == Tokenizer.load(tokenizer_dir).digest
    # same input and config under the same root: the published version is reused
    assert run_train_tokenizer(corpus[0], str(Path(tokenizer_dir).parent), CFG) == tokenizer_dir
    meta = json.loads((Path(tokenizer_dir) / "tokenizer.json").read_text())
    assert meta["sample"]["heldout"] > 0 and meta["sample"]["trained_on"] > 0
    assert set(meta["sample"]["by_lang"]) == {"en", "zh"}


def test_empty_texts_refused(tmp_path: Path) -> None:
    docs = [{"id": f"e{i}", "text": "", "lang": "en"} for i in range(3)]
    uri = write_documents(tmp_path / "empty", docs, shards=1)
    with pytest.raises(ValueError, match=r"no text to train a tokenizer on \(3 documents, 3 with empty text\)") as e:
        run_train_tokenizer(uri, str(tmp_path / "tok"), CFG)
    assert str(tmp_path / "empty") in str(e.value)


def test_mixed_directory_refused(tokenizer_dir: str, corpus: tuple[str, list[dict]], tmp_path: Path) -> None:
    other = run_train_tokenizer(corpus[0], str(tmp_path / "other"), TokenizerTrainConfig(
        vocab_size=600, character_coverage=0.99, heldout_fraction=0.1, num_threads=1))
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (mixed / "tokenizer.model").write_bytes((Path(other) / "tokenizer.model").read_bytes())
    (mixed / "tokenizer.json").write_text((Path(tokenizer_dir) / "tokenizer.json").read_text())
    with pytest.raises(DatasetError, match=r"mixed: tokenizer.json describes a model with vocab \d+ .* tokenizer.model has vocab"):
        Tokenizer.load(str(mixed))
    swapped = Path(tmp_path / "swapped")
    shutil.copytree(tokenizer_dir, swapped)
    (swapped / "tokenizer.model").write_bytes((Path(other) / "tokenizer.model").read_bytes())
    with pytest.raises(DatasetError, match="tokenizer.model"):
        Tokenizer.load(str(swapped))


def test_round_trip_on_real_text(tokenizer_dir: str, shared_data: Path) -> None:
    import gzip

    tok = Tokenizer.load(tokenizer_dir)
    for rel in ("text_en_wikitext2/wikitext-2_valid.txt.gz", "text_zh_hongloumeng/hongloumeng.txt.gz",
                "eval_humaneval/HumanEval.jsonl.gz"):
        text = gzip.open(shared_data / rel, "rt", encoding="utf-8").read()[:300_000]
        chunks = [text[i : i + 5000] for i in range(0, len(text), 5000)]
        assert [tok.decode(ids) for ids in tok.encode_batch(chunks)] == chunks, rel
