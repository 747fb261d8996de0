"""Preference data for DPO: read pairs, apply the chat template, truncate, batch.

Accepted records (JSONL, optionally gzipped):

- ``{"prompt": str, "chosen": str, "rejected": str}`` (one user turn; optional ``"system"``)
- ``{"messages": [...conversation ending with a user turn...], "chosen": ..., "rejected": ...}``
- ``chosen`` / ``rejected`` may also be message lists (TRL conversational style); their last
  assistant message is the response, and earlier messages are the prompt when none is given.
- Anthropic HH-RLHF: ``{"chosen": "\\n\\nHuman: ...\\n\\nAssistant: ...", "rejected": "..."}``: both
  dialogues are split into turns; the shared turns are the prompt and the final Assistant turns
  are the two responses (``../shared/data/pref_hh_rlhf``).

Skipped and counted (:class:`PrefStats`): ``bad_json``, ``bad_record`` (no usable prompt or
responses), ``bad_conversation`` (turn order), ``hh_prefix_mismatch`` (the two dialogues differ
before their last turn), ``empty_response`` (chosen or rejected empty), ``identical_responses``.

Truncation (counted as ``truncated``): with ``max_len`` tokens for prompt + response, each response is
cut to at most ``max_len // 2`` tokens if needed; then the prompt keeps its **last**
``max_len - len(longest response)`` tokens (the start of a long dialogue is dropped, the question
being answered is kept).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from model.chat import ChatTokenizer, ConversationError, Message, check_turn_order, encode_conversation, marker_ids, parse_messages
from model.logprobs import right_pad
from model.loss import IGNORE_INDEX
from model.sft_data import iter_jsonl

HH_TURN = re.compile(r"\n\n(Human|Assistant): ?")


@dataclass
class PreferencePair:
    prompt: list[Message]  # ends with a user turn
    chosen: str
    rejected: str


@dataclass
class TokenizedPair:
    prompt: list[int]
    chosen: list[int]  # response tokens incl. the closing <|end|>
    rejected: list[int]


@dataclass
class PrefStats:
    records: int = 0
    kept: int = 0
    truncated: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def to_dict(self) -> dict[str, Any]:
        return {"records": self.records, "kept": self.kept, "truncated": self.truncated, "skipped": dict(sorted(self.skipped.items()))}


class PairError(ValueError):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def parse_hh_dialogue(text: str) -> list[Message]:
    """``"\\n\\nHuman: a\\n\\nAssistant: b"`` -> [user a, assistant b] (contents stripped)."""
    parts = HH_TURN.split(text)
    if parts[0].strip():
        raise PairError("bad_conversation", "HH dialogue text before the first 'Human:' turn")
    return [Message("user" if role == "Human" else "assistant", content.strip()) for role, content in zip(parts[1::2], parts[2::2])]


def _response_of(value: Any) -> tuple[list[Message], str]:
    """(preceding messages, response text) from a string or a message list."""
    if isinstance(value, str):
        return [], value
    if isinstance(value, list) and value and all(isinstance(m, dict) for m in value):
        if len(value) == 1:
            m = value[0]
            if m.get("role", m.get("from")) not in ("assistant", "gpt") or not isinstance(m.get("content", m.get("value")), str):
                raise PairError("bad_record", "a one-message chosen/rejected list must hold one assistant message")
            return [], m.get("content", m.get("value"))
        msgs = parse_messages(value)
        if msgs[-1].role != "assistant":
            raise PairError("bad_record", "chosen/rejected message list does not end with an assistant message")
        return msgs[:-1], msgs[-1].content
    raise PairError("bad_record", "chosen/rejected must be a string or a list of messages")


def pair_from_record(record: dict[str, Any]) -> PreferencePair:
    if "chosen" not in record or "rejected" not in record:
        raise PairError("bad_record", "record has no chosen/rejected")
    chosen, rejected = record["chosen"], record["rejected"]
    system = record.get("system") if isinstance(record.get("system"), str) else None
    if "prompt" not in record and "messages" not in record and isinstance(chosen, str) and isinstance(rejected, str) and "\n\nHuman:" in chosen:
        c, r = parse_hh_dialogue(chosen), parse_hh_dialogue(rejected)
        if not c or not r or c[:-1] != r[:-1] or c[-1].role != "assistant" or r[-1].role != "assistant":
            raise PairError("hh_prefix_mismatch", "HH chosen/rejected dialogues differ before their final Assistant turn")
        prompt, chosen_text, rejected_text = c[:-1], c[-1].content, r[-1].content
    else:
        prefix_c, chosen_text = _response_of(chosen)
        prefix_r, rejected_text = _response_of(rejected)
        if isinstance(record.get("prompt"), str):
            prompt = [Message("user", record["prompt"])]
        elif "messages" in record:
            prompt = parse_messages(record["messages"])
        elif prefix_c and prefix_c == prefix_r:
            prompt = prefix_c
        else:
            raise PairError("bad_record", "record has neither a prompt nor messages")
    if system and not (prompt and prompt[0].role == "system"):
        prompt = [Message("system", system), *prompt]
    try:
        check_turn_order([*prompt, Message("assistant", "x")])
    except ConversationError as e:
        raise PairError("bad_conversation", str(e)) from e
    if not chosen_text.strip() or not rejected_text.strip():
        raise PairError("empty_response", "chosen or rejected response is empty")
    if chosen_text == rejected_text:
        raise PairError("identical_responses", "chosen and rejected are identical")
    return PreferencePair(prompt, chosen_text, rejected_text)


def tokenize_pair(tok: ChatTokenizer, pair: PreferencePair, max_len: int) -> tuple[TokenizedPair, bool]:
    """Template + truncation rule of the module docstring; returns (tokens, was_truncated)."""
    end = marker_ids(tok)["end"]
    prompt, _ = encode_conversation(tok, pair.prompt, add_generation_prompt=True)
    chosen = tok.encode(pair.chosen, allow_special=False) + [end]
    rejected = tok.encode(pair.rejected, allow_special=False) + [end]
    cut = False
    if len(prompt) + max(len(chosen), len(rejected)) > max_len:
        cut = True
        half = max_len // 2
        chosen, rejected = chosen[:half], rejected[:half]
        keep = max_len - max(len(chosen), len(rejected))
        prompt = prompt[-keep:]
    return TokenizedPair(prompt, chosen, rejected), cut


def load_preference_pairs(path: str | Path, tok: ChatTokenizer, max_len: int) -> tuple[list[TokenizedPair], PrefStats]:
    stats = PrefStats()
    pairs: list[TokenizedPair] = []
    for _, record in iter_jsonl(path):
        stats.records += 1
        if record is None:
            stats.skip("bad_json")
            continue
        try:
            pair = pair_from_record(record)
        except PairError as e:
            stats.skip(e.reason)
            continue
        except ConversationError:
            stats.skip("bad_conversation")
            continue
        tp, cut = tokenize_pair(tok, pair, max_len)
        stats.kept += 1
        stats.truncated += int(cut)
        pairs.append(tp)
    return pairs, stats


def collate_pairs(pairs: list[TokenizedPair], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows ``[chosen_0 .. chosen_{n-1}, rejected_0 .. rejected_{n-1}]``: inputs and targets [2n, T],
    targets IGNORE_INDEX outside the response, so ``token_logprobs(...).sum(-1)`` = log p(response | prompt)."""
    seqs = [p.prompt + p.chosen for p in pairs] + [p.prompt + p.rejected for p in pairs]
    starts = [len(p.prompt) for p in pairs] * 2
    T = max(len(s) for s in seqs) - 1
    inputs = right_pad([s[:-1] for s in seqs], pad_id, T)
    targets = torch.full((len(seqs), T), IGNORE_INDEX, dtype=torch.long)
    for i, (s, start) in enumerate(zip(seqs, starts)):
        targets[i, start - 1 : len(s) - 1] = torch.tensor(s[start:], dtype=torch.long)
    return inputs, targets
