"""Demo alignment and eval data from the project-written templates (``data/templates_{en,zh}.json``), deterministic per seed.

    python -c "from tasks.demo_crawl.alignment import generate_alignment_data as g; print(g('runs/demo/crawl/alignment'))"

``longterm demo-data OUT`` calls it and writes ``OUT/alignment/``:

- ``sft.jsonl``: ``{"messages": [{"role": "system"|"user"|"assistant", "content": ...}], "meta": {...}}``; English
  and Chinese, single- and multi-turn, some with a system message. Tasks on a paragraph of the corpus
  (slots filled, a random subset of its sentences kept in order): summarise -> its first sentence,
  topic -> the topic name, translate a key term (``glossary.TERMS``) -> the other language's term,
  count the sentences -> the number.
- ``dpo.jsonl``: ``{"prompt", "chosen", "rejected", "meta"}``: chosen is the correct answer, rejected a plausible bad
  one (``meta.rejected_kind``): ``wrong_answer`` (wrong topic, another topic's sentence, another term, a
  count off by one), ``repetitive`` (a fragment repeated), ``off_language`` (the answer in the other language).
- ``eval_mc.jsonl``: the generic MC format of ``model/evals/mc_jsonl.py``: ``{"id", "question", "choices" (4),
  "answer" (letter), "subject"}``: "Which topic is this paragraph about?" and "How many sentences ...?",
  ``subject`` = ``topic_en`` / ``topic_zh`` / ``sentences_en`` / ``sentences_zh``.

Two paragraphs per (language, topic) are held out: eval_mc uses only them, sft and dpo never do.
Languages alternate record by record (en, zh, en, ...). The same arguments give byte-identical files.
"""

from __future__ import annotations

import json
import os
import random
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tasks.demo_crawl.banks import templates
from tasks.demo_crawl.glossary import TERMS, TOPIC_NAMES, terms_in

TOPICS_EN, SLOT_FILLERS_EN = templates("en")["topics"], templates("en")["slot_fillers"]
TOPICS_ZH, SLOT_FILLERS_ZH = templates("zh")["topics"], templates("zh")["slot_fillers"]

