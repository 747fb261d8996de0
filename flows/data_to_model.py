"""The whole pipeline as one Prefect flow: curate, then train.

    ingest -> filter -> dedup -> remix -> train-tokenizer -> tokenize -> pretrain -> sft -> dpo -> eval

Each stage is its own subflow (``flows/<stage>.py``, also runnable and deployable alone) and
passes dataset URIs or checkpoint paths, never tables or tensors. Every stage output is
content-addressed: a data stage's version key is derived from its resolved config, the digests
of its input manifests and the digest of the code that computes it (``storage.DatasetWriter``,
``tasks.code_digest``), and a training stage's run directory is keyed the same way
(``<out>/<stage>/<stage>-<key>``). Rerunning the flow after changing one stage's config or code
therefore recomputes that stage and everything downstream of it (their input digests change)
and reuses everything upstream; ``force=["filter"]`` recomputes the named stages (and, when
their output changes, what follows) even so. ``pipeline.json`` in ``out`` (written atomically)
records, per stage, the output, whether it was reused and the stage's code digest.

    from flows.data_to_model import data_to_model
    data_to_model(crawl="runs/demo/crawl", out="runs/demo")

or ``longterm demo`` (generates the demo crawl first), or the ``data-to-model`` deployment.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import glob
import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger

from flows.deduplicate import dedup_flow
from flows.dpo import dpo_flow
from flows.eval import eval_flow
from flows.filter import filter_flow
from flows.ingest import ingest_flow
from flows.pretrain import pretrain_flow
from flows.remix import DEFAULT_CONFIG as DEFAULT_REMIX
from flows.remix import remix_flow
from flows.sft import sft_flow
from flows.tokenize import tokenize_flow
from flows.tokenizer import train_tokenizer_flow
from flows.validation import ParameterError, parse_config, require_output
from model.dpo import DPOConfig
from model.evaluate import EvalConfig
from model.pretrain import TrainConfig
from model.sft import SFTConfig
from storage import content_key, file_sha256, open_dataset, write_bytes_atomic
from tasks.code_digest import stage_code_digest
from tasks.config import parse
from tasks.dedup import DedupConfig
from tasks.filter import FilterConfig
from tasks.ingest import IngestConfig
from tasks.ops.remix import RemixConfig
from tasks.ops.tokenize import TokenizeConfig
from tasks.ops.tokenizer_training import TokenizerTrainConfig

STAGES = ["ingest", "filter", "dedup", "remix", "train-tokenizer", "tokenize", "pretrain", "sft", "dpo", "eval"]


# The fields of each training stage's config that data_to_model sets itself (paths of this run).
RUN_FIELDS = {
    "pretrain": ("data", "out"),
    "sft": ("init", "data", "out", "tokenizer"),
    "dpo": ("init", "data", "out", "tokenizer"),
    "eval": ("checkpoint", "tasks", "out", "tokenizer"),
}


def _default_remix() -> RemixConfig:
    return parse(RemixConfig, DEFAULT_REMIX)


@dataclass(frozen=True)
class PipelineConfig:
    """Every stage's config for ``data_to_model``, as the stage's own config class.

    Parse it with ``tasks.config.parse(PipelineConfig, mapping | path)``: a mapping such as
    ``{"filter": {"langid": {"keep": ["en"]}}, "pretrain": {"steps": 50}}`` changes only the keys
    it names. The defaults are the CPU demo: a tiny vocabulary and a small model trained for a few
    minutes; ``remix`` defaults to ``configs/remix.yaml``. The training configs' paths
    (``RUN_FIELDS``: data, out, init, tokenizer, checkpoint, tasks) are this run's and are set by
    the flow; the data files are ``sft_data`` / ``dpo_data`` and the eval tasks ``eval_tasks``.
    """

    ingest: IngestConfig = field(default_factory=IngestConfig)
    filter: FilterConfig = field(default_factory=FilterConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    remix: RemixConfig = field(default_factory=_default_remix)
    # coverage 0.98: the real Chinese text of the demo crawl (红楼梦, Wikipedia) needs 2,630 characters at 0.995, more
    # than the 2,048-piece demo vocabulary; the rarer 2% of characters encode as bytes
    tokenizer: TokenizerTrainConfig = field(default_factory=lambda: TokenizerTrainConfig(vocab_size=2048, character_coverage=0.98))
    tokenize: TokenizeConfig = field(default_factory=lambda: TokenizeConfig(add_bos=True, val_fraction=0.05))
    pretrain: TrainConfig = field(default_factory=lambda: TrainConfig(
        data="", out="", preset="demo", seq_len=256, batch_size=8, steps=120, lr=3e-3, eval_every=40, eval_batches=4,
        log_every=10, ckpt_every_steps=60, progress=False))
    nproc: int = 1  # processes (GPUs) for training; > 1 launches torchrun
    sft_data: str = ""  # chat JSONL (default: <crawl>/alignment/sft.jsonl)
    sft: SFTConfig = field(default_factory=lambda: SFTConfig(
        init="", data="", out="", seq_len=512, batch_size=4, epochs=1.0, max_steps=40, lr=1e-3, warmup_steps=2,
        eval_every=20, num_eval_prompts=4, eval_max_new_tokens=32))
    dpo_data: str = ""  # preference JSONL (default: <crawl>/alignment/dpo.jsonl)
    dpo: DPOConfig = field(default_factory=lambda: DPOConfig(
        init="", data="", out="", seq_len=511, batch_size=4, epochs=1.0, max_steps=25, lr=1e-4, warmup_steps=2, eval_every=25))
    eval_tasks: str = ""  # eval task specs (default: bpb plus the demo multiple-choice file)
    eval: EvalConfig = field(default_factory=lambda: EvalConfig(checkpoint="", tasks=[], out="", limit=50, batch_size=8))

    def __post_init__(self) -> None:
        for stage, names in RUN_FIELDS.items():
            for name in names:
                if getattr(getattr(self, stage), name):
                    hint = {"sft": " (the data file is 'sft_data')", "dpo": " (the data file is 'dpo_data')",
                            "eval": " (the tasks are 'eval_tasks')"}.get(stage, "") if name in ("data", "tasks") else ""
                    raise ValueError(f"{stage}.{name} is set by data_to_model for each run; leave it out{hint}")


def _key_config(cfg: Any, stage: str) -> dict[str, Any]:
    """What a training run's key hashes: the config's fields that differ from the class defaults, less the run's paths."""
    out = {}
    for f in dataclasses.fields(cfg):
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        value = getattr(cfg, f.name)
        if f.name not in RUN_FIELDS[stage] and value != default:
            out[f.name] = value
    return out


