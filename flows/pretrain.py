"""Prefect flow: pretrain a model (in-process, or torchrun for several GPUs), then publish artifacts:
a loss / lr / tokens/s / MFU table, a run summary, and links to the checkpoint and metrics.

    from flows.pretrain import pretrain_flow
    ckpt = pretrain_flow("runs/tokens", "runs/pretrain-tiny", preset="tiny", config={"steps": 200})

or ``longterm pretrain --data runs/tokens --preset tiny --out runs/pretrain-tiny``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from flows.artifacts import artifact_key
from flows.run_artifacts import code_digest_line, watch_training
from flows.validation import parse_config, require_dataset, require_output
from model.pretrain import TrainConfig
from tasks.pretrain import metrics_table, run_pretrain


@task(name="pretrain-train", cache_policy=NO_CACHE)
def pretrain_task(config: TrainConfig, nproc: int) -> str:
    with watch_training(config.out, "pretrain"):  # step / total steps, loss, tokens/s, ETA while it trains
        return run_pretrain(config, nproc=nproc)


def summary_markdown(run_dir: Path, ckpt: str) -> str:
    resolved = json.loads((run_dir / "config.json").read_text())["run"]
    summary = json.loads((run_dir / "summary.json").read_text()) if (run_dir / "summary.json").exists() else {}
    m, plan = resolved["model"], resolved["plan"]
    mfu = summary.get("mfu")
    return "\n".join([
        f"## pretrain: {Path(ckpt).name} of `{run_dir}`",
        "",
        f"- model: {m['n_layer']} layers, d_model {m['d_model']}, {m['n_head']} heads ({m['n_kv_head']} KV), FFN {m['ffn_hidden']}, vocab {m['vocab_size']}",
        f"- batch {resolved['batch_size']} x {resolved['seq_len']} tokens (micro {resolved['micro_batch_size']}, accumulation {resolved['grad_accum']}); "
        f"{resolved['total_steps']} steps, {resolved['tokens']:.3g} tokens",
        f"- schedule {resolved['schedule']['kind']}, peak lr {resolved['schedule']['peak_lr']:.3g} "
        f"(scaling-law plan: batch {plan['batch_sequences']} sequences, lr {plan['learning_rate']:.3g}, C {plan['compute']:.3g} FLOPs)",
        f"- final train loss {summary.get('loss', float('nan')):.4f}, val loss {summary.get('val_loss') or float('nan'):.4f}, "
        f"{summary.get('tokens_per_s') or 0:,.0f} tokens/s, MFU {'n/a' if mfu is None else f'{mfu:.1%}'}, skipped steps {summary.get('skipped_steps', 0)}",
        f"- checkpoint: `{ckpt}`",
        code_digest_line("pretrain"),
    ])


@task(name="pretrain-artifacts", retries=2, retry_delay_seconds=[2, 10], cache_policy=NO_CACHE)
def publish_pretrain_artifacts(run_dir: str, ckpt: str) -> dict[str, str]:
    run = Path(run_dir).resolve()
    keys = {k: artifact_key("pretrain", k) for k in ("metrics", "summary", "checkpoint", "metrics-file")}
    create_table_artifact(key=keys["metrics"], table=metrics_table(run), description="pretrain: loss, lr, grad norm, tokens/s, MFU, val loss by step")
    create_markdown_artifact(key=keys["summary"], markdown=summary_markdown(run, ckpt), description="pretrain summary")
    create_link_artifact(key=keys["checkpoint"], link=f"file://{Path(ckpt).resolve()}", link_text=f"checkpoint {Path(ckpt).name}")
    create_link_artifact(key=keys["metrics-file"], link=f"file://{run / 'metrics.jsonl'}", link_text="metrics.jsonl")
    return keys


def train_config(data: str, out: str, preset: str, config: dict[str, Any] | TrainConfig | None) -> TrainConfig:
    """Check the parameters before any compute and build the resolved TrainConfig."""
    fixed = {"data": require_dataset("data", data, kind="tokens"), "out": require_output("out", out), "preset": preset}
    return parse_config("config", TrainConfig, config, fixed)


@flow(name="pretrain", log_prints=True)
def pretrain_flow(data: str, out: str, preset: str = "tiny", config: dict[str, Any] | TrainConfig | None = None,
                  nproc: int = 1) -> str:
    """Pretrain ``preset`` on the token dataset ``data`` into ``out`` on ``nproc`` processes (torchrun when > 1).

    ``config`` holds any other TrainConfig field (``steps``, ``tokens``, ``batch_size``, ``lr``...); unknown keys
    and wrong types fail the run before any compute. Returns the last checkpoint path.
    """
    config = train_config(data, out, preset, config)
    ckpt = pretrain_task(config, nproc)
    publish_pretrain_artifacts(config.out, ckpt)
    return ckpt
