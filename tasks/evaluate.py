"""Stage drivers for evaluation and export (pure of Prefect).

    doc = run_eval(EvalConfig(checkpoint="runs/sft", tasks=["mmlu", "gsm8k"], out="runs/eval"))   # results.json as a dict
    path = run_export_hf("runs/dpo", "runs/hf")
"""

from __future__ import annotations

from typing import Any

from model.evaluate import EvalConfig, evaluate
from model.export_hf import export_hf


def run_eval(cfg: EvalConfig) -> dict[str, Any]:
    return evaluate(cfg)


def run_export_hf(checkpoint: str, out: str, tokenizer: str = "", dtype: str = "float32") -> str:
    return str(export_hf(checkpoint, out, tokenizer, dtype))
