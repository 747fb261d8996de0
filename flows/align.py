"""The alignment and evaluation flows in one place, plus the Hugging Face export flow.

    from flows.align import sft_flow, dpo_flow, eval_flow, export_hf_flow
    ckpt = sft_flow("runs/demo/pretrain", "runs/demo/sft", data="chat.jsonl", config={"epochs": 4, "lr": 1e-5})
    ckpt = dpo_flow(ckpt, "runs/demo/dpo", data="prefs.jsonl", config={"beta": 0.1})
    doc = eval_flow(ckpt, "runs/demo/eval", tasks="mmlu,gsm8k,humaneval", config={"limit": 50})
    path = export_hf_flow(ckpt, "runs/demo/hf")

``sft_flow``, ``dpo_flow`` and ``eval_flow`` are defined in ``flows/sft.py``, ``flows/dpo.py`` and
``flows/eval.py`` (the deployment entrypoints of prefect.yaml); shared pieces are in ``flows/align_common.py``.
Training flows publish ``flows.run_artifacts.publish_training_artifacts`` (summary, curve, checkpoint
link) plus a table of every input record's outcome (kept, truncated, skipped by reason).
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_link_artifact
from prefect.cache_policies import NO_CACHE

from flows.align_common import require_checkpoint
from flows.dpo import dpo_flow
from flows.eval import eval_flow
from flows.sft import sft_flow
from tasks.evaluate import run_export_hf

__all__ = ["dpo_flow", "eval_flow", "export_hf_flow", "sft_flow"]


@task(name="export-hf", cache_policy=NO_CACHE)
def export_task(checkpoint: str, out: str, tokenizer: str, dtype: str) -> str:
    return run_export_hf(checkpoint, out, tokenizer, dtype)


@flow(name="export-hf", log_prints=True)
def export_hf_flow(checkpoint: str, out: str, tokenizer: str = "", dtype: str = "float32") -> str:
    """Export ``checkpoint`` to the Hugging Face format; returns the export directory."""
    require_checkpoint("checkpoint", checkpoint)
    path = export_task(checkpoint, out, tokenizer, dtype)
    create_link_artifact(key="export-hf", link=f"file://{Path(path).resolve()}", link_text="HF export", description=f"from {checkpoint}")
    return path
