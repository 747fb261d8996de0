"""Repetition of generated text, the SFT health signal DeepSeek LLM monitored (its repetition ratio rose
as math SFT data grew).

- ``repetition_ratio``: the fraction of greedy responses that fall into a loop: they never end (no
  ``<|end|>`` within the token budget) and their last ``window`` tokens are periodic with a period of
  at most ``max_period`` tokens ("the the the ...", a sentence repeated).
- ``repeated_ngram_fraction``: mean over responses of 1 - distinct 4-grams / all 4-grams (0 = no repeats).
- ``unfinished_ratio``: the fraction of responses that hit the token budget.
"""

from __future__ import annotations

from collections.abc import Sequence


def repeated_ngram_fraction(tokens: Sequence[int], n: int = 4) -> float:
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return 0.0 if not grams else 1.0 - len(set(grams)) / len(grams)


def ends_in_loop(tokens: Sequence[int], window: int = 32, max_period: int = 16) -> bool:
    """True when the last ``window`` tokens repeat with some period p <= max_period."""
    if len(tokens) < window:
        return False
    tail = list(tokens[-window:])
    return any(all(tail[i] == tail[i + p] for i in range(window - p)) for p in range(1, max_period + 1))


def repetition_report(responses: Sequence[Sequence[int]], finished: Sequence[bool]) -> dict[str, float]:
    n = max(1, len(responses))
    looping = sum(1 for r, f in zip(responses, finished) if not f and ends_in_loop(r))
    return {
        "repetition_ratio": looping / n,
        "repeated_ngram_fraction": sum(repeated_ngram_fraction(r) for r in responses) / n,
        "unfinished_ratio": sum(1 for f in finished if not f) / n,
        "responses": len(responses),
    }