def _crawl_inputs(crawl: str) -> list[str]:
    """The dump folders of a crawl directory (``crawl/dump-*``), else the crawl path itself."""
    dumps = sorted(glob.glob(os.path.join(crawl, "dump-*")))
    return dumps or [crawl]


def _newly_written(uri: str, started: str) -> bool:
    """True when the dataset version at ``uri`` was published by this flow run."""
    return open_dataset(uri).manifest.finished_at >= started


def _run_done(run: str, stage: str) -> bool:
    return os.path.isfile(os.path.join(run, "results.json" if stage == "eval" else "summary.json"))


def _run_dir(out: str, stage: str, config: dict[str, Any], inputs: list[str], force: bool = False) -> tuple[str, bool]:
    """Content-addressed run directory of a training stage and whether it already finished.

    The key covers the config, the inputs and the stage's code digest. ``force`` gives a fresh
    ``<stage>-<key>-f<time>`` directory; otherwise the newest finished one of the key is reused
    (a forced rerun that finished), else ``<stage>-<key>`` (resumed when it was started before).
    """
    key = content_key(stage, config, inputs, code_digest=stage_code_digest(stage))
    base = f"{stage}-{key}"
    root = os.path.join(out, stage)
    if force:
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        return os.path.join(root, f"{base}-f{stamp}{uuid.uuid4().hex[:4]}"), False
    forced = sorted(glob.glob(os.path.join(glob.escape(root), f"{glob.escape(base)}-f*")), reverse=True)
    for run in forced + [os.path.join(root, base)]:
        if _run_done(run, stage):
            return run, True
    return os.path.join(root, base), False


