"""Compose distinct documents from the hand-written paragraphs, and derive near-duplicates.

A document is a title, an optional byline and 3-6 paragraphs (mostly from one topic). Each
paragraph keeps a random subset of its sentences (in order, sometimes one pair swapped) and
every slot ({city}, {person}, {n}...) is filled per document, so independently composed
documents share few 5-gram shingles even when they draw the same paragraph.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from tasks.demo_crawl.boilerplate import boilerplate_lines
from tasks.demo_crawl.corpus_en import SLOT_FILLERS_EN, TITLES_EN, TOPICS_EN
from tasks.demo_crawl.corpus_other import SENTENCES_OTHER
from tasks.demo_crawl.corpus_zh import SLOT_FILLERS_ZH, TITLES_ZH, TOPICS_ZH
from tasks.demo_crawl.similarity import jaccard, shingles
from tasks.demo_crawl.variation import WordVariation

_SENTENCE_SPLIT = {"en": re.compile(r"(?<=[.!?])\s+"), "zh": re.compile(r"(?<=[。！？])")}
_SLOT_RE = re.compile(r"\{(\w+)\}")
_ZH_CONNECTIVES = ["此外，", "同时，", "另外，", "据了解，", "值得一提的是，", "事实上，", "与此同时，"]
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"]


@dataclass
class Document:
    """A composed page: title plus paragraphs (each a list of sentences)."""

    lang: str
    topic: str
    title: str
    paragraphs: list[list[str]] = field(default_factory=list)

    def text(self) -> str:
        joiner = "" if self.lang == "zh" else " "
        return "\n\n".join([self.title, *(joiner.join(p) for p in self.paragraphs if p)])

    def copy(self) -> Document:
        return Document(self.lang, self.topic, self.title, [list(p) for p in self.paragraphs])


class DocumentComposer:
    """Composes English or Chinese documents; one instance per language."""

    def __init__(self, lang: str) -> None:
        assert lang in ("en", "zh")
        self.lang = lang
        topics = TOPICS_EN if lang == "en" else TOPICS_ZH
        self.titles = TITLES_EN if lang == "en" else TITLES_ZH
        self.fillers = SLOT_FILLERS_EN if lang == "en" else SLOT_FILLERS_ZH
        split = _SENTENCE_SPLIT[lang]
        self.topics: dict[str, list[list[str]]] = {
            topic: [[s.strip() for s in split.split(p) if s.strip()] for p in paragraphs]
            for topic, paragraphs in topics.items()
        }
        self.topic_names = sorted(self.topics)
        self.all_paragraphs = [p for t in self.topic_names for p in self.topics[t]]
        self.all_sentences = [s for p in self.all_paragraphs for s in p]
        self.variation = WordVariation(lang)
        self._parsed: dict[str, list] = {}

    # -- slots -------------------------------------------------------------------------------
    def _doc_fillers(self, rng: random.Random) -> dict[str, list[str]]:
        return {key: rng.sample(values, 2) for key, values in self.fillers.items()}

    def _parse(self, template: str) -> list:
        """Literal pieces, alternative groups (lists) and slots (tuples), cached per template."""
        parts = self._parsed.get(template)
        if parts is None:
            parts = []
            for i, piece in enumerate(_SLOT_RE.split(template)):
                if i % 2:  # a slot name
                    if piece not in self.fillers and piece not in ("n", "year", "big"):
                        raise KeyError(f"unknown slot {{{piece}}} in demo corpus sentence: {template!r}")
                    parts.append((piece,))
                else:
                    parts += self.variation.split(piece)
            self._parsed[template] = parts
        return parts

    def _fill(self, rng: random.Random, template: str, chosen: dict[str, list[str]]) -> str:
        """Fill slots and pick a form for every variable word, independently per occurrence."""
        out: list[str] = []
        for part in self._parse(template):
            if isinstance(part, str):
                out.append(part)
            elif isinstance(part, list):
                out.append(part[int(rng.random() * len(part))])
            elif part[0] in chosen:
                values = chosen[part[0]]
                out.append(values[int(rng.random() * len(values))])
            elif part[0] == "n":
                out.append(str(rng.randint(3, 29)))
            elif part[0] == "year":
                out.append(str(rng.randint(2009, 2024)))
            else:  # big
                value = rng.randint(12, 980) * 100
                out.append(f"{value:,}" if self.lang == "en" else str(value))
        return "".join(out)

    def _byline(self, rng: random.Random, topic: str, chosen: dict[str, list[str]]) -> str | None:
        year, month, day = rng.randint(2015, 2024), rng.randint(1, 12), rng.randint(1, 28)
        person, city = rng.choice(chosen["person"]), rng.choice(chosen["city"])
        if topic in ("news", "science"):
            return (f"By {person}, {city}, {_MONTHS[month - 1]} {day}, {year}" if self.lang == "en"
                    else f"本报记者 {person} {city}报道 {year}年{month}月{day}日")
        if topic == "forum":
            user = f"user{rng.randint(100, 99999)}"
            return (f"Posted by {user} on {year}-{month:02d}-{day:02d}, {rng.randint(1, 400)} replies" if self.lang == "en"
                    else f"楼主 {user} 发表于 {year}-{month:02d}-{day:02d}，回复 {rng.randint(1, 400)}")
        if topic == "academic":
            other = rng.choice(self.fillers["person"])
            return f"Authors: {person}, {other}" if self.lang == "en" else f"作者：{person}，{other}"
        return None

    # -- documents ---------------------------------------------------------------------------
    def compose(self, rng: random.Random, topic: str | None = None) -> Document:
        topic = topic or rng.choice(self.topic_names)
        chosen = self._doc_fillers(rng)
        title = self._fill(rng, rng.choice(self.titles[topic]), chosen)
        doc = Document(self.lang, topic, title)
        byline = self._byline(rng, topic, chosen)
        if byline:
            doc.paragraphs.append([byline])
        # 2-3 paragraphs of the page's topic plus 2-3 borrowed from anywhere: the borrowed ones
        # come from all ~64 paragraphs, which keeps two same-topic pages from sharing much.
        own = rng.sample(self.topics[topic], rng.randint(2, 3))
        borrowed = [p for p in rng.sample(self.all_paragraphs, rng.randint(2, 3)) if p not in own]
        body = own + borrowed
        rng.shuffle(body)
        for paragraph in body:
            kept = [s for s in paragraph if rng.random() < 0.65]
            if len(kept) < 2:
                kept = paragraph[:2]
            elif len(kept) == len(paragraph) >= 4:  # never a whole long paragraph
                del kept[rng.randrange(len(kept))]
            if len(kept) > 2 and rng.random() < 0.3:
                j = rng.randrange(len(kept) - 1)
                kept[j], kept[j + 1] = kept[j + 1], kept[j]
            filled = [self._fill(rng, s, chosen) for s in kept]
            if self.lang == "zh":  # Chinese sentences carry fewer variable words; vary their openings
                filled = [(rng.choice(_ZH_CONNECTIVES) if i and rng.random() < 0.25 else "") + s
                          for i, s in enumerate(filled)]
            doc.paragraphs.append(filled)
        return doc

    def random_sentence(self, rng: random.Random) -> str:
        return self._fill(rng, rng.choice(self.all_sentences), self._doc_fillers(rng))

    # -- near-duplicates ---------------------------------------------------------------------
    def _edit(self, rng: random.Random, doc: Document, site: str) -> None:
        """One small edit in place: change a word, replace/insert/delete a sentence, add boilerplate."""
        body = [p for p in doc.paragraphs if p]
        paragraph = rng.choice(body)
        i = rng.randrange(len(paragraph))
        op = rng.choices(["word", "replace", "insert", "delete", "boilerplate"], weights=[3, 3, 2, 2, 1])[0]
        if op == "word":
            if self.lang == "zh":
                s = paragraph[i]
                k = rng.randrange(max(1, len(s) - 2))
                paragraph[i] = s[:k] + rng.choice(self.fillers["city"]) + s[k + 2 :]
            else:
                words = paragraph[i].split(" ")
                k = rng.randrange(len(words))
                words[k] = rng.choice(["new", "several", "local", "recent", "major", "the", "other", "many"])
                paragraph[i] = " ".join(words)
        elif op == "replace":
            paragraph[i] = self.random_sentence(rng)
        elif op == "insert":
            paragraph.insert(i, self.random_sentence(rng))
        elif op == "delete" and sum(len(p) for p in body) > 3:
            del paragraph[i]
        else:
            lines = boilerplate_lines(rng, self.lang, site, rng.randint(2015, 2024), rng.randint(1, 3))
            doc.paragraphs.append(lines)

    def near_duplicate(self, rng: random.Random, original: Document, low: float, high: float,
                       site: str, max_tries: int = 30) -> tuple[Document, float]:
        """A copy of ``original`` with small edits whose shingle Jaccard to it lies in [low, high).

        Returns the edited document and its true Jaccard. If no edit sequence lands in the band
        (very short originals), the closest candidate below ``high`` is returned; the caller
        records the true value either way.
        """
        reference = shingles(original.text(), self.lang)
        best: tuple[Document, float] | None = None
        for _ in range(max_tries):
            doc = original.copy()
            for _ in range(40):
                self._edit(rng, doc, site)
                value = jaccard(shingles(doc.text(), self.lang), reference)
                if value < high:
                    if value >= low:
                        return doc, value
                    if best is None or value > best[1]:
                        best = (doc.copy(), value)
                    break
        assert best is not None
        return best


def compose_other_lang(rng: random.Random, lang: str) -> str:
    """A short page in one of the other languages (fr, de, es, ru, ja, ko)."""
    sentences = [s.replace("{n}", str(rng.randint(2, 60))) for s in rng.sample(SENTENCES_OTHER[lang], rng.randint(4, 9))]
    joiner = "" if lang in ("ja",) else " "
    cut = rng.randint(1, len(sentences) - 1)
    return joiner.join(sentences[:cut]) + "\n\n" + joiner.join(sentences[cut:])
