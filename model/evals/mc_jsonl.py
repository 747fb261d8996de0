"""Generic multiple choice for your own tasks (C-Eval / CMMLU style Chinese files work as they are).

One JSON object per line (``.jsonl[.gz]``), or a CSV with a header (C-Eval's ``id,question,A,B,C,D,answer``):

- ``question`` (required);
- the choices as ``choices: [..]`` or as columns ``A``, ``B``, ``C``, ``D`` (``E``... allowed);
- ``answer`` (required): a letter, a 0-based index, or the text of the right choice;
- optional ``id``, ``subject``.

Prompt: the question, the lettered choices, then ``Answer:`` (``答案：`` when the question is Chinese);
continuations are the letters (`` A`` in English, ``A`` after ``答案：``). A line with a missing field or
an answer that matches no choice raises :class:`EvalDataError` naming the file and line.
"""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path
from typing import Any

from model.evals.common import EvalDataError, MCItem, is_chinese, letter_index, require_keys
from model.sft_data import iter_jsonl

LETTERS = "ABCDEFGHIJ"


def _records(path: Path) -> list[tuple[int, dict[str, Any] | None]]:
    if path.name.endswith((".csv", ".csv.gz")):
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        return [(n, row) for n, row in enumerate(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))), 2)]
    return list(iter_jsonl(path))


def item_from_record(rec: dict[str, Any], where: str, default_id: str) -> MCItem:
    require_keys(rec, ["question", "answer"], where)
    if isinstance(rec.get("choices"), list):
        choices = [str(c) for c in rec["choices"]]
    else:
        choices = []
        for letter in LETTERS:
            if letter in rec and rec[letter] not in (None, ""):
                choices.append(str(rec[letter]))
            else:
                break
    if len(choices) < 2:
        raise EvalDataError(f"{where}: needs 'choices' or columns A, B, ...; found {len(choices)} choice(s)")
    answer = rec["answer"]
    if isinstance(answer, str) and answer in choices and not (len(answer) == 1 and answer.upper() in LETTERS):
        gold = choices.index(answer)
    else:
        gold = letter_index(answer, len(choices), where)
    question = str(rec["question"]).strip()
    zh = is_chinese(question)
    context = question + "".join(f"\n{LETTERS[i]}. {c}" for i, c in enumerate(choices)) + ("\n答案：" if zh else "\nAnswer:")
    conts = [LETTERS[i] if zh else f" {LETTERS[i]}" for i in range(len(choices))]
    meta = {"subject": rec["subject"]} if rec.get("subject") else {}
    return MCItem(id=str(rec.get("id", default_id)), context=context, choices=conts, gold=gold, meta=meta)


def load_mc(path: str | Path, *, limit: int | None = None) -> list[MCItem]:
    path = Path(path)
    items = []
    for n, rec in _records(path):
        where = f"{path}:{n}"
        if rec is None:
            raise EvalDataError(f"{where}: not a JSON object")
        items.append(item_from_record(rec, where, str(n)))
        if limit and len(items) >= limit:
            break
    if not items:
        raise EvalDataError(f"{path}: no items")
    return items