@flow(name="data-to-model", log_prints=True)
def data_to_model(
    crawl: str = "runs/demo/crawl",
    out: str = "runs/demo",
    config: dict[str, Any] | PipelineConfig | str | None = None,
    until: str = "eval",
    ray_address: str | None = None,
    force: list[str] | None = None,
) -> dict[str, Any]:
    """Run every stage from raw dumps in ``crawl`` to an evaluated model under ``out``.

    ``until`` stops after that stage (one of ingest, filter, dedup, remix, train-tokenizer,
    tokenize, pretrain, sft, dpo, eval). ``force`` names stages to recompute even when an output
    with the same inputs, config and code exists. ``config``: a :class:`PipelineConfig`, or a
    mapping / YAML or JSON file of overrides of its defaults. Returns the stage -> output map also
    written to ``out/pipeline.json``.
    """
    log = get_run_logger()
    cfg = parse_config("config", PipelineConfig, config)
    if until not in STAGES:
        raise ParameterError("until", f"unknown stage {until!r}; one of {STAGES}")
    forced = set(force or [])
    if forced - set(STAGES):
        raise ParameterError("force", f"unknown stage(s) {sorted(forced - set(STAGES))}; one of {STAGES}")
    if not os.path.exists(crawl):
        raise ParameterError("crawl", f"{crawl}: no such file or folder (generate one with `longterm demo-data {crawl}`)")
    out = require_output("out", out)
    alignment = os.path.join(crawl, "alignment")
    sft_data = cfg.sft_data or os.path.join(alignment, "sft.jsonl")
    dpo_data = cfg.dpo_data or os.path.join(alignment, "dpo.jsonl")
    eval_tasks = cfg.eval_tasks or "bpb={tokens}" + (f",mc:demo={alignment}/eval_mc.jsonl" if os.path.isfile(f"{alignment}/eval_mc.jsonl") else "")
    last = STAGES.index(until)
    for stage, path in (("sft", sft_data), ("dpo", dpo_data)):
        if STAGES.index(stage) <= last and not os.path.isfile(path):
            raise ParameterError(f"config.{stage}_data", f"{path}: no such file (the demo crawl writes it under alignment/)")

    started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    outputs: dict[str, Any] = {}
    reused: dict[str, bool] = {}
    code: dict[str, str] = {}

    def record(stage: str, value: Any, was_reused: bool) -> bool:
        outputs[stage], reused[stage] = value, was_reused
        code[stage] = stage_code_digest(stage.replace("-", "_"))
        if stage in ("pretrain", "sft", "dpo", "eval"):  # point <out>/<stage>/LATEST at this run, as data stages do
            run_name = Path(value).relative_to(Path(out) / stage).parts[0]
            write_bytes_atomic(os.path.join(out, stage, "LATEST"), f"{run_name}\n".encode())
        log.info("%s: %s (%s)", stage, value, "reused" if was_reused else "computed")
        doc = {"crawl": crawl, "started_at": started, "outputs": outputs, "reused": reused, "code_digests": code}
        # temp file, fsync, rename: a killed run leaves the previous pipeline.json whole, never a part
        write_bytes_atomic(os.path.join(out, "pipeline.json"), json.dumps(doc, indent=2).encode())
        return STAGES.index(stage) >= last

    # ------------------------------------------------------------------ curate
    uri = ingest_flow(_crawl_inputs(crawl), os.path.join(out, "ingest"), config=cfg.ingest, ray_address=ray_address,
                      force="ingest" in forced)
    if record("ingest", uri, not _newly_written(uri, started)):
        return outputs
    uri = filter_flow(uri, os.path.join(out, "filter"), config=cfg.filter, ray_address=ray_address,
                      force="filter" in forced)
    if record("filter", uri, not _newly_written(uri, started)):
        return outputs
    uri = dedup_flow([uri], os.path.join(out, "dedup"), config=cfg.dedup, ray_address=ray_address,
                     force="dedup" in forced)
    if record("dedup", uri, not _newly_written(uri, started)):
        return outputs
    docs = remix_flow(uri, os.path.join(out, "remix"), config=cfg.remix, ray_address=ray_address, force="remix" in forced)
    if record("remix", docs, not _newly_written(docs, started)):
        return outputs

    # ------------------------------------------------------------------ tokens
    tok = train_tokenizer_flow(docs, os.path.join(out, "tokenizer"), config=cfg.tokenizer, force="train-tokenizer" in forced)
    if record("train-tokenizer", tok, not _newly_written(tok, started)):
        return outputs
    tokens = tokenize_flow(docs, tok, os.path.join(out, "tokens"), config=cfg.tokenize, ray_address=ray_address,
                           force="tokenize" in forced)
    if record("tokenize", tokens, not _newly_written(tokens, started)):
        return outputs

    # ------------------------------------------------------------------ train
    run, done = _run_dir(out, "pretrain", _key_config(cfg.pretrain, "pretrain"), [open_dataset(tokens).digest], "pretrain" in forced)
    ckpt = pretrain_flow(tokens, run, cfg.pretrain.preset, cfg.pretrain, cfg.nproc) if not done else _latest(run)
    if record("pretrain", ckpt, done):
        return outputs
    run, done = _run_dir(out, "sft", _key_config(cfg.sft, "sft"), [ckpt, file_sha256(sft_data)], "sft" in forced)
    ckpt = sft_flow(ckpt, run, data=sft_data, tokenizer=tok, config=cfg.sft, nproc=cfg.nproc) if not done else _latest(run)
    if record("sft", ckpt, done):
        return outputs
    run, done = _run_dir(out, "dpo", _key_config(cfg.dpo, "dpo"), [ckpt, file_sha256(dpo_data)], "dpo" in forced)
    ckpt = dpo_flow(ckpt, run, data=dpo_data, tokenizer=tok, config=cfg.dpo, nproc=cfg.nproc) if not done else _latest(run)
    if record("dpo", ckpt, done):
        return outputs
    tasks = eval_tasks.format(tokens=tokens)
    run, done = _run_dir(out, "eval", {"tasks": tasks, **_key_config(cfg.eval, "eval")}, [ckpt], "eval" in forced)
    if not done:
        eval_flow(ckpt, run, tasks=tasks, tokenizer=tok, config=cfg.eval)
    record("eval", os.path.join(run, "results.json"), done)
    return outputs


def _latest(run_dir: str) -> str:
    from model.checkpoint import resolve_checkpoint

    return str(resolve_checkpoint(run_dir))
