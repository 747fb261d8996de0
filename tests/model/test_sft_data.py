"""SFT data: readers, counted skips, truncation rule, packing without attention or loss leaks."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from model.chat import Message
from model.logprobs import token_logprobs
from model.sft_data import (
    IGNORE_INDEX,
    Example,
    PackedSFTLoader,
    collate_packed,
    load_sft_examples,
    pack_rows,
    truncate_conversation,
)
from model.tokenizer import Tokenizer
from tests.model.align_fixtures import tiny_model, tiny_tok, tiny_tok_dir  # noqa: F401


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    return path


def test_reader_counts_every_outcome(tiny_tok: Tokenizer, tmp_path: Path) -> None:
    rows = [
        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]},
        {"messages": [{"role": "user", "content": "only a question"}]},  # no assistant turn
        {"messages": [{"role": "assistant", "content": "starts wrong"}]},  # bad order
        "{not json",
        {"instruction": "Add", "input": "1 and 2", "output": "3"},  # Alpaca
        {"instruction": "Name a colour", "instances": [{"input": "", "output": "red"}, {"input": "", "output": "blue"}]},
        {"prompt": "写一首诗", "response": "春眠不觉晓"},
        {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}], "system": "sys"},
        {"messages": [{"role": "user", "content": "long " * 200}, {"role": "assistant", "content": "x"}]},
    ]
    examples, stats = load_sft_examples(write_jsonl(tmp_path / "d.jsonl", rows), tiny_tok, max_tokens=64)
    assert stats.records == 9 and stats.conversations == 10
    assert stats.skipped == {"bad_conversation": 1, "bad_json": 1, "no_assistant_turn": 1, "empty_after_truncation": 1}
    assert stats.kept == len(examples) == 6
    assert stats.conversations == stats.kept + sum(stats.skipped.values())
    assert all(len(e.ids) <= 64 and sum(e.mask) > 0 for e in examples)


def test_truncation_drops_whole_turns_first(tiny_tok: Tokenizer) -> None:
    msgs = [Message("user", "short question"), Message("assistant", "short answer"),
            Message("user", "second question " * 20), Message("assistant", "second answer " * 20)]
    full_ids, _, cut = truncate_conversation(tiny_tok, msgs, 10_000)
    assert not cut
    ids, mask, cut = truncate_conversation(tiny_tok, msgs, 40)
    assert cut and len(ids) <= 40
    assert ids == truncate_conversation(tiny_tok, msgs[:2], 10_000)[0]  # first exchange kept whole
    long_reply = [Message("user", "q"), Message("assistant", "second answer " * 20)]
    alone, _, _ = truncate_conversation(tiny_tok, long_reply, 10_000)
    ids, mask, cut = truncate_conversation(tiny_tok, long_reply, 30)  # the first exchange alone is too long
    assert cut and ids == alone[:30] and sum(mask) > 0  # tokens cut, head kept


def test_packing_fits_and_keeps_every_example() -> None:
    lengths = [30, 5, 17, 9, 33, 2, 12, 25]
    examples = [Example(list(range(n)), [1] * n) for n in lengths]
    rows = pack_rows(examples, seq_len=32)
    assert sorted(i for r in rows for i in r) == list(range(len(examples)))
    assert all(sum(len(examples[i].ids) - 1 for i in r) <= 32 for r in rows)
    assert len(rows) == 4  # 125 positions: first-fit decreasing reaches the minimum ceil(125 / 32)


def test_packed_logits_and_losses_equal_each_conversation_alone(tiny_tok: Tokenizer, tmp_path: Path) -> None:
    rows = [
        {"messages": [{"role": "user", "content": "What is the capital of France?"}, {"role": "assistant", "content": "Paris."}]},
        {"messages": [{"role": "user", "content": "今天天气怎么样？"}, {"role": "assistant", "content": "很好。"},
                      {"role": "user", "content": "谢谢"}, {"role": "assistant", "content": "不客气"}]},
        {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"},
                      {"role": "assistant", "content": "4"}]},
        {"messages": [{"role": "user", "content": "Write add."}, {"role": "assistant", "content": "def add(a, b): return a + b"}]},
    ]
    examples, _ = load_sft_examples(write_jsonl(tmp_path / "c.jsonl", rows), tiny_tok, max_tokens=97)
    seq_len = 96
    packed_rows = pack_rows(examples, seq_len)
    assert any(len(r) > 1 for r in packed_rows), "the test needs at least one row with several conversations"
    batch = collate_packed(examples, packed_rows, seq_len, tiny_tok.pad_id)
    model = tiny_model(tiny_tok.padded_vocab_size)
    with torch.no_grad():
        packed_logits = model(batch.inputs, segment_ids=batch.segment_ids)
        packed_lp = token_logprobs(model, batch.inputs, batch.targets, segment_ids=batch.segment_ids)
    checked = 0
    for b, row in enumerate(packed_rows):
        pos = 0
        for i in row:
            ex = examples[i]
            n = len(ex.ids) - 1
            x = torch.tensor([ex.ids[:-1]])
            y = torch.tensor([[t if m else IGNORE_INDEX for t, m in zip(ex.ids[1:], ex.mask[1:])]])
            with torch.no_grad():
                alone = model(x)
                alone_lp = token_logprobs(model, x, y)
            torch.testing.assert_close(packed_logits[b, pos : pos + n], alone[0], rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(packed_lp[b, pos : pos + n], alone_lp[0], rtol=1e-5, atol=1e-5)
            # the loss covers exactly this conversation's assistant tokens
            assert torch.equal(batch.targets[b, pos : pos + n], y[0])
            pos += n
            checked += 1
        assert (batch.segment_ids[b, pos:] == 0).all() and (batch.targets[b, pos:] == IGNORE_INDEX).all()
    assert checked == len(examples)
    # and without segment ids the same packed row does leak (the check above can fail)
    with torch.no_grad():
        leaky = model(batch.inputs)
    multi = next(b for b, r in enumerate(packed_rows) if len(r) > 1)
    assert not torch.allclose(leaky[multi], packed_logits[multi], atol=1e-5)


def test_loader_is_seeded_and_resumable() -> None:
    examples = [Example(list(range(1, n + 1)), [0] + [1] * (n - 1)) for n in (5, 9, 12, 3, 7, 20, 4, 6)]
    a = PackedSFTLoader(examples, seq_len=24, batch_size=2, pad_id=0, seed=3)
    first = [a.next_batch().inputs for _ in range(3)]
    state = a.state_dict()
    rest = [a.next_batch().inputs for _ in range(4)]
    b = PackedSFTLoader(examples, seq_len=24, batch_size=2, pad_id=0, seed=3)
    assert all(torch.equal(x, y) for x, y in zip(first, [b.next_batch().inputs for _ in range(3)]))
    c = PackedSFTLoader(examples, seq_len=24, batch_size=2, pad_id=0, seed=3)
    c.load_state_dict(state)
    assert all(torch.equal(x, y) for x, y in zip(rest, [c.next_batch().inputs for _ in range(4)]))


def test_real_self_instruct_file_reads(shared_data: Path, tiny_tok: Tokenizer) -> None:
    path = shared_data / "sft_self_instruct_human" / "seed_tasks.jsonl"
    examples, stats = load_sft_examples(path, tiny_tok, max_tokens=4096)
    assert stats.records == stats.kept == 175 and stats.truncated == 0  # one instance per seed task
    assert stats.conversations == stats.kept + sum(stats.skipped.values())
