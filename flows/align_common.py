"""Shared pieces of the alignment flows (``flows/sft.py``, ``flows/dpo.py``, ``flows/eval.py``, ``flows/align.py``):
parameter checks, the training-artifact task and the config assembly.

Flow parameters: the input ``checkpoint``, ``out``, the data file, the tokenizer (default: the one the
checkpoint was trained with) and ``config``, a mapping of any other ``SFTConfig`` / ``DPOConfig`` /
``EvalConfig`` field, checked before any compute (unknown keys and wrong types are refused).

Default data: the demo alignment files that ``longterm demo-data runs/demo/crawl`` writes next to the demo crawl
(``runs/demo/crawl/alignment/{sft,dpo,eval_mc}.jsonl``, generated from the project's own corpus by
``tasks/demo_crawl/alignment.py``). When the default file is absent the flow stops with a message saying how
to generate it. Real public data are alternatives (development machines only): pass ``data=SFT_SHARED_DATA``
(Self-Instruct) or ``data=DPO_SHARED_DATA`` (HH-RLHF).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from flows.artifacts import artifact_key
from flows.run_artifacts import publish_training_artifacts
from flows.validation import ParameterError, parse_config, require_output, require_path
from model.checkpoint import CheckpointError, read_meta
from model.finetune import recorded_tokenizer

DEMO_CRAWL = "runs/demo/crawl"  # where `make demo` and prefect.yaml put the demo crawl
DEMO_ALIGNMENT = f"{DEMO_CRAWL}/alignment"
SFT_DEMO_DATA = f"{DEMO_ALIGNMENT}/sft.jsonl"
DPO_DEMO_DATA = f"{DEMO_ALIGNMENT}/dpo.jsonl"
EVAL_DEMO_TASKS = f"mc:demo_topics={DEMO_ALIGNMENT}/eval_mc.jsonl"  # an eval_flow ``tasks`` value
SFT_SHARED_DATA = "../shared/data/sft_self_instruct_human/user_oriented_instructions.jsonl"
DPO_SHARED_DATA = "../shared/data/pref_hh_rlhf/harmless-base_test.jsonl.gz"
_DEMO_DEFAULTS = {SFT_DEMO_DATA: SFT_SHARED_DATA, DPO_DEMO_DATA: DPO_SHARED_DATA}


def require_data(data: str) -> str:
    """The training data file; a missing default demo file gets a message saying how to generate it."""
    if data in _DEMO_DEFAULTS and not Path(data).is_file():
        raise ParameterError("data", f"{data}: no such file; generate the demo data with `longterm demo-data {DEMO_CRAWL}` "
                                     f"(from the repository root), or pass another file, e.g. {_DEMO_DEFAULTS[data]}")
    return require_path("data", data, is_dir=False)


def require_checkpoint(parameter: str, checkpoint: Any) -> dict[str, Any]:
    """meta.json of the checkpoint (or run dir's latest); a ParameterError when there is none."""
    try:
        return read_meta(str(checkpoint))
    except (CheckpointError, OSError, ValueError) as e:
        raise ParameterError(parameter, str(e)) from e


def resolve_tokenizer(tokenizer: str, meta: dict[str, Any]) -> str:
    tok = tokenizer or recorded_tokenizer(meta)
    if not tok:
        raise ParameterError("tokenizer", "the checkpoint records no tokenizer; give the tokenizer directory")
    return tok


def data_outcome_rows(run_dir: str) -> list[dict[str, Any]]:
    """kept / truncated / skipped-by-reason rows from a training run's data_stats.json."""
    path = Path(run_dir) / "data_stats.json"
    stats = json.loads(path.read_text()) if path.is_file() else {}
    rows = [{"outcome": "records", "count": stats.get("records", 0)}, {"outcome": "kept", "count": stats.get("kept", 0)},
            {"outcome": "truncated (of kept)", "count": stats.get("truncated", 0)}]
    rows += [{"outcome": f"skipped: {k}", "count": v} for k, v in sorted(stats.get("skipped", {}).items())]
    return rows


@task(name="training-artifacts", retries=2, retry_delay_seconds=[2, 10], cache_policy=NO_CACHE)
def training_artifacts(stage: str, run_dir: str, checkpoint: str) -> None:
    publish_training_artifacts(run_dir, stage, checkpoint=checkpoint)
    create_table_artifact(key=artifact_key(stage, "data"), table=data_outcome_rows(run_dir),
                          description=f"{stage}: every input record's outcome (kept, truncated, skipped by reason)")


def training_config(cls: type, checkpoint: str, out: str, data: str, tokenizer: str, config: Any) -> Any:
    meta = require_checkpoint("checkpoint", checkpoint)
    require_data(data)
    fixed = {"init": checkpoint, "out": require_output("out", out), "data": data, "tokenizer": resolve_tokenizer(tokenizer, meta)}
    return parse_config("config", cls, config, fixed)

