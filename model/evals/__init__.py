"""Benchmarks, one module each: ``bpb`` (bits per byte on validation token shards), ``mmlu``,
``hellaswag``, ``mc_jsonl`` (generic multiple choice, C-Eval/CMMLU style), ``gsm8k``, ``humaneval``.
``model/evaluate.py`` runs them; ``common.py`` holds the shared scoring and prompt code."""
