"""Stage drivers for evaluation and export (pure of Prefect).

    doc = run_eval(EvalConfig(checkpoint="runs/sft", tasks=["mmlu", "gsm8k"], out="runs/eval"))   # results.json as a dict
    path = run_export_hf("runs/dpo", "runs/hf")
"""

from __future__ import annotations

from typing import Any

from model.evaluate import EvalConfig, eval_units, evaluate
from model.export_hf import export_hf
from tasks.progress import ProgressFn, ProgressMeter


def run_eval(cfg: EvalConfig, progress: ProgressFn | None = None) -> dict[str, Any]:
    """``progress``: called as each task / prompt style run finishes (tasks/progress.py: runs done / total, samples/s, ETA)."""
    if progress is None:
        return evaluate(cfg)
    meter = ProgressMeter(progress, "eval", total=len(eval_units(cfg)), unit="task runs", item="samples")
    return evaluate(cfg, on_unit=lambda label, samples: meter.advance(items=samples, task=label))


def run_export_hf(checkpoint: str, out: str, tokenizer: str = "", dtype: str = "float32") -> str:
    return str(export_hf(checkpoint, out, tokenizer, dtype))
