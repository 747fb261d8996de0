"""Prefect flow: the eval suite (deployment ``eval`` in prefect.yaml); publishes the score table
(``publish_eval_artifacts``), a table with one column per prompt style and a link to ``results.json``.

    from flows.eval import eval_flow
    doc = eval_flow("runs/demo/dpo", "runs/demo/eval", tasks="mmlu,gsm8k,humaneval", config={"limit": 50})

or ``longterm eval runs/demo/dpo --tasks mmlu,gsm8k,humaneval --out runs/demo/eval``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_link_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from flows.align_common import require_checkpoint, resolve_tokenizer
from flows.run_artifacts import PrefectProgress, publish_eval_artifacts
from flows.validation import parse_config, require_output
from model.evaluate import EvalConfig
from tasks.evaluate import run_eval


@task(name="evaluate", cache_policy=NO_CACHE)
def eval_task(config: EvalConfig) -> dict[str, Any]:
    return run_eval(config, progress=PrefectProgress("eval"))  # live: task runs done / total, samples/s, ETA


@task(name="eval-artifacts", retries=2, retry_delay_seconds=[2, 10], cache_policy=NO_CACHE)
def eval_artifacts(doc: dict[str, Any], out: str) -> None:
    publish_eval_artifacts(out, stage="eval")
    create_table_artifact(key="eval-results", table=doc["table"],
                          description=f"eval of {doc['checkpoint']} (step {doc['step']}): one column per prompt style")
    path = Path(out).resolve() / "results.json"
    create_link_artifact(key="eval-results-json", link=f"file://{path}", link_text="results.json", description="scores + per-sample files")


@flow(name="eval", log_prints=True)
def eval_flow(checkpoint: str, out: str, tasks: str = "mmlu,gsm8k,humaneval", tokenizer: str = "",
              config: dict[str, Any] | EvalConfig | None = None) -> dict[str, Any]:
    """Evaluate ``checkpoint`` on ``tasks`` (see model/evaluate.py for the specs); returns results.json as a dict."""
    meta = require_checkpoint("checkpoint", checkpoint)
    fixed = {"checkpoint": checkpoint, "out": require_output("out", out), "tasks": [tasks], "tokenizer": resolve_tokenizer(tokenizer, meta)}
    cfg = parse_config("config", EvalConfig, config, fixed)
    doc = eval_task(cfg)
    eval_artifacts(doc, cfg.out)
    return doc
