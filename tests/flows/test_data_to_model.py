"""data_to_model end to end on a small demo crawl (real Ray, Prefect harness), then a rerun with one
stage's config changed: that stage and everything after it recompute, everything before is reused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from storage import open_dataset

TINY = {
    "tokenizer": {"vocab_size": 1536, "character_coverage": 0.98},
    "preset": "tiny",
    "pretrain": {"seq_len": 64, "batch_size": 4, "steps": 3, "eval_every": 3, "eval_batches": 1, "log_every": 1,
                 "progress": False, "tensorboard": False},
    "sft": {"seq_len": 128, "batch_size": 2, "max_steps": 2, "eval_every": 2, "num_eval_prompts": 1, "eval_max_new_tokens": 4},
    "dpo": {"max_len": 128, "batch_size": 2, "max_steps": 2, "eval_every": 2},
    "eval": {"limit": 4, "batch_size": 4},
}


@pytest.fixture(scope="module")
def crawl(tmp_path_factory) -> Path:
    from tasks.demo_crawl import generate_demo_crawl

    out = tmp_path_factory.mktemp("d2m") / "crawl"
    generate_demo_crawl(str(out), num_docs=240, num_dumps=2, seed=3)
    return out


@pytest.mark.slow
def test_data_to_model_runs_every_stage_then_reruns_only_the_changed_ones(prefect_harness, ray_cluster, crawl, tmp_path) -> None:
    from flows.data_to_model import STAGES, PipelineConfig, data_to_model

    out = tmp_path / "run"
    first = data_to_model(crawl=str(crawl), out=str(out), config=PipelineConfig(**TINY))
    assert list(first) == STAGES
    pipeline = json.loads((out / "pipeline.json").read_text())
    assert not any(pipeline["reused"].values()), pipeline["reused"]
    results = json.loads(Path(first["eval"]).read_text())
    assert {"bpb", "demo"} <= set(results["tasks"]), results["tasks"]
    assert open_dataset(first["tokenize"], kind="tokens").manifest.counts.kept > 0

    # a stricter English language-ID threshold: filter and everything downstream recompute
    changed = PipelineConfig(**{**TINY, "filter": {"langid": {"thresholds": {"en": 0.9, "zh": 0.5}}}})
    second = data_to_model(crawl=str(crawl), out=str(out), config=changed, until="tokenize")
    reused = json.loads((out / "pipeline.json").read_text())["reused"]
    assert reused == {"ingest": True, "filter": False, "dedup": False, "remix": False, "train-tokenizer": False, "tokenize": False}
    assert second["ingest"] == first["ingest"]
    assert second["filter"] != first["filter"] and second["tokenize"] != first["tokenize"]
    # the old versions stay intact beside the new ones
    open_dataset(first["filter"]).verify()
    assert open_dataset(str(out / "filter")).uri == second["filter"]


def test_data_to_model_fails_fast_on_a_missing_crawl(prefect_harness, tmp_path) -> None:
    from flows.data_to_model import data_to_model
    from flows.validation import ParameterError

    with pytest.raises(ParameterError, match="parameter 'crawl'"):
        data_to_model(crawl=str(tmp_path / "nope"), out=str(tmp_path / "run"))
    assert not (tmp_path / "run" / "ingest").exists()
