"""SFT data: read conversation JSONL, apply the chat template, truncate, and pack with segment ids.

Accepted records (one JSON object per line, ``.jsonl`` or ``.jsonl.gz``):

- ``{"messages": [{"role": "user"|"assistant"|"system", "content": ...}, ...], "system": optional}``
- ShareGPT: ``{"conversations": [{"from": "human"|"gpt"|"system", "value": ...}, ...]}``
- Alpaca: ``{"instruction", "input" (optional), "output"}``; prompt/response: ``{"prompt", "response"|"completion"}``
- Self-Instruct tasks: ``{"instruction", "instances": [{"input", "output"}, ...]}`` -> one conversation per instance

Outcome of every record is counted (:class:`SFTStats`): ``kept``, ``truncated`` (kept, but cut),
and skipped by reason: ``bad_json``, ``bad_conversation`` (roles out of order, missing content),
``no_assistant_turn``, ``empty_after_truncation``.

Truncation rule (documented in docs/align.md): a conversation whose template encoding is longer than
``max_tokens`` (= ``seq_len + 1``: inputs and shifted targets) is first cut at the last whole turn
boundary that fits and still ends with an assistant turn; if even the first exchange does not fit,
its tokens are cut at ``max_tokens`` (the head is kept, the end of the first reply is lost). A cut
conversation that keeps no assistant token is skipped (``empty_after_truncation``).

Packing: each conversation becomes ``inputs = ids[:-1]``, ``targets = ids[1:]`` with the mask shifted
the same way, so no target ever crosses into the next conversation. Conversations are placed into
rows of ``seq_len`` by first-fit decreasing; every conversation in a row gets its own segment id
(1, 2, ...), padding gets segment 0 and no loss. The model turns segment ids into block-diagonal
causal attention with positions restarting per conversation, so packing changes no logit.
"""

from __future__ import annotations

import bisect
import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from model.chat import ChatTokenizer, ConversationError, Message, encode_conversation, parse_messages

IGNORE_INDEX = -100


@dataclass
class SFTStats:
    records: int = 0  # input lines
    conversations: int = 0  # conversations read (a Self-Instruct record can hold several)
    kept: int = 0
    truncated: int = 0  # of kept
    skipped: dict[str, int] = field(default_factory=dict)
    loss_tokens: int = 0

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def to_dict(self) -> dict[str, Any]:
        return {"records": self.records, "conversations": self.conversations, "kept": self.kept, "truncated": self.truncated,
                "skipped": dict(sorted(self.skipped.items())), "loss_tokens": self.loss_tokens}


@dataclass
class Example:
    ids: list[int]
    mask: list[int]


