"""End to end: a checkpoint through model.evaluate; identical scores and samples for batch sizes 1 and 8."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from model.evals.bpb import bits_per_byte, token_byte_lengths
from model.evals.common import EvalDataError
from model.evaluate import EvalConfig, evaluate, parse_task_specs
from model.finetune import recorded_tokenizer
from model.tokenizer import Tokenizer
from storage import Counts, DatasetWriter, write_shard
from tests.model.align_fixtures import tiny_model, tiny_tok, tiny_tok_dir, write_tiny_checkpoint  # noqa: F401

MC_ROWS = [
    {"question": "中国的首都是哪里？", "A": "上海", "B": "北京", "C": "广州", "D": "深圳", "answer": "B"},
    {"question": "What is 2 + 2?", "choices": ["3", "4", "5", "22"], "answer": 1},
    {"question": "Which is a colour?", "choices": ["blue", "table", "run"], "answer": 0},
    {"question": "今天天气怎么样？", "choices": ["很好", "不好"], "answer": "A"},
] * 3
GSM_ROWS = [{"question": f"Tom has {a} apples and buys {b} more. How many apples does he have?", "answer": f"{a} + {b} = {a + b}\n#### {a + b}"}
            for a, b in [(3, 4), (10, 5), (7, 8), (1, 1), (20, 22), (6, 9)]]
HUMANEVAL_ROWS = [
    {"task_id": "T/0", "prompt": "def add(a, b):\n    \"\"\"Return a + b.\"\"\"\n", "entry_point": "add",
     "test": "def check(c):\n    assert c(1, 2) == 3\n", "canonical_solution": "    return a + b\n"},
    {"task_id": "T/1", "prompt": "def neg(x):\n    \"\"\"Return -x.\"\"\"\n", "entry_point": "neg",
     "test": "def check(c):\n    assert c(3) == -3\n", "canonical_solution": "    return -x\n"},
]


@pytest.fixture(scope="module")
def ckpt(tiny_tok: Tokenizer, tiny_tok_dir: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    model = tiny_model(tiny_tok.padded_vocab_size, max_seq_len=384)
    return write_tiny_checkpoint(tmp_path_factory.mktemp("run"), model, tiny_tok_dir)


@pytest.fixture(scope="module")
def task_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("evaldata")
    files = {"mc": d / "mc.jsonl", "gsm8k": d / "gsm.jsonl", "humaneval": d / "he.jsonl"}
    for key, rows in (("mc", MC_ROWS), ("gsm8k", GSM_ROWS), ("humaneval", HUMANEVAL_ROWS)):
        files[key].write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    return {k: str(v) for k, v in files.items()}


def run(ckpt: str, task_files: dict[str, str], out: Path, batch_size: int, **kw) -> dict:
    tasks = [f"mc:toy={task_files['mc']}", f"gsm8k={task_files['gsm8k']}", f"humaneval={task_files['humaneval']}"]
    cfg = EvalConfig(checkpoint=ckpt, tasks=tasks, out=str(out), batch_size=batch_size, gsm8k_fewshot=1,
                     gsm8k_max_new_tokens=24, humaneval_max_new_tokens=24, **kw)
    return evaluate(cfg)


def test_batch_size_does_not_change_scores_or_samples(ckpt: str, task_files: dict[str, str], tmp_path: Path) -> None:
    a = run(ckpt, task_files, tmp_path / "bs1", batch_size=1)
    b = run(ckpt, task_files, tmp_path / "bs8", batch_size=8)
    assert a["results"] == b["results"]
    for task, by_style in a["samples"].items():
        for style, rel in by_style.items():
            assert (tmp_path / "bs1" / rel).read_text() == (tmp_path / "bs8" / rel).read_text(), rel
    res = a["results"]
    assert res["toy"]["base"]["n"] == 12 and 0 <= res["toy"]["base"]["acc"] <= 1
    assert res["gsm8k"]["base"]["n"] == 6 and res["humaneval"]["base"]["n"] == 2
    he = [json.loads(line) for line in (tmp_path / "bs1" / a["samples"]["humaneval"]["base"]).read_text().splitlines()]
    assert all(s["status"] in {"passed", "failed", "killed", "timeout", "output_limit"} for s in he)
    assert (tmp_path / "bs1" / "results.json").is_file()


def test_humaneval_records_the_sandbox_layers_and_refuses_without_one(ckpt: str, task_files: dict[str, str], tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import model.sandbox as sandbox
    from model.sandbox import SandboxUnavailable

    def he(out: str, **kw) -> dict:
        return evaluate(EvalConfig(checkpoint=ckpt, tasks=[f"humaneval={task_files['humaneval']}"], out=str(tmp_path / out),
                                   batch_size=2, humaneval_max_new_tokens=8, **kw))

    full = sandbox.sandbox_layers(sandbox.SandboxConfig())
    if all(full.values()):
        m = he("full")["results"]["humaneval"]["base"]
        assert m["sandbox"] == {"netns": True, "landlock": True, "seccomp": True, "audit_hook": True, "weak": False}
    # a machine without user + network namespaces (what unshare_available() detects)
    monkeypatch.setattr(sandbox, "unshare_available", lambda: False)
    with pytest.raises(SandboxUnavailable, match="netns.*allow-weak-sandbox"):
        he("refused")
    assert not (tmp_path / "refused" / "results.json").exists()
    doc = he("weak", allow_weak_sandbox=True)
    m = doc["results"]["humaneval"]["base"]
    assert m["sandbox"]["netns"] is False and m["sandbox"]["weak"] is True and m["n"] == 2
    rows = [json.loads(x) for x in (tmp_path / "weak" / doc["samples"]["humaneval"]["base"]).read_text().splitlines()]
    assert rows and all(r["isolation"]["netns"] is False and r["isolation"]["weak"] is True for r in rows)


def test_system_prompt_runs_side_by_side(ckpt: str, task_files: dict[str, str], tmp_path: Path) -> None:
    doc = evaluate(EvalConfig(checkpoint=ckpt, tasks=[f"mc:toy={task_files['mc']}", f"gsm8k={task_files['gsm8k']}"], out=str(tmp_path),
                              batch_size=4, system_prompt="You are a helpful assistant.", gsm8k_fewshot=1, gsm8k_max_new_tokens=8, limit=3))
    assert set(doc["results"]["toy"]) == set(doc["results"]["gsm8k"]) == {"chat", "chat+system"}
    assert doc["results"]["gsm8k"]["chat"]["n"] == 3
    assert set(doc["tasks"]) == {"toy [chat]", "toy [chat+system]", "gsm8k [chat]", "gsm8k [chat+system]"}
    assert doc["tasks"]["toy [chat]"]["acc"] == doc["results"]["toy"]["chat"]["acc"]
    row = next(r for r in doc["table"] if r["metric"] == "acc")
    assert set(row) == {"task", "metric", "chat", "chat+system"}
    chat = [json.loads(x) for x in (tmp_path / doc["samples"]["toy"]["chat"]).read_text().splitlines()]
    system = [json.loads(x) for x in (tmp_path / doc["samples"]["toy"]["chat+system"]).read_text().splitlines()]
    assert [s["loglik"] for s in chat] != [s["loglik"] for s in system]  # the system message reached the model


def test_bad_task_specs_and_tokenizer_mismatch(tiny_tok: Tokenizer, tiny_tok_dir: str, tmp_path: Path) -> None:
    small = write_tiny_checkpoint(tmp_path / "small", tiny_model(128), tiny_tok_dir)  # vocabulary of another tokenizer
    with pytest.raises(ValueError, match="trained with another tokenizer"):
        evaluate(EvalConfig(checkpoint=small, tasks=["gsm8k=" + str(Path(__file__))], out=str(tmp_path / "o")))
    with pytest.raises(ValueError, match="unknown eval task"):
        parse_task_specs(["mmlux"], "../shared/data")
    with pytest.raises(ValueError, match="needs a path"):
        parse_task_specs(["hellaswag"], "../shared/data")
    with pytest.raises(ValueError, match="does not exist"):
        parse_task_specs(["mc:x=/no/such/file.jsonl"], "../shared/data")


def write_val_tokens(root: Path, tok: Tokenizer, texts: dict[str, list[str]]) -> str:
    w = DatasetWriter(str(root), kind="tokens", stage="tokenize", config={"t": sorted(texts)})
    infos = []
    for k, (lang, docs) in enumerate(sorted(texts.items())):
        ids = [i for d in docs for i in tok.encode(d, eos=True)]
        infos.append(write_shard(w.location, "val", k, pa.table({"tokens": pa.array(np.array(ids, dtype=np.uint16))}), fmt="arrow",
                                 name=f"{lang}-{k:05d}.arrow", attrs={"split": "val", "lang": lang}))
    w.commit(infos, Counts(input=2, kept=2), {"tokenizer_digest": tok.digest, "eos_id": tok.eos_id, "tokenizer_uri": tok.location})
    return w.location


def test_bits_per_byte_per_language(tiny_tok: Tokenizer, tmp_path: Path) -> None:
    en = ["The quick brown fox jumps over the lazy dog. " * 3, "Language models are trained on large data. " * 3]
    zh = ["今天天气很好我们一起去公园散步。" * 4, "大语言模型的训练需要大量高质量的数据。" * 4]
    uri = write_val_tokens(tmp_path / "tokens", tiny_tok, {"en": en, "zh": zh})
    model = tiny_model(tiny_tok.padded_vocab_size)
    res = bits_per_byte(model, tiny_tok, uri, seq_len=32, batch_size=4)
    assert set(res) == {"en", "zh"}
    lengths = token_byte_lengths(tiny_tok, tiny_tok.padded_vocab_size)
    assert int(lengths[tiny_tok.eos_id]) == 0 and int(lengths[tiny_tok.special_ids["<|end|>"]]) == 0
    for lang, docs in (("en", en), ("zh", zh)):
        ids = [i for d in docs for i in tiny_tok.encode(d, eos=True)]
        windows = (len(ids) - 1) // 32
        targets = ids[1 : windows * 32 + 1]
        assert res[lang]["bytes"] == sum(int(lengths[t]) for t in targets)
        assert 0 < res[lang]["bpb"] < 20
    # every byte of the text is counted once: the whole stream's bytes equal the UTF-8 size
    all_ids = [i for d in zh for i in tiny_tok.encode(d, eos=True)]
    assert sum(int(lengths[t]) for t in all_ids) == sum(len(d.encode()) for d in zh)
    # a pretraining checkpoint names only its token dataset; the tokenizer is found through the dataset's stats
    assert recorded_tokenizer({"train_config": {"data": uri}}) == tiny_tok.location
    assert recorded_tokenizer({"tokenizer": "/x/tok"}) == "/x/tok" and recorded_tokenizer({}) == ""
    other = write_val_tokens(tmp_path / "t2", tiny_tok, {"en": en})
    ds_meta = Path(other) / "manifest.json"
    doc = json.loads(ds_meta.read_text())
    doc["stats"]["tokenizer_digest"] = "f" * 64
    ds_meta.write_text(json.dumps(doc))
    with pytest.raises(EvalDataError, match="tokenized with tokenizer"):
        bits_per_byte(model, tiny_tok, other, seq_len=32)


def test_command_line_flags() -> None:
    from model.evaluate import EvalConfig
    from model.flags import from_flags, to_flags

    cfg = from_flags(EvalConfig, ["runs/sft", "--tasks", "mmlu,gsm8k", "--out", "o", "--chat", "--limit", "3", "--system-prompt", "Be brief."], prog="x")
    assert cfg.checkpoint == "runs/sft" and cfg.tasks == ["mmlu,gsm8k"] and cfg.chat and cfg.limit == 3 and cfg.system_prompt == "Be brief."
    assert from_flags(EvalConfig, ["c", "--tasks", "mmlu", "--out", "o"], prog="x").batch_size == 8
    assert from_flags(EvalConfig, to_flags(cfg), prog="x") == cfg
