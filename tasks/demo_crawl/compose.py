"""Arrange the vendored real text into pages, and derive near-duplicates.

A clean page is a title plus a run of consecutive sentences of one real source document (a Wikipedia
article, a 红楼梦 chapter, a treebank weblog post, a CMRC context ...), cut at a drawn length and keeping
the source's paragraph breaks. Runs do not overlap, so two clean pages share no text beyond a title.
Per language there are about 1,060 (en) / 3,550 (zh) such runs; a crawl that needs more pages (the
100k-page benchmark) recombines real text after that: each further page is 3-5 paragraphs of 2-4
consecutive sentences drawn from random documents, so pages still share little with each other.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from tasks.demo_crawl.banks import SourceDocument, other_languages, real_documents
from tasks.demo_crawl.boilerplate import boilerplate_lines
from tasks.demo_crawl.similarity import jaccard, shingles

PAGE_CHARS = {"en": (700, 1600), "zh": (250, 550)}  # drawn length of a clean page's body (the synthetic crawl's range)
_COMMON_WORDS = ["new", "several", "local", "recent", "major", "the", "other", "many"]


@dataclass
class Document:
    """A composed page: title plus paragraphs (each a list of sentences)."""

    lang: str
    topic: str
    title: str
    paragraphs: list[list[str]] = field(default_factory=list)
    source: str | None = None  # "wikitext2/Homarus gammarus": where the text comes from

    def text(self) -> str:
        joiner = "" if self.lang == "zh" else " "
        return "\n\n".join([self.title, *(joiner.join(p) for p in self.paragraphs if p)])

    def copy(self) -> Document:
        return Document(self.lang, self.topic, self.title, [list(p) for p in self.paragraphs], self.source)


def _runs(doc: SourceDocument, rng: random.Random, low: int, high: int) -> list[list[list[str]]]:
    """Cut ``doc`` into consecutive, non-overlapping page bodies of about ``low..high`` characters."""
    bodies: list[list[list[str]]] = []
    body: list[list[str]] = []
    size, target = 0, rng.randint(low, high)
    for paragraph in doc.paragraphs:
        body.append([])
        for sentence in paragraph:
            body[-1].append(sentence)
            size += len(sentence)
            if size >= target:
                bodies.append([p for p in body if p])
                body, size, target = [[]], 0, rng.randint(low, high)
    if size >= low // 2:  # the document's tail, unless it is a scrap
        bodies.append([p for p in body if p])
    return bodies


class DocumentComposer:
    """Composes English or Chinese pages from the vendored real text; one instance per language."""

    def __init__(self, lang: str) -> None:
        assert lang in ("en", "zh")
        self.lang = lang
        self.documents = real_documents(lang)
        self.all_sentences = [s for d in self.documents for p in d.paragraphs for s in p]
        self.topic_names = sorted({d.topic for d in self.documents})
        self._queue: list[tuple[int, list[list[str]]]] | None = None
        self.recombined = 0  # pages composed after the non-overlapping runs ran out

    def _fill_queue(self, rng: random.Random) -> None:
        low, high = PAGE_CHARS[self.lang]
        self._queue = [(i, body) for i, doc in enumerate(self.documents) for body in _runs(doc, rng, low, high)]
        rng.shuffle(self._queue)

    def _document(self, index: int, paragraphs: list[list[str]]) -> Document:
        doc = self.documents[index]
        return Document(self.lang, doc.topic, doc.title, paragraphs, f"{doc.source}/{doc.doc}")

    def compose(self, rng: random.Random) -> Document:
        if self._queue is None:
            self._fill_queue(rng)
        assert self._queue is not None
        if self._queue:
            index, body = self._queue.pop()
            return self._document(index, [list(p) for p in body])
        self.recombined += 1
        paragraphs, first = [], None
        for _ in range(rng.randint(3, 5)):
            index = rng.randrange(len(self.documents))
            first = index if first is None else first
            paragraph = rng.choice(self.documents[index].paragraphs)
            start = rng.randrange(len(paragraph))
            paragraphs.append(list(paragraph[start : start + rng.randint(2, 4)]))
        assert first is not None
        return self._document(first, paragraphs)

    def random_sentence(self, rng: random.Random) -> str:
        return self.all_sentences[int(rng.random() * len(self.all_sentences))]

    # -- near-duplicates ---------------------------------------------------------------------
    def _edit(self, rng: random.Random, doc: Document, site: str) -> None:
        """One small edit in place: change a word, replace/insert/delete a sentence, add boilerplate."""
        body = [p for p in doc.paragraphs if p]
        paragraph = rng.choice(body)
        i = rng.randrange(len(paragraph))
        op = rng.choices(["word", "replace", "insert", "delete", "boilerplate"], weights=[3, 3, 2, 2, 1])[0]
        if op == "word":
            if self.lang == "zh":
                s, donor = paragraph[i], self.random_sentence(rng)
                k, j = rng.randrange(max(1, len(s) - 2)), rng.randrange(max(1, len(donor) - 2))
                paragraph[i] = s[:k] + donor[j : j + 2] + s[k + 2 :]
            else:
                words = paragraph[i].split(" ")
                k = rng.randrange(len(words))
                words[k] = rng.choice(_COMMON_WORDS)
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
    bank = other_languages()["sentences"][lang]
    sentences = [s.replace("{n}", str(rng.randint(2, 60))) for s in rng.sample(bank, rng.randint(4, 9))]
    joiner = "" if lang in ("ja",) else " "
    cut = rng.randint(1, len(sentences) - 1)
    return joiner.join(sentences[:cut]) + "\n\n" + joiner.join(sentences[cut:])