def open_text(path: str | Path) -> Any:
    path = str(path)
    return gzip.open(path, "rt", encoding="utf-8") if path.endswith(".gz") else open(path, encoding="utf-8")


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any] | None]]:
    """(line number, object or None when the line is not a JSON object); blank lines are ignored."""
    with open_text(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                yield n, None
                continue
            yield n, obj if isinstance(obj, dict) else None


def conversations_of(record: dict[str, Any]) -> list[list[Message]]:
    """All conversations in one record of any accepted layout; raises ConversationError."""
    system = record.get("system") if isinstance(record.get("system"), str) else None
    if "messages" in record:
        return [parse_messages(record["messages"], system=system)]
    if "conversations" in record:
        return [parse_messages(record["conversations"], system=system)]
    if "instruction" in record and isinstance(record.get("instances"), list):
        return [_instruction_pair(record["instruction"], inst.get("input", ""), inst.get("output"), system)
                for inst in record["instances"] if isinstance(inst, dict)]
    if "instruction" in record:
        return [_instruction_pair(record["instruction"], record.get("input", ""), record.get("output"), system)]
    if "prompt" in record:
        reply = record.get("response", record.get("completion"))
        return [_instruction_pair(record["prompt"], "", reply, system)]
    raise ConversationError("record has none of messages / conversations / instruction / prompt")


def _instruction_pair(instruction: Any, inp: Any, output: Any, system: str | None) -> list[Message]:
    if not isinstance(instruction, str) or not instruction.strip():
        raise ConversationError("empty instruction")
    user = instruction if not inp else f"{instruction}\n\n{inp}"
    msgs = [Message("user", user)]
    if isinstance(output, str) and output.strip():
        msgs.append(Message("assistant", output))
    return ([Message("system", system)] if system else []) + msgs


def truncate_conversation(tok: ChatTokenizer, messages: list[Message], max_tokens: int) -> tuple[list[int], list[int], bool]:
    """Encode and apply the truncation rule of the module docstring; returns (ids, mask, was_cut)."""
    ids, mask = encode_conversation(tok, messages)
    if len(ids) <= max_tokens:
        return ids, mask, False
    # drop whole trailing turns while the conversation still ends with an assistant turn
    for end in range(len(messages) - 1, 0, -1):
        if messages[end - 1].role != "assistant":
            continue
        ids, mask = encode_conversation(tok, messages[:end])
        if len(ids) <= max_tokens:
            return ids, mask, True
    ids, mask = encode_conversation(tok, messages)
    return ids[:max_tokens], mask[:max_tokens], True


def load_sft_examples(path: str | Path, tok: ChatTokenizer, max_tokens: int, stats: SFTStats | None = None) -> tuple[list[Example], SFTStats]:
    """Read, template and truncate every conversation of a JSONL file, counting each outcome."""
    stats = stats or SFTStats()
    examples: list[Example] = []
    for _, record in iter_jsonl(path):
        stats.records += 1
        if record is None:
            stats.conversations += 1
            stats.skip("bad_json")
            continue
        try:
            convs = conversations_of(record)
        except ConversationError:
            convs = []
        if not convs:
            stats.conversations += 1
            stats.skip("bad_conversation")
            continue
        for messages in convs:
            stats.conversations += 1
            if not any(m.role == "assistant" for m in messages):
                stats.skip("no_assistant_turn")
                continue
            ids, mask, cut = truncate_conversation(tok, messages, max_tokens)
            if sum(mask[1:]) == 0:
                stats.skip("empty_after_truncation")
                continue
            stats.kept += 1
            stats.truncated += int(cut)
            stats.loss_tokens += sum(mask[1:])
            examples.append(Example(ids, mask))
    return examples, stats


# ----------------------------------------------------------------------------- packing


@dataclass
class PackedBatch:
    inputs: torch.Tensor  # [B, T] long
    targets: torch.Tensor  # [B, T] long, IGNORE_INDEX where there is no loss
    segment_ids: torch.Tensor  # [B, T] long, 0 = padding

    @property
    def num_loss_tokens(self) -> int:
        return int((self.targets != IGNORE_INDEX).sum())


def pack_rows(examples: list[Example], seq_len: int) -> list[list[int]]:
    """First-fit-decreasing bins of example indices; each bin's total (len - 1) fits in ``seq_len``."""
    order = sorted(range(len(examples)), key=lambda i: (-len(examples[i].ids), i))
    rows: list[list[int]] = []
    free: list[tuple[int, int]] = []  # sorted (remaining capacity, row index)
    for i in order:
        need = len(examples[i].ids) - 1
        if need > seq_len:
            raise ValueError(f"example {i} needs {need} positions but seq_len is {seq_len}; truncate first")
        k = bisect.bisect_left(free, (need, -1))  # smallest remaining capacity that fits (best fit)
        if k < len(free):
            cap, r = free.pop(k)
            rows[r].append(i)
            bisect.insort(free, (cap - need, r))
        else:
            rows.append([i])
            bisect.insort(free, (seq_len - need, len(rows) - 1))
    return rows


def collate_packed(examples: list[Example], rows: list[list[int]], seq_len: int, pad_id: int) -> PackedBatch:
    """Tensors for the given packed rows (see the module docstring)."""
    B = len(rows)
    inputs = torch.full((B, seq_len), pad_id, dtype=torch.long)
    targets = torch.full((B, seq_len), IGNORE_INDEX, dtype=torch.long)
    segments = torch.zeros((B, seq_len), dtype=torch.long)
    for b, row in enumerate(rows):
        pos = 0
        for seg, i in enumerate(row, 1):
            ids, mask = examples[i].ids, examples[i].mask
            n = len(ids) - 1
            inputs[b, pos : pos + n] = torch.tensor(ids[:-1])
            tgt = torch.tensor(ids[1:])
            tgt[torch.tensor(mask[1:]) == 0] = IGNORE_INDEX
            targets[b, pos : pos + n] = tgt
            segments[b, pos : pos + n] = seg
            pos += n
    return PackedBatch(inputs, targets, segments)


class PackedSFTLoader:
    """Epochs over packed rows in a seeded order; resumable with ``state_dict`` / ``load_state_dict``.

    With several ranks every step takes ``batch_size * world_size`` rows of the shared order and rank r
    gets the r-th slice, so ranks never see the same row in a step."""

    def __init__(self, examples: list[Example], seq_len: int, batch_size: int, pad_id: int, seed: int = 0,
                 rank: int = 0, world_size: int = 1) -> None:
        if not examples:
            raise ValueError("no SFT examples to train on (every record was skipped; see the skip counts)")
        self.examples, self.seq_len, self.batch_size, self.pad_id, self.seed = examples, seq_len, batch_size, pad_id, seed
        self.rank, self.world_size = rank, world_size
        self.rows = pack_rows(examples, seq_len)
        self.epoch, self.cursor = 0, 0
        self._order = self._epoch_order()

    def _epoch_order(self) -> list[int]:
        g = torch.Generator().manual_seed(self.seed * 100003 + self.epoch)
        return torch.randperm(len(self.rows), generator=g).tolist()

    @property
    def batches_per_epoch(self) -> int:
        return max(1, -(-len(self.rows) // (self.batch_size * self.world_size)))

    def next_batch(self) -> PackedBatch:
        if self.cursor >= len(self._order):
            self.epoch += 1
            self.cursor = 0
            self._order = self._epoch_order()
        step_rows = self._order[self.cursor : self.cursor + self.batch_size * self.world_size]
        self.cursor += self.batch_size * self.world_size
        idx = step_rows[self.rank * self.batch_size : (self.rank + 1) * self.batch_size] or step_rows[:1]
        return collate_packed(self.examples, [self.rows[i] for i in idx], self.seq_len, self.pad_id)

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "cursor": self.cursor, "seed": self.seed, "num_rows": len(self.rows)}

    def load_state_dict(self, state: dict[str, int]) -> None:
        if state.get("num_rows") != len(self.rows):
            raise ValueError(f"loader state is for {state.get('num_rows')} packed rows, this data packs into {len(self.rows)}")
        self.seed, self.epoch, self.cursor = state["seed"], state["epoch"], state["cursor"]
        self._order = self._epoch_order()
