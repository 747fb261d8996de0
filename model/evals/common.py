"""What every benchmark shares: items, prompt formatting (base or chat), log-likelihood scoring, metrics.

Multiple choice is scored the way lm-evaluation-harness does: for each choice the summed
log-probability of the continuation tokens given the context; ``acc`` takes the argmax of the sums,
``acc_norm`` the argmax of the sums divided by the continuation's length in characters.

Reproducibility: a request is right-padded to a length that depends on the request alone (its length
rounded up to ``pad_multiple``) and batched only with requests of the same padded length, so the
numbers are bit-identical for any batch size (rows of a batch never interact, and the padded length
is never a function of the batch).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from model.chat import Message, encode_conversation
from model.generate import padded_length, same_length_batches
from model.llama import Transformer
from model.logprobs import right_pad, token_logprobs_from_logits
from model.loss import IGNORE_INDEX
from model.tokenizer import Tokenizer

CJK = re.compile(r"[\u4e00-\u9fff]")


class EvalDataError(ValueError):
    """An eval file that cannot be scored as it is (missing column, bad answer...): never a silent score."""


@dataclass
class MCItem:
    id: str
    context: str
    choices: list[str]  # continuations, scored after the context
    gold: int
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class PromptStyle:
    """How a prompt text becomes tokens: raw (base model) or wrapped in the chat template."""

    chat: bool = False
    system: str | None = None

    @property
    def name(self) -> str:
        return "base" if not self.chat else ("chat+system" if self.system else "chat")

    def encode(self, tok: Tokenizer, text: str) -> list[int]:
        if not self.chat:
            return tok.encode(text, bos=True)
        msgs = ([Message("system", self.system)] if self.system else []) + [Message("user", text)]
        return encode_conversation(tok, msgs, add_generation_prompt=True)[0]


def is_chinese(text: str) -> bool:
    return len(CJK.findall(text)) >= max(1, len(text) // 10)


@torch.no_grad()
def score_continuations(
    model: Transformer,
    requests: Sequence[tuple[list[int], list[int]]],
    *,
    pad_id: int,
    batch_size: int,
    pad_multiple: int = 16,
) -> list[tuple[float, bool, bool]]:
    """(sum log p(continuation | context), is_greedy, context_truncated) per (context ids, continuation ids) request.

    A request longer than ``max_seq_len + 1`` keeps its end (the continuation and the nearest context);
    the start of the context is dropped and the request is flagged."""
    max_len = model.cfg.max_seq_len
    device = model.output.weight.device
    seqs: list[list[int]] = []
    for ctx, cont in requests:
        if not cont:
            raise ValueError("empty continuation")
        s = (ctx + cont)[-(max_len + 1) :]  # keep the end: the continuation always fits
        if len(s) - len(cont) < 1:
            raise ValueError(f"continuation of {len(cont)} tokens does not fit max_seq_len {max_len}")
        seqs.append(s)
    padded = [padded_length(len(s) - 1, pad_multiple, max_len) for s in seqs]
    out: list[tuple[float, bool, bool] | None] = [None] * len(seqs)
    model.eval()
    for T, idx in same_length_batches(padded, batch_size):
        inputs = right_pad([seqs[i][:-1] for i in idx], pad_id, T)
        targets = torch.full((len(idx), T), IGNORE_INDEX, dtype=torch.long)
        for r, i in enumerate(idx):
            n_cont = len(requests[i][1])
            s = seqs[i]
            targets[r, len(s) - 1 - n_cont : len(s) - 1] = torch.tensor(s[-n_cont:])
        inputs, targets = inputs.to(device), targets.to(device)
        h = model.hidden_states(inputs)
        logits = model.output(h).float()
        lp = token_logprobs_from_logits(logits, targets)
        greedy = (logits.argmax(-1) == targets) | (targets == IGNORE_INDEX)
        for r, i in enumerate(idx):
            out[i] = (float(lp[r].sum()), bool(greedy[r].all()), len(seqs[i]) < len(requests[i][0]) + len(requests[i][1]))
    return [o for o in out if o is not None]


def evaluate_mc(
    model: Transformer,
    tok: Tokenizer,
    items: Sequence[MCItem],
    style: PromptStyle,
    *,
    batch_size: int,
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """acc / acc_norm over items, plus one record per item (logliks, prediction, gold)."""
    requests, owners = [], []
    for k, item in enumerate(items):
        ctx = style.encode(tok, item.context)
        for choice in item.choices:
            requests.append((ctx, tok.encode(choice, allow_special=False)))
            owners.append(k)
    scores = score_continuations(model, requests, pad_id=tok.pad_id, batch_size=batch_size)
    per_item: list[list[float]] = [[] for _ in items]
    truncated = [False] * len(items)
    for k, (ll, _, cut) in zip(owners, scores):
        per_item[k].append(ll)
        truncated[k] |= cut
    samples, correct, correct_norm = [], 0, 0
    for item, lls, cut in zip(items, per_item, truncated):
        pred = max(range(len(lls)), key=lambda j: (lls[j], -j))
        norm = [ll / max(1, len(c)) for ll, c in zip(lls, item.choices)]
        pred_norm = max(range(len(norm)), key=lambda j: (norm[j], -j))
        correct += pred == item.gold
        correct_norm += pred_norm == item.gold
        samples.append({"id": item.id, "gold": item.gold, "pred": pred, "pred_norm": pred_norm,
                        "loglik": [round(x, 6) for x in lls], "acc": float(pred == item.gold),
                        "acc_norm": float(pred_norm == item.gold), "context_truncated": cut, **item.meta})
    n = max(1, len(items))
    metrics = {"acc": correct / n, "acc_norm": correct_norm / n, "n": len(items),
               "acc_stderr": stderr_of_mean(correct, len(items)), "context_truncated": sum(truncated)}
    return metrics, samples


def stderr_of_mean(successes: int, n: int) -> float:
    """Standard error of an accuracy (sample std / sqrt(n)), as lm-evaluation-harness reports."""
    if n < 2:
        return 0.0
    p = successes / n
    return math.sqrt(p * (1 - p) * n / (n - 1) / n)


def require_keys(record: dict[str, Any], keys: Sequence[str], where: str) -> None:
    missing = [k for k in keys if k not in record]
    if missing:
        raise EvalDataError(f"{where}: missing field(s) {missing}; present: {sorted(record)}")


def letter_index(answer: Any, n: int, where: str) -> int:
    """0-based index from an answer given as 0..n-1, 'A'..'D' or a digit string."""
    if isinstance(answer, bool):
        raise EvalDataError(f"{where}: answer {answer!r} is not an index or letter")
    if isinstance(answer, int):
        idx = answer
    elif isinstance(answer, str) and len(answer.strip()) == 1 and answer.strip().upper() in "ABCDEFGHIJ":
        idx = "ABCDEFGHIJ".index(answer.strip().upper())
    elif isinstance(answer, str) and answer.strip().isdigit():
        idx = int(answer.strip())
    else:
        raise EvalDataError(f"{where}: answer {answer!r} is not an index or letter")
    if not 0 <= idx < n:
        raise EvalDataError(f"{where}: answer {answer!r} is out of range for {n} choices")
    return idx
