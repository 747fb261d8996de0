"""data_to_model end to end on a small demo crawl (real Ray, Prefect harness), then a rerun with one
stage's config changed: that stage and everything after it recompute, everything before is reused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from storage import open_dataset

TINY = {
    "tokenizer": {"vocab_size": 1536, "character_coverage": 0.98},
    "pretrain": {"preset": "tiny", "seq_len": 64, "batch_size": 4, "steps": 3, "eval_every": 3, "eval_batches": 1, "log_every": 1,
                 "progress": False, "tensorboard": False},
    "sft": {"seq_len": 128, "batch_size": 2, "max_steps": 2, "eval_every": 2, "num_eval_prompts": 1, "eval_max_new_tokens": 4},
    "dpo": {"seq_len": 127, "batch_size": 2, "max_steps": 2, "eval_every": 2},
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
    from tasks.config import parse

    out = tmp_path / "run"
    first = data_to_model(crawl=str(crawl), out=str(out), config=parse(PipelineConfig, TINY))
    assert list(first) == STAGES
    pipeline = json.loads((out / "pipeline.json").read_text())
    assert not any(pipeline["reused"].values()), pipeline["reused"]
    results = json.loads(Path(first["eval"]).read_text())
    assert {"bpb", "demo"} <= set(results["tasks"]), results["tasks"]
    assert open_dataset(first["tokenize"], kind="tokens").manifest.counts.kept > 0

    # a stricter English language-ID threshold: filter and everything downstream recompute
    # given as a mapping of overrides this time: the flow parses it into the same PipelineConfig plus the change
    changed = {**TINY, "filter": {"langid": {"thresholds": {"en": 0.9, "zh": 0.5}}}}
    second = data_to_model(crawl=str(crawl), out=str(out), config=changed, until="tokenize")
    reused = json.loads((out / "pipeline.json").read_text())["reused"]
    assert reused == {"ingest": True, "filter": False, "dedup": False, "remix": False, "train-tokenizer": False, "tokenize": False}
    assert second["ingest"] == first["ingest"]
    assert second["filter"] != first["filter"] and second["tokenize"] != first["tokenize"]
    # the old versions stay intact beside the new ones
    open_dataset(first["filter"]).verify()
    assert open_dataset(str(out / "filter")).uri == second["filter"]


def test_pipeline_json_is_replaced_atomically_and_force_recomputes_one_stage(prefect_harness, ray_cluster, crawl, tmp_path) -> None:
    from flows.data_to_model import data_to_model
    from flows.validation import ParameterError
    from tasks.code_digest import stage_code_digest

    out = tmp_path / "run"
    first = data_to_model(crawl=str(crawl), out=str(out), until="filter")
    doc = json.loads((out / "pipeline.json").read_text())
    assert doc["code_digests"] == {"ingest": stage_code_digest("ingest"), "filter": stage_code_digest("filter")}
    # a second name for the file: a write in place would change both, a rename replaces only pipeline.json
    (out / "pipeline.json").rename(out / "before.json")
    (out / "pipeline.json").hardlink_to(out / "before.json")
    second = data_to_model(crawl=str(crawl), out=str(out), until="filter", force=["filter"])
    assert json.loads((out / "before.json").read_text()) == doc, "pipeline.json was rewritten in place"
    assert json.loads((out / "pipeline.json").read_text())["reused"] == {"ingest": True, "filter": False}
    assert second["ingest"] == first["ingest"] and second["filter"] != first["filter"]
    assert not [p.name for p in out.iterdir() if p.name.startswith(".tmp-")]
    with pytest.raises(ParameterError, match="parameter 'force'"):
        data_to_model(crawl=str(crawl), out=str(out), until="filter", force=["filtr"])


def test_training_run_dirs_are_keyed_on_code_and_forced_runs_are_fresh(tmp_path, monkeypatch) -> None:
    import flows.data_to_model as d2m

    out = str(tmp_path)
    run, done = d2m._run_dir(out, "pretrain", {"steps": 3}, ["tokens-digest"])
    assert not done and Path(run).name.startswith("pretrain-")
    Path(run).mkdir(parents=True)
    (Path(run) / "summary.json").write_text("{}")
    assert d2m._run_dir(out, "pretrain", {"steps": 3}, ["tokens-digest"]) == (run, True), "same code: reused"
    forced, done = d2m._run_dir(out, "pretrain", {"steps": 3}, ["tokens-digest"], force=True)
    assert not done and Path(forced).name.startswith(Path(run).name + "-f")
    Path(forced).mkdir()
    assert d2m._run_dir(out, "pretrain", {"steps": 3}, ["tokens-digest"]) == (run, True), "an unfinished forced run is not used"
    (Path(forced) / "summary.json").write_text("{}")
    assert d2m._run_dir(out, "pretrain", {"steps": 3}, ["tokens-digest"]) == (forced, True), "the finished forced run is"
    # other code (a changed model/ module): another run directory, not finished
    monkeypatch.setattr(d2m, "stage_code_digest", lambda stage: "0" * 64)
    other, done = d2m._run_dir(out, "pretrain", {"steps": 3}, ["tokens-digest"])
    assert other not in (run, forced) and not done


def test_data_to_model_fails_fast_on_a_missing_crawl(prefect_harness, tmp_path) -> None:
    from flows.data_to_model import data_to_model
    from flows.validation import ParameterError

    with pytest.raises(ParameterError, match="parameter 'crawl'"):
        data_to_model(crawl=str(tmp_path / "nope"), out=str(tmp_path / "run"))
    assert not (tmp_path / "run" / "ingest").exists()


def test_pipeline_config_holds_the_stage_config_classes_with_the_demo_defaults() -> None:
    """The stage configs the defaults resolve to are those the earlier per-stage dicts resolved to: same data keys."""
    from flows.data_to_model import PipelineConfig, _key_config
    from flows.remix import DEFAULT_CONFIG
    from model.pretrain import TrainConfig
    from tasks.config import parse
    from tasks.filter import FilterConfig
    from tasks.ingest import IngestConfig
    from tasks.ops.remix import RemixConfig
    from tasks.ops.tokenize import TokenizeConfig
    from tasks.ops.tokenizer_training import TokenizerTrainConfig

    cfg = parse(PipelineConfig, None)
    assert cfg.ingest == IngestConfig() and cfg.filter == FilterConfig() and cfg.remix == parse(RemixConfig, DEFAULT_CONFIG)
    assert cfg.tokenizer == parse(TokenizerTrainConfig, {"vocab_size": 2048, "character_coverage": 0.98})
    assert cfg.tokenize == parse(TokenizeConfig, {"add_bos": True, "val_fraction": 0.05})
    assert isinstance(cfg.pretrain, TrainConfig) and cfg.pretrain.preset == "demo"

    # a mapping changes only the keys it names, at any depth; everything else keeps the demo default
    tiny = parse(PipelineConfig, TINY)
    assert tiny.pretrain.steps == 3 and tiny.pretrain.lr == cfg.pretrain.lr == 3e-3
    assert parse(PipelineConfig, {"filter": {"langid": {"keep": ["en"]}}}).filter.langid.keep == ["en"]
    assert tiny.filter == cfg.filter
    # a training run's key: the fields that differ from the class defaults, not this run's paths
    assert _key_config(tiny.pretrain, "pretrain")["steps"] == 3 and "data" not in _key_config(tiny.pretrain, "pretrain")
    assert _key_config(parse(PipelineConfig, {"pretrain": {"log_every": 10}}).pretrain, "pretrain") == _key_config(cfg.pretrain, "pretrain")


def test_pipeline_config_refuses_unknown_keys_wrong_types_and_run_paths(tmp_path) -> None:
    from flows.data_to_model import PipelineConfig
    from tasks.config import ConfigError, parse

    with pytest.raises(ConfigError, match=r"unknown key 'pretrain.stepz' \(did you mean 'pretrain.steps'\?\)"):
        parse(PipelineConfig, {"pretrain": {"stepz": 3}})
    with pytest.raises(ConfigError, match=r"unknown key 'filtr' \(did you mean 'filter'\?\)"):
        parse(PipelineConfig, {"filtr": {}})
    with pytest.raises(ConfigError, match=r"'sft.batch_size' should be a valid integer"):
        parse(PipelineConfig, {"sft": {"batch_size": "4"}})
    with pytest.raises(ConfigError, match=r"sft.data is set by data_to_model .*'sft_data'"):
        parse(PipelineConfig, {"sft": {"data": "chat.jsonl"}})
    path = tmp_path / "pipeline.yaml"
    path.write_text("pretrain:\n  steps: 7\n  lr: 1e-3\n")
    cfg = parse(PipelineConfig, str(path))
    assert (cfg.pretrain.steps, cfg.pretrain.lr) == (7, 1e-3)


def test_data_to_model_refuses_a_bad_config_before_any_work(prefect_harness, crawl, tmp_path) -> None:
    from flows.data_to_model import data_to_model
    from flows.validation import ParameterError

    with pytest.raises(ParameterError, match=r"parameter 'config': unknown key 'dedup.minhash.band' \(did you mean 'dedup.minhash.bands'\?\)"):
        data_to_model(crawl=str(crawl), out=str(tmp_path / "run"), config={"dedup": {"minhash": {"band": 4}}})
    assert not (tmp_path / "run").exists()
