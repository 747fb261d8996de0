"""Chunked cross-entropy equals F.cross_entropy in value and gradients."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from model.loss import IGNORE_INDEX, chunked_cross_entropy


def _reference(h, w, t):
    return F.cross_entropy((h @ w.t()).float(), t, ignore_index=IGNORE_INDEX)


def test_value_and_gradients_match_cross_entropy() -> None:
    torch.manual_seed(0)
    N, D, V = 37, 16, 1000
    t = torch.randint(0, V, (N,))
    t[[3, 10, 11]] = IGNORE_INDEX
    results = []
    for fn, kw in ((_reference, {}), (chunked_cross_entropy, {"chunk_size": 8})):
        torch.manual_seed(1)
        h = torch.randn(N, D, dtype=torch.float64, requires_grad=True)
        w = torch.randn(V, D, dtype=torch.float64, requires_grad=True)
        loss = fn(h, w, t, **kw)
        (loss * 2.5).backward()  # a non-unit upstream gradient
        results.append((loss.detach(), h.grad, w.grad))
    for ref, got in zip(results[0], results[1]):
        torch.testing.assert_close(got, ref.to(got.dtype), atol=1e-6, rtol=1e-6)


def test_chunk_size_does_not_change_the_result_and_no_grad_works() -> None:
    torch.manual_seed(0)
    h, w = torch.randn(50, 8), torch.randn(300, 8)
    t = torch.randint(0, 300, (50,))
    a = chunked_cross_entropy(h, w, t, chunk_size=7)
    b = chunked_cross_entropy(h, w, t, chunk_size=1000)
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a, _reference(h, w, t))


def test_large_logits_stay_finite_and_match() -> None:
    """Logits in the hundreds (exp overflows fp32 past ~88): the in-place softmax must subtract the row max first."""
    torch.manual_seed(2)
    t = torch.randint(0, 200, (40,))
    grads = []
    for fn in (_reference, chunked_cross_entropy):
        torch.manual_seed(3)
        h = (torch.randn(40, 8) * 30).requires_grad_()
        w = torch.randn(200, 8).requires_grad_()
        loss = fn(h, w, t)
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(h.grad).all() and torch.isfinite(w.grad).all()
        grads.append((loss.detach(), h.grad, w.grad))
    for ref, got in zip(*grads):
        torch.testing.assert_close(got, ref, atol=1e-4, rtol=1e-4)
    with torch.no_grad():  # the evaluation path
        h, w = torch.randn(40, 8) * 30, torch.randn(200, 8)
        torch.testing.assert_close(chunked_cross_entropy(h, w, t, chunk_size=16), _reference(h, w, t), atol=1e-4, rtol=1e-4)
