"""Cross-entropy over a big vocabulary without materialising all logits.

With vocab 102,400 and 16k tokens per micro-batch, fp32 logits alone take 6.7 GB, plus as much again
for their gradient. ``chunked_cross_entropy(h, W, targets)`` computes head + loss chunk by chunk of
rows: for each chunk it forms the logits, their log-sum-exp and loss, and, since the loss is the
final scalar, also the chunk's gradients with respect to ``h`` and ``W`` right away (softmax minus
one-hot). Only one chunk of logits exists at any time; backward merely scales the stored gradients.
The extra memory is one [N, D] gradient plus an fp32 [V, D] accumulator.

    loss = chunked_cross_entropy(model.hidden_states(x).flatten(0, 1), model.output.weight, y.flatten())
"""

from __future__ import annotations

import torch

IGNORE_INDEX = -100


def _lse_in_place(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row log-sum-exp of fp32 ``logits`` [n, V] -> ([n], row sums [n, 1]); leaves exp(logits - row max) in
    ``logits``: one exp per logit and no [n, V] temporary (logsumexp + exp(logits - lse) took two and four)."""
    row_max = logits.amax(dim=-1, keepdim=True)  # [n, 1]
    row_sum = logits.sub_(row_max).exp_().sum(dim=-1, keepdim=True)  # [n, 1]
    return (row_max + row_sum.log()).squeeze(1), row_sum


class _ChunkedLinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, h: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, chunk_size: int, compute_dtype: torch.dtype):
        # h [N, D], weight [V, D], targets [N]; mean over targets != IGNORE_INDEX
        n_valid = (targets != IGNORE_INDEX).sum().clamp(min=1)
        hc, wc = h.to(compute_dtype), weight.to(compute_dtype)
        grad_h = torch.empty_like(hc)  # [N, D]
        grad_w = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device)  # [V, D], fp32 accumulator
        total = torch.zeros((), dtype=torch.float32, device=h.device)
        for start in range(0, h.shape[0], chunk_size):
            hs = hc[start : start + chunk_size]  # [n, D]
            t = targets[start : start + chunk_size]  # [n]
            logits = (hs @ wc.t()).float()  # [n, V]
            valid = t != IGNORE_INDEX
            t_safe = torch.where(valid, t, torch.zeros_like(t))
            target_logit = logits.gather(1, t_safe[:, None]).squeeze(1)
            lse, row_sum = _lse_in_place(logits)  # logits now holds the unnormalised softmax
            probs = logits
            total = total + ((lse - target_logit) * valid).sum()
            weight_row = valid[:, None] / n_valid  # [n, 1]: d loss / d (per-row loss)
            probs.mul_(weight_row / row_sum)  # softmax, scaled
            probs.scatter_add_(1, t_safe[:, None], -weight_row)  # minus one-hot
            grad_logits = probs.to(compute_dtype)
            grad_h[start : start + chunk_size] = grad_logits @ wc
            grad_w.add_(grad_logits.t() @ hs)
        ctx.save_for_backward(grad_h, grad_w)
        ctx.dtypes = (h.dtype, weight.dtype)
        return total / n_valid

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        grad_h, grad_w = ctx.saved_tensors
        h_dtype, w_dtype = ctx.dtypes
        return (grad_h * grad_out).to(h_dtype), (grad_w * grad_out).to(w_dtype), None, None, None


def chunked_cross_entropy(
    h: torch.Tensor,  # [N, D] final hidden states
    weight: torch.Tensor,  # [V, D] output head
    targets: torch.Tensor,  # [N] token ids, IGNORE_INDEX to skip
    *,
    chunk_size: int = 8192,
) -> torch.Tensor:
    """Mean cross-entropy of ``h @ weight.T`` against ``targets``; equal to
    ``F.cross_entropy((h @ weight.T).float(), targets, ignore_index=-100)`` in value and gradients.

    Under autocast (any device) the matmuls run in the autocast dtype (bf16); the softmax is always fp32."""
    device = h.device.type
    compute_dtype = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else h.dtype
    with torch.autocast(device_type=h.device.type, enabled=False):
        if not (torch.is_grad_enabled() and (h.requires_grad or weight.requires_grad)):
            return _loss_only(h.to(compute_dtype), weight.to(compute_dtype), targets, chunk_size)  # evaluation
        return _ChunkedLinearCrossEntropy.apply(h, weight, targets, chunk_size, compute_dtype)


def _loss_only(h: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, chunk_size: int) -> torch.Tensor:
    total = torch.zeros((), dtype=torch.float32, device=h.device)
    for start in range(0, h.shape[0], chunk_size):
        logits = (h[start : start + chunk_size] @ weight.t()).float()  # [n, V]
        t = targets[start : start + chunk_size]
        valid = t != IGNORE_INDEX
        target_logit = logits.gather(1, torch.where(valid, t, torch.zeros_like(t))[:, None]).squeeze(1)
        lse, _ = _lse_in_place(logits)
        total = total + ((lse - target_logit) * valid).sum()
    return total / (targets != IGNORE_INDEX).sum().clamp(min=1)
