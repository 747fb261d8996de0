"""HumanEval (Chen et al.): greedy completion of each function, pass@1 by running the unit tests in the sandbox.

Data: ``HumanEval.jsonl[.gz]`` with ``task_id``, ``prompt``, ``test``, ``entry_point``
(``../shared/data/eval_humaneval``). Base style: the model continues the prompt and the completion is cut
at the first line that leaves the function (``\\ndef``, ``\\nclass``, ``\\nif``, ``\\nprint``, ``\\n#``),
as in the Codex paper. Chat style: the user message asks to complete the function; the first fenced code
block of the reply (or the whole reply) is used, prefixed with the prompt unless it defines the function
itself.

The program ``prompt + completion + test + check(entry_point)`` runs in ``model.sandbox`` (separate process,
timeout, CPU/memory/process limits, no network, no file access outside its temp dir); passing means exit 0.
With one greedy sample per problem pass@1 is the fraction passed; :func:`pass_at_k` is the unbiased
estimator for n samples.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.evals.common import EvalDataError, require_keys
from model.sandbox import SandboxConfig, SandboxResult, run_python
from model.sft_data import iter_jsonl

STOP_STRINGS = ("\ndef ", "\nclass ", "\nif ", "\nprint(", "\n#")
CODE_BLOCK = re.compile(r"```(?:python|py)?\n(.*?)(?:```|$)", re.S)


@dataclass
class HumanEvalItem:
    task_id: str
    prompt: str
    test: str
    entry_point: str


def load_humaneval(path: str | Path, *, limit: int | None = None) -> list[HumanEvalItem]:
    items = []
    for n, rec in iter_jsonl(path):
        where = f"{path}:{n}"
        if rec is None:
            raise EvalDataError(f"{where}: not a JSON object")
        require_keys(rec, ["task_id", "prompt", "test", "entry_point"], where)
        items.append(HumanEvalItem(rec["task_id"], rec["prompt"], rec["test"], rec["entry_point"]))
        if limit and len(items) >= limit:
            break
    return items


def chat_instruction(item: HumanEvalItem) -> str:
    return f"Complete the following Python function. Reply with the whole function in one code block.\n```python\n{item.prompt}```"


def cut_completion(text: str) -> str:
    cut = min((i for i in (text.find(s) for s in STOP_STRINGS) if i >= 0), default=len(text))
    return text[:cut]


def program_for(item: HumanEvalItem, completion: str, chat: bool) -> str:
    if chat:
        m = CODE_BLOCK.search(completion)
        code = m.group(1) if m else completion
        body = code if re.search(rf"def\s+{re.escape(item.entry_point)}\s*\(", code) else item.prompt + code
        body = item.prompt + "\n" + body if body is code else body  # keep the prompt's imports
    else:
        body = item.prompt + cut_completion(completion)
    return f"{body}\n\n{item.test}\n\ncheck({item.entry_point})\n"


def run_tests(item: HumanEvalItem, completion: str, chat: bool, cfg: SandboxConfig) -> SandboxResult:
    return run_python(program_for(item, completion, chat), cfg)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c correct: 1 - C(n-c, k) / C(n, k) (Chen et al., 2021)."""
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))
