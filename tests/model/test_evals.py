"""Benchmark readers (real files when ../shared/data is present), bad input, metric math, scoring."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import torch

from model.evals.common import EvalDataError, MCItem, PromptStyle, evaluate_mc, letter_index, stderr_of_mean
from model.evals.gsm8k import build_prompt, extract_answer, load_gsm8k, normalise_number
from model.evals.hellaswag import load_hellaswag
from model.evals.humaneval import HumanEvalItem, load_humaneval, pass_at_k, program_for, run_tests
from model.evals.mc_jsonl import load_mc
from model.evals.mmlu import load_mmlu, read_mmlu_csv
from model.sandbox import SandboxConfig
from model.tokenizer import Tokenizer
from tests.model.align_fixtures import tiny_model, tiny_tok, tiny_tok_dir  # noqa: F401

HELLASWAG_LINES = [
    {"ind": 24, "activity_label": "Roof shingle removal", "ctx_a": "A man is sitting on a roof.", "ctx_b": "he",
     "ctx": "A man is sitting on a roof. he", "endings": ["is using wrap to wrap a pair of skis.", "is ripping level tiles off.",
     "is holding a rubik's cube.", "starts pulling up roofing on a roof."], "label": 3, "split": "val"},
    {"ind": 92, "activity_label": "Clean and jerk", "ctx_a": "A lady walks to a barbell. She bends down and grabs the pole.",
     "ctx_b": "the lady", "ctx": "x", "endings": ["swings and lands in her arms.", "pulls the barbell forward.",
     "pulls a rope attached to the barbell.", "stands and lifts the weight over her head."], "label": "3", "split": "val"},
]


# ----------------------------------------------------------------------------- real data


def test_mmlu_real_files(shared_data: Path) -> None:
    root = shared_data / "eval_mmlu"
    rows = read_mmlu_csv(root / "test" / "abstract_algebra_test.csv.gz")
    assert len(rows) == 100 and all(len(c) == 4 and 0 <= g < 4 for _, c, g in rows)
    items = load_mmlu(root, num_fewshot=5, subjects=["abstract_algebra", "anatomy"], limit_per_subject=3)
    assert len(items) == 6 and items[0].choices == [" A", " B", " C", " D"]
    ctx = items[0].context
    assert ctx.startswith("The following are multiple choice questions (with answers) about abstract algebra.\n\n")
    assert ctx.count("\nAnswer:") == 6 and ctx.endswith("\nAnswer:")


def test_gsm8k_real_file(shared_data: Path) -> None:
    items = load_gsm8k(shared_data / "eval_gsm8k" / "test.jsonl")
    assert len(items) == 1319 and items[0].target == "18"
    assert all(t.lstrip("-").replace(".", "").isdigit() for t in (i.target for i in items))


def test_humaneval_real_file_canonical_solutions_pass_in_the_sandbox(shared_data: Path) -> None:
    path = shared_data / "eval_humaneval" / "HumanEval.jsonl.gz"
    items = load_humaneval(path)
    assert len(items) == 164
    canon = {json.loads(line)["task_id"]: json.loads(line)["canonical_solution"] for line in gzip.open(path, "rt")}
    cfg = SandboxConfig(timeout_s=10)
    for it in items[:4]:
        assert run_tests(it, canon[it.task_id], chat=False, cfg=cfg).passed, it.task_id
        assert not run_tests(it, "    return None\n", chat=False, cfg=cfg).passed


# ----------------------------------------------------------------------------- formats and bad input


def test_hellaswag_layout(tmp_path: Path) -> None:
    p = tmp_path / "hs.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in HELLASWAG_LINES))
    items = load_hellaswag(p)
    assert items[0].context == "Roof shingle removal: A man is sitting on a roof. He"
    assert items[0].choices[3] == " starts pulling up roofing on a roof." and items[0].gold == 3 and items[1].gold == 3
    bad = dict(HELLASWAG_LINES[0])
    del bad["endings"]
    p.write_text(json.dumps(bad))
    with pytest.raises(EvalDataError, match=r"hs.jsonl:1: missing field\(s\) \['endings'\]"):
        load_hellaswag(p)


def test_generic_mc_jsonl_and_ceval_csv(tmp_path: Path) -> None:
    p = tmp_path / "cmmlu.jsonl"
    p.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [
        {"id": "q1", "question": "中国的首都是哪里？", "A": "上海", "B": "北京", "C": "广州", "D": "深圳", "answer": "B"},
        {"question": "2 + 2 = ?", "choices": ["3", "4", "5"], "answer": 1, "subject": "math"},
        {"question": "Sky colour?", "choices": ["green", "blue"], "answer": "blue"},
    ]))
    items = load_mc(p)
    assert [i.gold for i in items] == [1, 1, 1]
    assert items[0].context.endswith("\n答案：") and items[0].choices == ["A", "B", "C", "D"]
    assert items[1].context.endswith("\nAnswer:") and items[1].choices == [" A", " B", " C"]
    csv_path = tmp_path / "ceval_val.csv"
    csv_path.write_text("id,question,A,B,C,D,answer,explanation\n0,水的化学式是？,H2O,CO2,O2,NaCl,A,\n", encoding="utf-8")
    assert load_mc(csv_path)[0].gold == 0


@pytest.mark.parametrize(
    "rows, match",
    [
        ([{"question": "q", "A": "a", "B": "b"}], r"missing field\(s\) \['answer'\]"),
        ([{"question": "q", "A": "a", "B": "b", "answer": "E"}], "out of range"),
        ([{"question": "q", "answer": "A"}], "needs 'choices'"),
    ],
)
def test_generic_mc_bad_rows_raise(tmp_path: Path, rows: list, match: str) -> None:
    p = tmp_path / "bad.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in rows))
    with pytest.raises(EvalDataError, match=match):
        load_mc(p)


def test_mmlu_missing_column_and_short_row(tmp_path: Path) -> None:
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "x_test.csv").write_text("question,choice0,choice1,choice2,choice3\nq,a,b,c,d\n")
    with pytest.raises(EvalDataError, match=r"lacks column\(s\) \['answer'\]"):
        load_mmlu(tmp_path, num_fewshot=0)
    (tmp_path / "test" / "x_test.csv").write_text("q,a,b,c,d,A\nq2,a,b,c\n")  # original header-less layout
    with pytest.raises(EvalDataError, match=r"x_test.csv:2: 4 columns"):
        load_mmlu(tmp_path, num_fewshot=0)


def test_gsm8k_without_final_answer_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "g.jsonl"
    p.write_text(json.dumps({"question": "q", "answer": "no final line"}))
    with pytest.raises(EvalDataError, match="####"):
        load_gsm8k(p)


# ----------------------------------------------------------------------------- metric math


def test_gsm8k_answer_extraction() -> None:
    assert extract_answer("5 + 4 = 9. The answer is 9.") == "9"
    assert extract_answer("She pays $1,200.00 in total. The answer is $1,200.") == "1200"
    assert extract_answer("so 3 then 7 remain") == "7"
    assert extract_answer("no digits") is None
    assert normalise_number("18.0") == "18" and normalise_number("-3") == "-3"
    assert build_prompt("Q?", 2).count("Q: ") == 3 and build_prompt("Q?", 2).endswith("Q: Q?\nA:")


def test_pass_at_k_and_stderr() -> None:
    assert pass_at_k(1, 1, 1) == 1.0 and pass_at_k(1, 0, 1) == 0.0
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert pass_at_k(5, 2, 2) == pytest.approx(1 - 3 / 10)  # 1 - C(3,2)/C(5,2)
    assert stderr_of_mean(5, 10) == pytest.approx((0.25 / 9) ** 0.5)
    assert letter_index("c", 4, "x") == 2 and letter_index(3, 4, "x") == 3


def test_humaneval_program_assembly() -> None:
    it = HumanEvalItem("t/0", "def f(x):\n    \"\"\"double\"\"\"\n", "def check(c):\n    assert c(2) == 4\n", "f")
    assert run_tests(it, "    return 2 * x\n\ndef unrelated():\n    pass", chat=False, cfg=SandboxConfig()).passed
    chat_reply = "Sure:\n```python\ndef f(x):\n    return x + x\n```"
    assert "return x + x" in program_for(it, chat_reply, chat=True)
    assert run_tests(it, chat_reply, chat=True, cfg=SandboxConfig()).passed


def test_mc_scores_equal_direct_log_likelihoods(tiny_tok: Tokenizer) -> None:
    model = tiny_model(tiny_tok.padded_vocab_size)
    items = [MCItem("a", "The capital of France is", [" Paris", " Berlin", " a very long wrong answer"], 0),
             MCItem("b", "今天天气", ["很好", "不好"], 1)]
    metrics, samples = evaluate_mc(model, tiny_tok, items, PromptStyle(), batch_size=3)
    for item, s in zip(items, samples):
        for j, choice in enumerate(item.choices):
            ctx, cont = tiny_tok.encode(item.context, bos=True), tiny_tok.encode(choice)
            ids = torch.tensor([ctx + cont])
            with torch.no_grad():
                lp = torch.log_softmax(model(ids[:, :-1]).float(), -1)[0]
            direct = sum(float(lp[len(ctx) - 1 + k, t]) for k, t in enumerate(cont))
            assert s["loglik"][j] == pytest.approx(direct, abs=1e-4)
        lls = s["loglik"]
        assert s["pred"] == max(range(len(lls)), key=lambda j: lls[j])
        assert s["pred_norm"] == max(range(len(lls)), key=lambda j: lls[j] / len(item.choices[j]))
    assert metrics["acc"] == sum(s["acc"] for s in samples) / 2 and metrics["n"] == 2 and metrics["context_truncated"] == 0
    # a context longer than the model's window keeps its end and is counted, never silently scored
    long = [MCItem("c", "word " * 400 + "The capital of France is", [" Paris", " Berlin"], 0)]
    m2, s2 = evaluate_mc(model, tiny_tok, long, PromptStyle(), batch_size=2)
    assert m2["context_truncated"] == 1 and s2[0]["context_truncated"] is True
