"""Evaluate a checkpoint on a bilingual suite; write results JSON and per-sample JSONL.

    python -m model.evaluate runs/sft --tokenizer runs/tokenizer --tasks mmlu,gsm8k,humaneval --out runs/eval --limit 50
    python -m model.evaluate runs/sft --tasks "mc:ceval=data/ceval_val.jsonl,hellaswag=data/hellaswag_val.jsonl" --out runs/eval
    python -m model.evaluate runs/sft --tasks mmlu --system-prompt "You are a helpful assistant." --out runs/eval
    longterm eval runs/sft --tasks mmlu,bpb=runs/tokens      # the same through Prefect

Tasks (``name`` or ``name=path``; default paths are under ``--data-root``, ``../shared/data``):

| task | data | metric |
|---|---|---|
| ``bpb=TOKENS_URI`` | a token dataset's val shards (per language) | bits per byte |
| ``mmlu[=DIR]`` | ``eval_mmlu/{dev,test}`` CSVs | acc, acc_norm (``--mmlu-fewshot``, default 5) |
| ``hellaswag=FILE`` | HellaSwag JSONL | acc, acc_norm |
| ``mc:NAME=FILE`` | generic MC JSONL/CSV (C-Eval, CMMLU...) | acc, acc_norm |
| ``gsm8k[=FILE]`` | ``eval_gsm8k/test.jsonl`` | exact match (8-shot CoT, greedy) |
| ``humaneval[=FILE]`` | ``eval_humaneval/HumanEval.jsonl.gz`` | pass@1 (greedy, sandboxed) |

HumanEval runs model-written code in ``model/sandbox.py`` and refuses (``SandboxUnavailable``, before
generating) when the network namespace, Landlock or seccomp is unavailable, unless
``--allow-weak-sandbox``; every sample records ``isolation`` and the task's metrics ``sandbox`` (the
layers that held for all its programs, ``weak`` when one was missing).

Prompt styles: ``base`` (raw text after BOS) by default; ``--chat`` wraps every prompt in the chat template;
``--system-prompt TEXT`` runs every task twice, chat without and chat with that system message, side by
side (the DeepSeek paper's system-prompt question). Output: ``OUT/results.json`` (written last) and
``OUT/samples/<task>.<style>.jsonl``. Scores and samples are identical for any ``--batch-size``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from model.checkpoint import load_model, read_meta, resolve_checkpoint
from model.finetune import recorded_tokenizer
from model.flags import from_flags
from model.evals.bpb import bits_per_byte
from model.evals.common import MCItem, PromptStyle, evaluate_mc, stderr_of_mean
from model.evals.gsm8k import build_prompt, cut_at_stop, extract_answer, load_gsm8k
from model.evals.hellaswag import load_hellaswag
from model.evals.humaneval import chat_instruction, load_humaneval, run_tests
from model.evals.mc_jsonl import load_mc
from model.evals.mmlu import load_mmlu
from model.generate import greedy_generate
from model.llama import Transformer
from model.sandbox import KERNEL_LAYERS, SandboxConfig, require_sandbox
from model.tokenizer import Tokenizer

TASK_NAMES = ("bpb", "mmlu", "hellaswag", "mc", "gsm8k", "humaneval")
DEFAULT_PATHS = {"mmlu": "eval_mmlu", "gsm8k": "eval_gsm8k/test.jsonl", "humaneval": "eval_humaneval/HumanEval.jsonl.gz"}


@dataclass
class EvalConfig:
    checkpoint: str = field(metadata={"positional": True, "help": "checkpoint dir or run dir (its latest complete checkpoint)"})
    tasks: list[str] = field(metadata={"help": "comma-separated task specs, e.g. mmlu,gsm8k,bpb=runs/tokens (repeatable)"})
    out: str = field(metadata={"help": "directory for results.json and samples/"})
    tokenizer: str = ""  # default: the tokenizer recorded in the checkpoint's meta.json
    data_root: str = "../shared/data"
    limit: int = 0  # items per task (per subject for MMLU); 0 = all
    batch_size: int = 8
    chat: bool = False
    system_prompt: str = ""  # non-empty: evaluate chat without and with it, side by side
    mmlu_fewshot: int = 5
    gsm8k_fewshot: int = 8
    gsm8k_max_new_tokens: int = 256
    humaneval_max_new_tokens: int = 384
    bpb_max_tokens: int = 200_000
    bpb_seq_len: int = 0  # 0 = the model's max_seq_len
    sandbox_timeout_s: float = 10.0
    sandbox_workers: int = max(1, (os.cpu_count() or 1) // 2)  # HumanEval programs run in parallel processes
    allow_weak_sandbox: bool = False  # run HumanEval even without netns / Landlock / seccomp (model/sandbox.py)
    device: str = "auto"


@dataclass
class TaskSpec:
    name: str  # bpb | mmlu | hellaswag | mc | gsm8k | humaneval
    label: str  # key in the results ("mc:ceval" -> "ceval")
    path: str


def parse_task_specs(specs: list[str], data_root: str) -> list[TaskSpec]:
    out = []
    for raw in (s.strip() for spec in specs for s in spec.split(",")):
        if not raw:
            continue
        head, _, path = raw.partition("=")
        name, _, label = head.partition(":")
        if name not in TASK_NAMES:
            raise ValueError(f"unknown eval task {name!r} in {raw!r}; choose from {TASK_NAMES}")
        if not path:
            if name not in DEFAULT_PATHS:
                raise ValueError(f"task {name!r} needs a path: {name}{':NAME' if name == 'mc' else ''}=PATH")
            path = os.path.join(data_root, DEFAULT_PATHS[name])
        if name != "bpb" and not os.path.exists(path):
            raise ValueError(f"task {raw!r}: {path} does not exist")
        out.append(TaskSpec(name, label or name, path))
    if not out:
        raise ValueError("no eval tasks given (--tasks mmlu,gsm8k,...)")
    return out


def prompt_styles(cfg: EvalConfig) -> list[PromptStyle]:
    if cfg.system_prompt:
        return [PromptStyle(chat=True), PromptStyle(chat=True, system=cfg.system_prompt)]
    return [PromptStyle(chat=cfg.chat)]


def check_tokenizer_fits(tok: Tokenizer, model: Transformer, where: str) -> None:
    if tok.vocab_size > model.cfg.vocab_size:
        raise ValueError(
            f"{where}: the tokenizer has {tok.vocab_size} ids but the model's vocabulary is {model.cfg.vocab_size}; "
            f"this checkpoint was trained with another tokenizer"
        )


# ----------------------------------------------------------------------------- generation tasks


def stop_checker(tok: Tokenizer, stops: tuple[str, ...]) -> Callable[[list[int]], bool]:
    def should_stop(ids: list[int]) -> bool:
        text = tok.decode(ids[-48:])  # a stop string is short: only the tail needs decoding
        return any(s in text for s in stops)

    return should_stop


def end_ids(tok: Tokenizer) -> set[int]:
    return {tok.eos_id, *([tok.special_ids["<|end|>"]] if "<|end|>" in tok.special_ids else [])}


def run_gsm8k(model: Transformer, tok: Tokenizer, spec: TaskSpec, style: PromptStyle, cfg: EvalConfig) -> tuple[dict, list[dict]]:
    items = load_gsm8k(spec.path, limit=cfg.limit or None)
    prompts = [style.encode(tok, build_prompt(it.question, cfg.gsm8k_fewshot)) for it in items]
    # base: the few-shot format ends an answer at a blank line / next "Q:"; chat: the reply ends at <|end|>
    stop_fn = None if style.chat else stop_checker(tok, ("\n\n", "\nQ:"))
    gens = greedy_generate(model, prompts, max_new_tokens=cfg.gsm8k_max_new_tokens, pad_id=tok.pad_id, stop_ids=end_ids(tok),
                           stop_fn=stop_fn, batch_size=cfg.batch_size)
    samples, correct = [], 0
    for it, g in zip(items, gens):
        text = tok.decode(t for t in g.tokens if t not in end_ids(tok))
        text = text if style.chat else cut_at_stop(text)
        pred = extract_answer(text)
        ok = pred is not None and pred == it.target
        correct += ok
        samples.append({"id": it.id, "generation": text, "pred": pred, "target": it.target, "exact_match": float(ok),
                        "stopped": g.stopped, "prompt_truncated": g.prompt_truncated})
    n = max(1, len(items))
    return {"exact_match": correct / n, "exact_match_stderr": stderr_of_mean(correct, len(items)), "n": len(items),
            "prompt_truncated": sum(1 for g in gens if g.prompt_truncated)}, samples


def run_humaneval(model: Transformer, tok: Tokenizer, spec: TaskSpec, style: PromptStyle, cfg: EvalConfig) -> tuple[dict, list[dict]]:
    sandbox = SandboxConfig(timeout_s=cfg.sandbox_timeout_s, cpu_seconds=max(1, int(cfg.sandbox_timeout_s)),
                            allow_weak_sandbox=cfg.allow_weak_sandbox)
    require_sandbox(sandbox)  # fail closed before generating: SandboxUnavailable names the missing layer
    items = load_humaneval(spec.path, limit=cfg.limit or None)
    texts = [chat_instruction(it) if style.chat else it.prompt for it in items]
    prompts = [style.encode(tok, t) for t in texts]
    stop_fn = None if style.chat else stop_checker(tok, ("\ndef ", "\nclass ", "\nif ", "\nprint(", "\n#"))
    gens = greedy_generate(model, prompts, max_new_tokens=cfg.humaneval_max_new_tokens, pad_id=tok.pad_id,
                           stop_ids=end_ids(tok), stop_fn=stop_fn, batch_size=cfg.batch_size)
    completions = [tok.decode(t for t in g.tokens if t not in end_ids(tok)) for g in gens]
    # each program runs in its own sandboxed process; run several at once (results keep their order)
    with ThreadPoolExecutor(max_workers=max(1, min(cfg.sandbox_workers, len(items)))) as pool:
        results = list(pool.map(lambda ic: run_tests(ic[0], ic[1], style.chat, sandbox), zip(items, completions)))
    samples, passed = [], 0
    for it, completion, result in zip(items, completions, results):
        passed += result.passed
        samples.append({"task_id": it.task_id, "completion": completion, "status": result.status, "passed": float(result.passed),
                        "stderr_tail": result.stderr[-300:], "isolation": result.isolation})
    n = max(1, len(items))
    # the layers every program ran under (a layer counts only if it held for all of them)
    layers = {name: all(r.isolation.get(name, False) for r in results) for name in (*KERNEL_LAYERS, "audit_hook")}
    layers["weak"] = not all(layers[name] for name in KERNEL_LAYERS)
    return {"pass@1": passed / n, "pass@1_stderr": stderr_of_mean(passed, len(items)), "n": len(items),
            "prompt_truncated": sum(1 for g in gens if g.prompt_truncated), "sandbox": layers}, samples


def run_mc(model: Transformer, tok: Tokenizer, spec: TaskSpec, style: PromptStyle, cfg: EvalConfig) -> tuple[dict, list[dict]]:
    limit = cfg.limit or None
    items: list[MCItem]
    if spec.name == "mmlu":
        items = load_mmlu(spec.path, num_fewshot=cfg.mmlu_fewshot, limit_per_subject=limit)
    elif spec.name == "hellaswag":
        items = load_hellaswag(spec.path, limit=limit)
    else:
        items = load_mc(spec.path, limit=limit)
    metrics, samples = evaluate_mc(model, tok, items, style, batch_size=cfg.batch_size)
    subjects = sorted({s["subject"] for s in samples if "subject" in s})
    if len(subjects) > 1:
        metrics["by_subject"] = {
            sub: sum(s["acc"] for s in samples if s.get("subject") == sub) / max(1, sum(1 for s in samples if s.get("subject") == sub))
            for sub in subjects
        }
    return metrics, samples


RUNNERS = {"mmlu": run_mc, "hellaswag": run_mc, "mc": run_mc, "gsm8k": run_gsm8k, "humaneval": run_humaneval}


# ----------------------------------------------------------------------------- driver


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    tmp = path.with_name(f".tmp-{path.name}")
    with open(tmp, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n")
    tmp.replace(path)


def flat_scores(results: dict[str, dict[str, dict[str, Any]]]) -> dict[str, dict[str, float]]:
    """``{task: {metric: value}}`` (the dashboard's results.json contract); a task run in several prompt
    styles appears once per style as ``task [style]``."""
    flat: dict[str, dict[str, float]] = {}
    for task, by_style in results.items():
        for style, metrics in by_style.items():
            name = task if len(by_style) == 1 else f"{task} [{style}]"
            flat[name] = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return flat


def results_table(results: dict[str, dict[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Rows {task, metric, <style>: value...}: one column per prompt style, for side-by-side reading."""
    rows = []
    for task, by_style in results.items():
        metrics = sorted({m for v in by_style.values() for m, x in v.items() if isinstance(x, (int, float)) and not isinstance(x, bool) and m != "n"})
        for m in metrics:
            row: dict[str, Any] = {"task": task, "metric": m}
            for style, v in by_style.items():
                x = v.get(m)
                row[style] = round(x, 4) if isinstance(x, float) else x
            rows.append(row)
    return rows


def eval_units(cfg: EvalConfig) -> list[str]:
    """The runs ``evaluate`` makes, in order: ``task/style`` for each task and prompt style (``task`` for bpb)."""
    return [spec.label if spec.name == "bpb" else f"{spec.label}/{style.name}"
            for spec in parse_task_specs(cfg.tasks, cfg.data_root) for style in ([None] if spec.name == "bpb" else prompt_styles(cfg))]


def evaluate(cfg: EvalConfig, on_unit: Callable[[str, int], None] | None = None) -> dict[str, Any]:
    """Run every task in every prompt style; write samples and results.json; return the results dict.

    ``on_unit(label, samples)`` is called after each run of :func:`eval_units` (progress for the caller)."""
    specs = parse_task_specs(cfg.tasks, cfg.data_root)
    ckpt = resolve_checkpoint(cfg.checkpoint)
    meta = read_meta(ckpt)
    tok_dir = cfg.tokenizer or recorded_tokenizer(meta)
    if not tok_dir:
        raise ValueError(f"{ckpt}: no tokenizer recorded in the checkpoint; pass --tokenizer DIR")
    tok = Tokenizer.load(tok_dir)
    device = "cuda" if cfg.device == "auto" and torch.cuda.is_available() else ("cpu" if cfg.device == "auto" else cfg.device)
    model, _ = load_model(ckpt, map_location=device)
    check_tokenizer_fits(tok, model, str(ckpt))
    out = Path(cfg.out)
    (out / "samples").mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, dict[str, Any]]] = {}
    sample_files: dict[str, dict[str, str]] = {}
    timings: dict[str, float] = {}
    for spec in specs:
        t0 = time.monotonic()
        if spec.name == "bpb":
            per_lang = bits_per_byte(model, tok, spec.path, seq_len=cfg.bpb_seq_len or None, max_tokens=cfg.bpb_max_tokens,
                                     batch_size=cfg.batch_size)
            results[spec.label] = {"all": {f"bpb_{lang}": v["bpb"] for lang, v in per_lang.items()}}
            _write_jsonl(out / "samples" / f"{spec.label}.jsonl", [{"lang": k, **v} for k, v in per_lang.items()])
            sample_files[spec.label] = {"all": f"samples/{spec.label}.jsonl"}
            if on_unit is not None:
                on_unit(spec.label, len(per_lang))
        else:
            for style in prompt_styles(cfg):
                metrics, samples = RUNNERS[spec.name](model, tok, spec, style, cfg)
                results.setdefault(spec.label, {})[style.name] = metrics
                name = f"{spec.label}.{style.name}.jsonl".replace("+", "_")
                _write_jsonl(out / "samples" / name, samples)
                sample_files.setdefault(spec.label, {})[style.name] = f"samples/{name}"
                if on_unit is not None:
                    on_unit(f"{spec.label}/{style.name}", len(samples))
        timings[spec.label] = round(time.monotonic() - t0, 2)
    doc = {
        "checkpoint": str(ckpt),
        "step": meta.get("step"),
        "tokenizer": tok.location,
        "tokenizer_digest": tok.digest,
        "config": dataclasses.asdict(cfg),
        "results": results,
        "tasks": flat_scores(results),
        "table": results_table(results),
        "samples": sample_files,
        "seconds": timings,
    }
    tmp = out / ".tmp-results.json"
    tmp.write_text(json.dumps(doc, indent=1, ensure_ascii=False))
    tmp.replace(out / "results.json")
    return doc


def main(cfg: EvalConfig) -> dict[str, Any]:
    doc = evaluate(cfg)
    for row in doc["table"]:
        print("  ".join(f"{k}={v}" for k, v in row.items()))
    return doc


def cli(argv: list[str] | None = None) -> int:
    cfg = from_flags(EvalConfig, argv, prog="python -m model.evaluate", description=__doc__.split("\n")[0])
    try:
        main(cfg)
    except ValueError as e:  # EvalDataError, CheckpointError, DatasetError...
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(cli())