LANGS = ("en", "zh")
HELD_OUT_PER_TOPIC = 2
_SPLIT = {"en": re.compile(r"(?<=[.!?])\s+"), "zh": re.compile(r"(?<=[。！？])")}
_SLOT = re.compile(r"\{(\w+)\}")
_LETTERS = "ABCD"
_NUMBER_WORDS = {"en": ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"],
                 "zh": ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"]}

SYSTEM_PROMPTS = {
    "en": ["You are a helpful assistant. Answer briefly and accurately.",
           "You are a careful reading assistant. Reply in English and keep answers short."],
    "zh": ["你是一个乐于助人的助手，请简洁准确地回答。", "你是一名细心的阅读助手，请用中文简短作答。"],
}
_PROMPTS = {
    "summary": {"en": "Summarise this paragraph in one sentence.\n\n{text}", "zh": "请用一句话概括下面这段文字。\n\n{text}"},
    "topic": {"en": "What is the topic of this paragraph? Answer with the topic name only.\n\n{text}",
              "zh": "这段文字的主题是什么？只回答主题名称。\n\n{text}"},
    "translate": {"en": 'The paragraph below uses the term "{term}". What is this term in Chinese?\n\n{text}',
                  "zh": "下面这段文字中出现了“{term}”一词，它的英文是什么？\n\n{text}"},
    "count": {"en": "How many sentences does this paragraph have? Answer with a number.\n\n{text}",
              "zh": "这段文字有几句话？请用数字回答。\n\n{text}"},
}
# follow-up turns of a multi-turn conversation refer back to the paragraph
_FOLLOW_UPS = {
    "summary": {"en": "Now summarise it in one sentence.", "zh": "请再用一句话概括这段文字。"},
    "topic": {"en": "And what is its topic?", "zh": "那么它的主题是什么？"},
    "translate": {"en": 'How do you say "{term}" in Chinese?', "zh": "“{term}”的英文是什么？"},
    "count": {"en": "How many sentences does it have?", "zh": "它一共有几句话？"},
}
_MC_QUESTIONS = {
    "topic": {"en": "Which topic is this paragraph about?\n\n{text}", "zh": "这段文字属于哪个主题？\n\n{text}"},
    "sentences": {"en": "How many sentences does this paragraph have?\n\n{text}", "zh": "这段文字有几句话？\n\n{text}"},
}


@dataclass(frozen=True)
class Passage:
    """One corpus paragraph with its slots filled and a subset of its sentences (kept in order)."""

    lang: str
    topic: str
    source: str  # "en/news/3": language, topic, paragraph index in the corpus
    sentences: tuple[str, ...]

    @property
    def text(self) -> str:
        return ("" if self.lang == "zh" else " ").join(self.sentences)


class PassageSampler:
    """Draws passages from the corpus paragraphs of one split (``train`` or ``eval``)."""

    def __init__(self, rng: random.Random, paragraphs: dict[str, list[tuple[str, str, str]]]) -> None:
        self.rng = rng
        self.paragraphs = paragraphs  # lang -> [(source, topic, template)]

    def draw(self, lang: str, topic: str | None = None) -> Passage:
        pool = [p for p in self.paragraphs[lang] if topic is None or p[1] == topic]
        source, topic_name, template = pool[int(self.rng.random() * len(pool))]
        fillers = SLOT_FILLERS_EN if lang == "en" else SLOT_FILLERS_ZH
        chosen = {key: self.rng.choice(values) for key, values in fillers.items()}

        def fill(m: re.Match[str]) -> str:
            name = m.group(1)
            if name in chosen:
                return chosen[name]
            if name == "n":
                return str(self.rng.randint(3, 29))
            if name == "year":
                return str(self.rng.randint(2009, 2024))
            return str(self.rng.randint(12, 980) * 100)  # big

        sentences = [s.strip() for s in _SPLIT[lang].split(_SLOT.sub(fill, template)) if s.strip()]
        keep = self.rng.randint(min(2, len(sentences)), len(sentences))
        kept = sorted(self.rng.sample(range(len(sentences)), keep))
        return Passage(lang, topic_name, source, tuple(sentences[i] for i in kept))


def split_paragraphs(rng: random.Random) -> tuple[dict, dict]:
    """(train, eval) paragraph pools; eval holds ``HELD_OUT_PER_TOPIC`` paragraphs per (language, topic)."""
    train: dict[str, list] = {lang: [] for lang in LANGS}
    held: dict[str, list] = {lang: [] for lang in LANGS}
    for lang, topics in (("en", TOPICS_EN), ("zh", TOPICS_ZH)):
        for topic in sorted(topics):
            indices = set(rng.sample(range(len(topics[topic])), HELD_OUT_PER_TOPIC))
            for i, template in enumerate(topics[topic]):
                (held if i in indices else train)[lang].append((f"{lang}/{topic}/{i}", topic, template))
    return train, held


def answer_of(task: str, passage: Passage, term: tuple[str, str] | None) -> str:
    if task == "summary":
        return passage.sentences[0]
    if task == "topic":
        return TOPIC_NAMES[passage.topic][passage.lang]
    if task == "translate":
        assert term is not None
        return term[1]
    return str(len(passage.sentences))  # count


def _tasks_for(terms: list[tuple[str, str]]) -> list[str]:
    return ["summary", "topic", "count"] + (["translate"] if terms else [])


def sft_record(rng: random.Random, sampler: PassageSampler, lang: str) -> dict:
    passage = sampler.draw(lang)
    terms = terms_in(passage.text, lang)
    term = rng.choice(terms) if terms else None
    tasks = _tasks_for(terms)
    turns = 1 if rng.random() < 0.6 else rng.randint(2, 3)
    chosen = rng.sample(tasks, min(turns, len(tasks)))
    messages = []
    if rng.random() < 0.35:
        messages.append({"role": "system", "content": rng.choice(SYSTEM_PROMPTS[lang])})
    for k, task in enumerate(chosen):
        template = (_PROMPTS if k == 0 else _FOLLOW_UPS)[task][lang]
        user = template.format(text=passage.text, term=term[0] if term else "")
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": answer_of(task, passage, term)}]
    return {"messages": messages, "meta": {"lang": lang, "topic": passage.topic, "source": passage.source, "tasks": chosen}}


def _repetitive(answer: str, lang: str) -> str:
    if lang == "zh":
        fragment = answer[: max(2, min(6, len(answer) - 1))]
        return fragment * 6
    words = answer.rstrip(".!?").split()
    return " ".join((words[:5] or [answer]) * 6)


def _other(options: list[str], not_this: str, rng: random.Random) -> str:
    return rng.choice([o for o in options if o != not_this])


def rejected_of(rng: random.Random, sampler: PassageSampler, task: str, passage: Passage, term: tuple[str, str] | None,
                kind: str) -> str:
    """A plausible bad answer of ``kind`` (wrong_answer, repetitive, off_language) to ``task`` on ``passage``."""
    lang, other_lang = passage.lang, "zh" if passage.lang == "en" else "en"
    answer = answer_of(task, passage, term)
    if kind == "repetitive":
        return _repetitive(answer, lang) if task != "count" else " ".join([answer] * 8)
    if kind == "off_language":
        if task == "summary":
            return sampler.draw(other_lang, passage.topic).sentences[0]
        if task == "topic":
            return TOPIC_NAMES[passage.topic][other_lang]
        if task == "translate":
            assert term is not None
            return term[0]  # echoes the term in the question's language
        return _NUMBER_WORDS[other_lang][len(passage.sentences)]
    # wrong_answer
    if task == "summary":
        other_topic = _other(sorted(TOPIC_NAMES), passage.topic, rng)
        return sampler.draw(lang, other_topic).sentences[0]
    if task == "topic":
        return _other([names[lang] for names in TOPIC_NAMES.values()], answer, rng)
    if task == "translate":
        side = 1 if lang == "en" else 0
        return _other([pair[side] for pair in TERMS], answer, rng)
    n = len(passage.sentences)
    return str(n + 1 if n <= 2 or rng.random() < 0.5 else n - 1)


REJECTED_KINDS = ("wrong_answer", "repetitive", "off_language")


def dpo_record(rng: random.Random, sampler: PassageSampler, lang: str, kind: str) -> dict:
    passage = sampler.draw(lang)
    terms = terms_in(passage.text, lang)
    term = rng.choice(terms) if terms else None
    task = rng.choice(_tasks_for(terms))
    prompt = _PROMPTS[task][lang].format(text=passage.text, term=term[0] if term else "")
    chosen = answer_of(task, passage, term)
    rejected = rejected_of(rng, sampler, task, passage, term, kind)
    record = {"prompt": prompt, "chosen": chosen, "rejected": rejected,
              "meta": {"lang": lang, "topic": passage.topic, "source": passage.source, "task": task, "rejected_kind": kind}}
    if rng.random() < 0.25:
        record["system"] = rng.choice(SYSTEM_PROMPTS[lang])
    return record


def mc_record(rng: random.Random, sampler: PassageSampler, lang: str, kind: str, index: int, seen: set[str]) -> dict:
    """One question on a held-out passage; redrawn (a few times at most) while its text was already asked."""
    passage = sampler.draw(lang)
    for _ in range(20):
        if _MC_QUESTIONS[kind][lang].format(text=passage.text) not in seen:
            break
        passage = sampler.draw(lang)
    seen.add(_MC_QUESTIONS[kind][lang].format(text=passage.text))
    if kind == "topic":
        names = [TOPIC_NAMES[t][lang] for t in sorted(TOPIC_NAMES)]
        gold = TOPIC_NAMES[passage.topic][lang]
        choices = [gold, *rng.sample([n for n in names if n != gold], 3)]
        rng.shuffle(choices)
    else:
        n = len(passage.sentences)
        choices = [str(c) for c in sorted([n, *rng.sample([c for c in range(1, 8) if c != n], 3)])]
        gold = str(n)
    return {"id": f"demo-{kind}-{lang}-{index:04d}", "question": _MC_QUESTIONS[kind][lang].format(text=passage.text),
            "choices": choices, "answer": _LETTERS[choices.index(gold)], "subject": f"{kind}_{lang}",
            "source": passage.source}


def _write_jsonl(path: Path, records: list[dict]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
    os.replace(tmp, path)


def generate_alignment_data(out_dir: str, seed: int = 0, num_sft: int = 300, num_pref: int = 200, num_mc: int = 100) -> dict:
    """Write ``sft.jsonl``, ``dpo.jsonl`` and ``eval_mc.jsonl`` to ``out_dir``; return a summary with counts."""
    if min(num_sft, num_pref, num_mc) < 0:
        raise ValueError("record counts must be >= 0")
    rng = random.Random(f"demo-alignment:{seed}")  # independent of the crawl's random stream
    train, held = split_paragraphs(rng)
    train_sampler, eval_sampler = PassageSampler(rng, train), PassageSampler(rng, held)
    sft = [sft_record(rng, train_sampler, LANGS[i % 2]) for i in range(num_sft)]
    dpo = [dpo_record(rng, train_sampler, LANGS[i % 2], REJECTED_KINDS[(i // 2) % 3]) for i in range(num_pref)]
    seen: set[str] = set()
    mc = [mc_record(rng, eval_sampler, LANGS[i % 2], "sentences" if (i // 2) % 4 == 3 else "topic", i, seen) for i in range(num_mc)]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"sft": out / "sft.jsonl", "dpo": out / "dpo.jsonl", "eval_mc": out / "eval_mc.jsonl"}
    for name, records in (("sft", sft), ("dpo", dpo), ("eval_mc", mc)):
        _write_jsonl(paths[name], records)
    return {
        "out": str(out.absolute()),
        "files": {name: str(p.absolute()) for name, p in paths.items()},
        "sft": {"records": len(sft), "by_lang": dict(sorted(Counter(r["meta"]["lang"] for r in sft).items())),
                "multi_turn": sum(sum(m["role"] == "user" for m in r["messages"]) > 1 for r in sft),
                "with_system": sum(r["messages"][0]["role"] == "system" for r in sft),
                "by_task": dict(sorted(Counter(t for r in sft for t in r["meta"]["tasks"]).items()))},
        "dpo": {"records": len(dpo), "by_lang": dict(sorted(Counter(r["meta"]["lang"] for r in dpo).items())),
                "by_rejected_kind": dict(sorted(Counter(r["meta"]["rejected_kind"] for r in dpo).items()))},
        "eval_mc": {"records": len(mc), "by_subject": dict(sorted(Counter(r["subject"] for r in mc).items()))},
        "held_out_paragraphs": sorted(p[0] for lang in LANGS for p in held[lang]),
    }
