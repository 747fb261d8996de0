"""MMLU (Hendrycks et al.) as multiple choice by log-likelihood, k-shot from the dev split.

Reads a directory with ``dev/`` and ``test/`` CSVs per subject (``<subject>_test.csv[.gz]``) in either
layout: the original header-less rows ``question,A,B,C,D,answer-letter``, or the reformatted copy
with a header ``question,choice0,choice1,choice2,choice3,answer`` (answer 0-3), as in
``../shared/data/eval_mmlu``. A row with a missing column or an invalid answer raises
:class:`EvalDataError` naming the file and line.

Prompt (the original paper's and lm-evaluation-harness's ``mmlu`` task)::

    The following are multiple choice questions (with answers) about abstract algebra.

    <dev question>
    A. ...
    B. ...
    C. ...
    D. ...
    Answer: B

    <test question>
    ...
    Answer:

continuations `` A`` .. `` D``.
"""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

from model.evals.common import EvalDataError, MCItem, letter_index

LETTERS = "ABCD"


def read_mmlu_csv(path: Path) -> list[tuple[str, list[str], int]]:
    """(question, 4 choices, gold index) rows of one subject file."""
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8"))))
    if not rows:
        return []
    header = [c.strip().lower() for c in rows[0]]
    if "question" in header:
        need = ["question", "answer"]
        choice_cols = [c for c in ("choice0", "choice1", "choice2", "choice3") if c in header] or [c for c in ("a", "b", "c", "d") if c in header]
        missing = [c for c in need if c not in header] + ([] if len(choice_cols) == 4 else ["choice0..choice3 (or A..D)"])
        if missing:
            raise EvalDataError(f"{path}: header {rows[0]} lacks column(s) {missing}")
        q, a = header.index("question"), header.index("answer")
        cols = [header.index(c) for c in choice_cols]
        body, first_line = rows[1:], 2
    else:
        q, cols, a, body, first_line = 0, [1, 2, 3, 4], 5, rows, 1
    out = []
    width = max([q, a, *cols]) + 1
    for n, row in enumerate(body, first_line):
        if len(row) < width:
            raise EvalDataError(f"{path}:{n}: {len(row)} columns, expected {width} (question, 4 choices, answer)")
        out.append((row[q], [row[c] for c in cols], letter_index(row[a].strip(), 4, f"{path}:{n}")))
    return out


def subject_files(root: Path, split: str) -> dict[str, Path]:
    d = root / split
    if not d.is_dir():
        raise EvalDataError(f"{root}: no {split}/ directory (expected MMLU dev/ and test/ CSVs)")
    files = {}
    for p in sorted(d.iterdir()):
        name = p.name.removesuffix(".gz").removesuffix(".csv")
        if p.name.endswith((".csv", ".csv.gz")):
            files[name.removesuffix(f"_{split}")] = p
    return files


def format_question(question: str, choices: list[str]) -> str:
    return question.strip() + "".join(f"\n{LETTERS[i]}. {c}" for i, c in enumerate(choices)) + "\nAnswer:"


def load_mmlu(root: str | Path, *, num_fewshot: int = 5, subjects: list[str] | None = None, limit_per_subject: int | None = None) -> list[MCItem]:
    root = Path(root)
    tests = subject_files(root, "test")
    devs = subject_files(root, "dev") if num_fewshot else {}
    if subjects:
        unknown = sorted(set(subjects) - set(tests))
        if unknown:
            raise EvalDataError(f"{root}: no test file for subject(s) {unknown}")
        tests = {s: tests[s] for s in subjects}
    items: list[MCItem] = []
    for subject, path in tests.items():
        shots = read_mmlu_csv(devs[subject])[:num_fewshot] if num_fewshot and subject in devs else []
        if num_fewshot and len(shots) < num_fewshot:
            raise EvalDataError(f"{root}: subject {subject} has {len(shots)} dev examples, {num_fewshot}-shot needs {num_fewshot}")
        head = f"The following are multiple choice questions (with answers) about {subject.replace('_', ' ')}.\n\n"
        head += "".join(format_question(q, c) + f" {LETTERS[g]}\n\n" for q, c, g in shots)
        rows = read_mmlu_csv(path)[: limit_per_subject or None]
        for k, (q, choices, gold) in enumerate(rows):
            items.append(MCItem(id=f"{subject}/{k}", context=head + format_question(q, choices),
                                choices=[f" {x}" for x in LETTERS], gold=gold, meta={"subject": subject}))
    return items
