"""Prefect flows for alignment and evaluation: ``sft_flow``, ``dpo_flow``, ``eval_flow``, ``export_hf_flow``.

    from flows.align import sft_flow, dpo_flow, eval_flow
    ckpt = sft_flow(SFTConfig(init="runs/pretrain", data="chat.jsonl", tokenizer="runs/tok", out="runs/sft"))
    ckpt = dpo_flow(DPOConfig(init=ckpt, data="prefs.jsonl", tokenizer="runs/tok", out="runs/dpo"))
    results = eval_flow(EvalConfig(checkpoint=ckpt, tasks=["mmlu", "gsm8k"], out="runs/eval"))

or ``longterm sft|dpo|eval|export-hf``. Training flows publish the data counts (kept, truncated, skipped by
reason) and the last train/validation metrics as table artifacts; ``eval_flow`` publishes the results
table (one column per prompt style, side by side) and a link to ``results.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from flows.artifacts import artifact_key
from model.dpo import DPOConfig
from model.evaluate import EvalConfig
from model.sft import SFTConfig
from tasks.dpo import run_dpo
from tasks.evaluate import run_eval, run_export_hf
from tasks.sft import run_sft


def training_rows(run_dir: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(last train and val records of metrics.jsonl, data_stats.json) of a training run directory."""
    out = Path(run_dir)
    records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines() if x.strip()] if (out / "metrics.jsonl").is_file() else []
    last = {}
    for r in records:
        last[r["kind"]] = r
    rows = [{k: (round(v, 5) if isinstance(v, float) else v) for k, v in r.items() if not isinstance(v, (dict, list))} for r in last.values()]
    stats = json.loads((out / "data_stats.json").read_text()) if (out / "data_stats.json").is_file() else {}
    return rows, stats


def publish_training_artifacts(stage: str, run_dir: str, checkpoint: str) -> None:
    rows, stats = training_rows(run_dir)
    if rows:
        create_table_artifact(key=artifact_key(stage, "metrics"), table=rows, description=f"{stage}: last train / validation metrics")
    skipped = stats.get("skipped", {})
    data_rows = [{"outcome": "kept", "count": stats.get("kept", 0)}, {"outcome": "truncated (of kept)", "count": stats.get("truncated", 0)}]
    data_rows += [{"outcome": f"skipped: {k}", "count": v} for k, v in sorted(skipped.items())]
    create_table_artifact(key=artifact_key(stage, "data"), table=data_rows, description=f"{stage}: every input record's outcome")
    create_markdown_artifact(key=artifact_key(stage, "summary"), markdown=(
        f"## {stage}\n\n- checkpoint: `{checkpoint}`\n- records: {stats.get('records', '?')}, kept {stats.get('kept', '?')}, "
        f"truncated {stats.get('truncated', 0)}, skipped {sum(skipped.values())}\n- run dir: `{run_dir}` (metrics.jsonl, summary.json)"),
        description=f"{stage} run summary")


@task(name="sft-train", cache_policy=NO_CACHE)
def sft_task(config: SFTConfig, nproc: int) -> str:
    return run_sft(config, nproc=nproc)


@task(name="dpo-train", cache_policy=NO_CACHE)
def dpo_task(config: DPOConfig, nproc: int) -> str:
    return run_dpo(config, nproc=nproc)


@task(name="training-artifacts", retries=2, retry_delay_seconds=[2, 10], cache_policy=NO_CACHE)
def training_artifacts(stage: str, run_dir: str, checkpoint: str) -> None:
    publish_training_artifacts(stage, run_dir, checkpoint)


@flow(name="sft", log_prints=True)
def sft_flow(config: SFTConfig, nproc: int = 1) -> str:
    """Supervised fine-tuning; returns the final checkpoint path."""
    ckpt = sft_task(config, nproc)
    training_artifacts("sft", config.out, ckpt)
    return ckpt


@flow(name="dpo", log_prints=True)
def dpo_flow(config: DPOConfig, nproc: int = 1) -> str:
    """DPO from an SFT checkpoint; returns the final checkpoint path."""
    ckpt = dpo_task(config, nproc)
    training_artifacts("dpo", config.out, ckpt)
    return ckpt


@task(name="evaluate", cache_policy=NO_CACHE)
def eval_task(config: EvalConfig) -> dict[str, Any]:
    return run_eval(config)


@task(name="eval-artifacts", retries=2, retry_delay_seconds=[2, 10], cache_policy=NO_CACHE)
def eval_artifacts(doc: dict[str, Any], out: str) -> None:
    create_table_artifact(key="eval-results", table=doc["table"], description=f"eval of {doc['checkpoint']} (step {doc['step']})")
    lines = [f"## eval: `{doc['checkpoint']}` (step {doc['step']})", ""]
    for task_name, by_style in doc["results"].items():
        for style, metrics in by_style.items():
            shown = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if isinstance(v, float) and not k.endswith("stderr"))
            lines.append(f"- {task_name} [{style}]: {shown} (n={metrics.get('n', '-')})")
    create_markdown_artifact(key="eval-summary", markdown="\n".join(lines), description="eval summary")
    path = Path(out).resolve() / "results.json"
    create_link_artifact(key="eval-results-json", link=f"file://{path}", link_text="results.json", description="scores + per-sample files")


@flow(name="eval", log_prints=True)
def eval_flow(config: EvalConfig) -> dict[str, Any]:
    """Evaluate a checkpoint; returns results.json as a dict."""
    doc = eval_task(config)
    eval_artifacts(doc, config.out)
    return doc


@task(name="export-hf", cache_policy=NO_CACHE)
def export_task(checkpoint: str, out: str, tokenizer: str, dtype: str) -> str:
    return run_export_hf(checkpoint, out, tokenizer, dtype)


@flow(name="export-hf", log_prints=True)
def export_hf_flow(checkpoint: str, out: str, tokenizer: str = "", dtype: str = "float32") -> str:
    """Export a checkpoint to the Hugging Face format; returns the export directory."""
    path = export_task(checkpoint, out, tokenizer, dtype)
    create_link_artifact(key="export-hf", link=f"file://{Path(path).resolve()}", link_text="HF export", description=f"from {checkpoint}")
    return path
