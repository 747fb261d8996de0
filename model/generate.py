"""Greedy decoding with a KV cache, batched with left padding and per-sample masks.

    outs = greedy_generate(model, [ids_a, ids_b], max_new_tokens=64, stop_ids={end_id}, pad_id=tok.pad_id, batch_size=8)

Batching never changes a sample's result, not even in the last bit: prompts are left-padded to a
length that depends on the prompt alone (its length rounded up to ``pad_multiple``), and only prompts
of the same padded length share a batch. Padding gets segment id 0 and real tokens segment id 1, so
the model's segment mask keeps every real token from attending to padding, and each row's positions
start at 0 at its first real token. Every row therefore runs exactly the same shapes whatever the
batch size (rows of a batch never interact; only the padded length T changes floating-point
rounding, so T is never a function of the batch). Results come back in input order. Tests check
that batch sizes 1 and 8 give identical tokens.

Stopping: a row stops at any id in ``stop_ids`` (kept in the output), when ``stop_fn(tokens)`` says so
(e.g. a stop string appeared in the decoded text), or after ``max_new_tokens``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from model.llama import Transformer


@dataclass
class Generation:
    tokens: list[int]  # generated ids (the stop id included when one ended the row)
    stopped: bool  # False when max_new_tokens was reached first
    prompt_truncated: int  # prompt tokens dropped from the left to fit max_seq_len


@torch.no_grad()
def _generate_batch(
    model: Transformer,
    prompts: Sequence[Sequence[int]],
    padded_len: int,
    max_new_tokens: int,
    stop_ids: set[int],
    pad_id: int,
    stop_fn: Callable[[list[int]], bool] | None,
) -> list[Generation]:
    device = model.output.weight.device
    B = len(prompts)
    L = padded_len
    tokens = torch.full((B, L), pad_id, dtype=torch.long)
    segments = torch.zeros((B, L), dtype=torch.long)
    positions = torch.zeros((B, L), dtype=torch.long)
    for i, p in enumerate(prompts):
        n = len(p)
        tokens[i, L - n :] = torch.tensor(list(p), dtype=torch.long)
        segments[i, L - n :] = 1
        positions[i, L - n :] = torch.arange(n)
    lengths = torch.tensor([len(p) for p in prompts], dtype=torch.long)
    cache = model.new_kv_cache(B, L + max_new_tokens, device=device)
    logits = model(tokens.to(device), segment_ids=segments.to(device), positions=positions.to(device), kv_cache=cache, start_pos=0)
    out: list[list[int]] = [[] for _ in range(B)]
    done = [False] * B
    stopped = [False] * B
    ones = torch.ones((B, 1), dtype=torch.long, device=device)
    for t in range(max_new_tokens):
        nxt = logits[:, -1].float().argmax(dim=-1)  # [B]
        for i in range(B):
            if done[i]:
                continue
            tok = int(nxt[i])
            out[i].append(tok)
            if tok in stop_ids or (stop_fn is not None and stop_fn(out[i])):
                done[i] = stopped[i] = True
        if all(done) or t == max_new_tokens - 1:
            break
        pos = (lengths + t)[:, None].to(device)
        logits = model(nxt[:, None], segment_ids=ones, positions=pos, kv_cache=cache, start_pos=L + t)
    return [Generation(o, s, 0) for o, s in zip(out, stopped)]


def padded_length(n: int, multiple: int, cap: int) -> int:
    """The batch-independent padded length of an n-token sequence: n rounded up to ``multiple``, at most ``cap``."""
    return min(cap, -(-n // multiple) * multiple) if multiple > 1 else n


def same_length_batches(padded: Sequence[int], batch_size: int) -> list[tuple[int, list[int]]]:
    """Indices grouped by padded length (longest first), then cut into batches of ``batch_size``."""
    groups: dict[int, list[int]] = {}
    for i, L in enumerate(padded):
        groups.setdefault(L, []).append(i)
    return [(L, idx[k : k + batch_size]) for L, idx in sorted(groups.items(), reverse=True) for k in range(0, len(idx), batch_size)]


def greedy_generate(
    model: Transformer,
    prompts: Sequence[Sequence[int]],
    *,
    max_new_tokens: int,
    pad_id: int,
    stop_ids: set[int] | frozenset[int] = frozenset(),
    stop_fn: Callable[[list[int]], bool] | None = None,
    batch_size: int = 8,
    pad_multiple: int = 16,
) -> list[Generation]:
    """Greedy continuations of ``prompts`` (see the module docstring), in input order."""
    if not prompts:
        return []
    if any(len(p) == 0 for p in prompts):
        raise ValueError("every prompt needs at least one token (start it with BOS)")
    budget = model.cfg.max_seq_len - max_new_tokens
    if budget < 1:
        raise ValueError(f"max_new_tokens {max_new_tokens} leaves no room for a prompt in max_seq_len {model.cfg.max_seq_len}")
    clipped = [list(p)[-budget:] for p in prompts]
    dropped = [len(p) - len(c) for p, c in zip(prompts, clipped)]
    padded = [padded_length(len(c), pad_multiple, budget) for c in clipped]
    results: list[Generation | None] = [None] * len(prompts)
    was_training = model.training
    model.eval()
    try:
        for L, idx in same_length_batches(padded, batch_size):
            gens = _generate_batch(model, [clipped[i] for i in idx], L, max_new_tokens, set(stop_ids), pad_id, stop_fn)
            for i, g in zip(idx, gens):
                g.prompt_truncated = dropped[i]
                results[i] = g
    finally:
        model.train(was_training)
    return [r for r in results if r is not None]
