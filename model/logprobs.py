"""Per-token log-probabilities of targets under the model; shared by DPO, SFT eval and MC scoring.

    lp = token_logprobs(model, inputs, targets)        # [B, T] fp32, 0 where targets == IGNORE_INDEX
    seq = lp.sum(-1)                                   # log p(response | prompt) per row

The head is applied ``chunk_rows`` rows at a time so a big vocabulary never materialises
[B, T, V] logits for the whole batch; under autograd each chunk is recomputed in backward
(activation checkpointing) for the same reason.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from model.loss import IGNORE_INDEX


def token_logprobs_from_logits(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """log_softmax(logits) at the targets [..., T]; 0 where targets == IGNORE_INDEX."""
    valid = targets != IGNORE_INDEX
    safe = torch.where(valid, targets, torch.zeros_like(targets))
    return torch.log_softmax(logits.float(), dim=-1).gather(-1, safe[..., None]).squeeze(-1) * valid


def _chunk_logprobs(h: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return token_logprobs_from_logits(F.linear(h, weight), targets)  # logits [n, T, V] for one chunk only


def token_logprobs(
    model: torch.nn.Module,
    inputs: torch.Tensor,  # [B, T]
    targets: torch.Tensor,  # [B, T], IGNORE_INDEX where no score is wanted
    *,
    segment_ids: torch.Tensor | None = None,
    chunk_rows: int = 4,
) -> torch.Tensor:
    """log p(targets[b, t] | inputs[b, :t+1]) as fp32 [B, T]; 0 at ignored positions."""
    h = model.hidden_states(inputs, segment_ids=segment_ids)  # [B, T, D]
    weight = model.output.weight
    out = []
    for start in range(0, h.shape[0], chunk_rows):
        hs, ts = h[start : start + chunk_rows], targets[start : start + chunk_rows]
        if torch.is_grad_enabled() and (hs.requires_grad or weight.requires_grad):
            out.append(checkpoint(_chunk_logprobs, hs, weight, ts, use_reentrant=False))
        else:
            out.append(_chunk_logprobs(hs, weight, ts))
    return torch.cat(out, dim=0)


def right_pad(seqs: list[list[int]], pad_id: int, length: int | None = None) -> torch.Tensor:
    """[len(seqs), length or max len] long tensor, right-padded with ``pad_id``."""
    T = length or max(len(s) for s in seqs)
    out = torch.full((len(seqs), T), pad_id, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    return out
