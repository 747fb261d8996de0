"""HellaSwag (Zellers et al.) in its published JSONL layout (``hellaswag_val.jsonl``), scored by log-likelihood.

Fields used: ``ctx_a``, ``ctx_b`` (or ``ctx``), ``activity_label``, ``endings`` (4), ``label``.
Preprocessing as lm-evaluation-harness: context = ``activity_label + ": " + ctx_a + " " + ctx_b.capitalize()``,
WikiHow artefacts (`` [title]``, ``[header]``, ``[step]``, double spaces) removed; choices are the
preprocessed endings with a leading space. ``acc_norm`` is the metric usually reported.
"""

from __future__ import annotations

import re
from pathlib import Path

from model.evals.common import EvalDataError, MCItem, letter_index, require_keys
from model.sft_data import iter_jsonl


def preprocess(text: str) -> str:
    text = text.strip().replace(" [title]", ". ")
    text = re.sub(r"\[.*?\]", "", text)
    return text.replace("  ", " ")


def load_hellaswag(path: str | Path, *, limit: int | None = None) -> list[MCItem]:
    items: list[MCItem] = []
    for n, rec in iter_jsonl(path):
        where = f"{path}:{n}"
        if rec is None:
            raise EvalDataError(f"{where}: not a JSON object")
        require_keys(rec, ["endings", "label"], where)
        if "ctx_a" in rec:
            require_keys(rec, ["ctx_b"], where)
            ctx = rec["ctx_a"] + " " + rec["ctx_b"].capitalize()
        else:
            require_keys(rec, ["ctx"], where)
            ctx = rec["ctx"]
        endings = rec["endings"]
        if not isinstance(endings, list) or len(endings) < 2:
            raise EvalDataError(f"{where}: endings must be a list of at least 2 strings")
        label = rec.get("activity_label", "")
        context = preprocess(f"{label}: {ctx}" if label else ctx)
        items.append(MCItem(id=str(rec.get("ind", n)), context=context, choices=[" " + preprocess(e) for e in endings],
                            gold=letter_index(int(rec["label"]) if str(rec["label"]).isdigit() else rec["label"], len(endings), where)))
        if limit and len(items) >= limit:
            break
    return items
