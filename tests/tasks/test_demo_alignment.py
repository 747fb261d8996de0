"""The demo alignment data (tasks/demo_crawl/alignment.py): deterministic, bilingual, correct answers,
and every record accepted by the real SFT / DPO / MC readers.

    python -m pytest -q tests/tasks/test_demo_alignment.py
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from flows.align_common import DPO_DEMO_DATA, EVAL_DEMO_TASKS, SFT_DEMO_DATA, require_data
from flows.validation import ParameterError
from model.dpo_data import load_preference_pairs
from model.evals.mc_jsonl import load_mc
from model.evaluate import parse_task_specs
from model.sft_data import load_sft_examples
from tasks.demo_crawl import generate_demo_crawl
from tasks.demo_crawl.alignment import generate_alignment_data
from tasks.demo_crawl.glossary import TOPIC_NAMES
from tests.model.align_fixtures import tiny_tok, tiny_tok_dir  # noqa: F401  (fixtures)

FILES = ("sft.jsonl", "dpo.jsonl", "eval_mc.jsonl")
_SENTENCE_END = {"en": re.compile(r"[.!?](\s|$)"), "zh": re.compile(r"[。！？]")}


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def digests(root: Path) -> dict[str, str]:
    return {name: hashlib.sha256((root / name).read_bytes()).hexdigest() for name in FILES}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("alignment")
    return out, generate_alignment_data(str(out))


def test_same_seed_gives_identical_bytes_other_seed_differs(data, tmp_path: Path) -> None:
    out, summary = data
    again = generate_alignment_data(str(tmp_path / "again"))
    assert digests(tmp_path / "again") == digests(out)
    assert {k: v for k, v in again.items() if k not in ("out", "files")} == {k: v for k, v in summary.items() if k not in ("out", "files")}
    generate_alignment_data(str(tmp_path / "seed1"), seed=1)
    assert all(a != b for a, b in zip(digests(tmp_path / "seed1").values(), digests(out).values()))


def test_counts_and_both_languages(data) -> None:
    out, summary = data
    sft, dpo, mc = (read(out / name) for name in FILES)
    assert (len(sft), len(dpo), len(mc)) == (300, 200, 100)
    assert summary["sft"]["by_lang"] == {"en": 150, "zh": 150} and summary["dpo"]["by_lang"] == {"en": 100, "zh": 100}
    assert set(summary["eval_mc"]["by_subject"]) == {"topic_en", "topic_zh", "sentences_en", "sentences_zh"}
    assert set(summary["sft"]["by_task"]) == {"summary", "topic", "translate", "count"}
    assert set(summary["dpo"]["by_rejected_kind"]) == {"wrong_answer", "repetitive", "off_language"}
    multi = [r for r in sft if sum(m["role"] == "user" for m in r["messages"]) > 1]
    system = [r for r in sft if r["messages"][0]["role"] == "system"]
    for group in (multi, system):
        assert {r["meta"]["lang"] for r in group} == {"en", "zh"}
    han = re.compile(r"[\u4e00-\u9fff]")
    for record in sft:  # the question is in the record's language
        user = next(m["content"] for m in record["messages"] if m["role"] == "user")
        assert bool(han.search(user.split("\n\n")[0])) == (record["meta"]["lang"] == "zh")
    assert generate_alignment_data(str(out / "small"), num_sft=7, num_pref=3, num_mc=5)["eval_mc"]["records"] == 5


def test_answers_are_right_and_rejections_differ(data) -> None:
    out, _ = data
    sft, dpo, mc = (read(out / name) for name in FILES)
    for record in sft:
        meta, messages = record["meta"], record["messages"]
        paragraph = messages[1 if messages[0]["role"] == "system" else 0]["content"].split("\n\n", 1)[1]
        replies = [m["content"] for m in messages if m["role"] == "assistant"]
        assert len(replies) == len(meta["tasks"])
        for task, reply in zip(meta["tasks"], replies):
            if task == "topic":
                assert reply == TOPIC_NAMES[meta["topic"]][meta["lang"]]
            elif task == "count":
                assert int(reply) == len(_SENTENCE_END[meta["lang"]].findall(paragraph))
            elif task == "summary":
                assert paragraph.startswith(reply) and _SENTENCE_END[meta["lang"]].search(reply[-1] + " ")
            else:  # translate: the term asked for occurs in the paragraph
                term = re.search(r'"(.+?)"|“(.+?)”', "\n".join(m["content"] for m in messages if m["role"] == "user"))
                assert term and (term.group(1) or term.group(2)).lower() in paragraph.lower() and reply
    for pair in dpo:
        assert pair["chosen"].strip() and pair["rejected"].strip() and pair["chosen"] != pair["rejected"]
        if pair["meta"]["task"] == "topic" and pair["meta"]["rejected_kind"] == "wrong_answer":
            assert pair["rejected"] in {names[pair["meta"]["lang"]] for names in TOPIC_NAMES.values()}
    assert len({item["question"] for item in mc}) == len(mc)  # no question asked twice
    for item in mc:
        assert len(item["choices"]) == 4 == len(set(item["choices"])) and item["answer"] in "ABCD"


def test_eval_paragraphs_are_held_out_from_training(data) -> None:
    out, summary = data
    sft, dpo, mc = (read(out / name) for name in FILES)
    eval_sources = {item["source"] for item in mc}
    train_sources = {r["meta"]["source"] for r in sft + dpo}
    assert eval_sources <= set(summary["held_out_paragraphs"])
    assert not eval_sources & train_sources
    assert len(summary["held_out_paragraphs"]) == 2 * 2 * len(TOPIC_NAMES)


def test_real_readers_keep_every_record(data, tiny_tok) -> None:  # noqa: F811
    out, _ = data
    # the "demo" model preset's 512 tokens, with a 700-piece tokenizer (the demo's own compresses far better)
    examples, sft_stats = load_sft_examples(out / "sft.jsonl", tiny_tok, max_tokens=512 + 1)
    assert sft_stats.records == sft_stats.kept == len(examples) == 300
    assert sft_stats.skipped == {} and sft_stats.truncated <= 3  # a cut multi-turn conversation keeps its first answers
    pairs, dpo_stats = load_preference_pairs(out / "dpo.jsonl", tiny_tok, max_len=512)
    assert dpo_stats.records == dpo_stats.kept == len(pairs) == 200
    assert dpo_stats.skipped == {} and dpo_stats.truncated == 0
    items = load_mc(out / "eval_mc.jsonl")
    records = read(out / "eval_mc.jsonl")
    assert len(items) == 100
    assert [it.gold for it in items] == ["ABCD".index(r["answer"]) for r in records]
    assert sum(it.context.endswith("答案：") for it in items) == 50  # Chinese questions get the Chinese prompt
    assert {it.meta["subject"] for it in items} == {"topic_en", "topic_zh", "sentences_en", "sentences_zh"}


def test_demo_crawl_writes_alignment_and_flow_defaults_find_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ParameterError, match="longterm demo-data runs/demo/crawl"):
        require_data(SFT_DEMO_DATA)
    summary = generate_demo_crawl("runs/demo/crawl", num_docs=60, num_dumps=1, seed=3)
    crawl = tmp_path / "runs/demo/crawl"
    assert summary["alignment"]["files"] == {"sft": "alignment/sft.jsonl", "dpo": "alignment/dpo.jsonl", "eval_mc": "alignment/eval_mc.jsonl"}
    generate_alignment_data(str(tmp_path / "direct"), seed=3)
    assert digests(crawl / "alignment") == digests(tmp_path / "direct")
    assert not list(crawl.glob("dump-*/alignment*"))  # ingest reads OUT/dump-*: the alignment files are not crawl input
    for default in (SFT_DEMO_DATA, DPO_DEMO_DATA):
        assert require_data(default) == str((tmp_path / default).resolve())
    (spec,) = parse_task_specs([EVAL_DEMO_TASKS], "../shared/data")
    assert len(load_mc(spec.path)) == 100
