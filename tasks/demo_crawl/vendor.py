"""Regenerate the vendored real text of the demo crawl (``tasks/demo_crawl/data/{en,zh}.jsonl.gz``).

    python -m tasks.demo_crawl.vendor                       # from ../shared/data (skips when absent)
    python -m tasks.demo_crawl.vendor --data DIR --out tasks/demo_crawl/data

Reads only public-domain and CC-BY-SA sources (see ``data/SOURCES.md``): WikiText-2, UD English EWT and
Tiny Shakespeare for English; 红楼梦, UD Chinese GSDSimp and the CMRC 2018/2019 contexts for Chinese. Never
web pages. One line per source document:

    {"source": "wikitext2", "doc": "Homarus gammarus", "topic": "encyclopedia", "title": "...",
     "paragraphs": [["sentence", "sentence"], ...]}

Changes made to the originals (CC-BY-SA asks us to say so): WikiText's tokenisation undone and sentences
holding ``<unk>`` removed; CMRC contexts cut into paragraphs of four sentences and CMRC 2019 blanks
filled with their answer sentences; treebank sentences taken from the ``# text =`` lines and grouped;
Shakespeare speeches joined into one paragraph each; every paragraph split into sentences. The output is deterministic: the same inputs give byte-identical files.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

from tasks.reference_texts import detokenize_wikitext

DATA_DIR = Path(__file__).with_name("data")
DEFAULT_SHARED = Path("../shared/data")
SENTENCE_END = {"en": re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])"),
                "zh": re.compile(r"(?<=[。！？])(?![”」』）])|(?<=[。！？][”」』）])")}
EWT_TOPIC = {"answers": "forum", "newsgroup": "forum", "weblog": "blog", "email": "email", "reviews": "reviews"}
# how much of each source is vendored (characters of text, in file order); keeps data/ near 2 MB compressed
MAX_CHARS = {"shakespeare": 450_000, "hongloumeng": 420_000}


_ABBREVIATION = re.compile(r"(?:\b[A-Z]|\b(?:Mr|Mrs|Ms|Dr|St|Mt|No|Nos|Jr|Sr|vs|etc|Gen|Col|Lt|Capt|Sgt|Rev|Prof|Inc|Co|Ltd|"
                           r"Fig|Vol|pp|ca|approx|[A-Z]\.[A-Z]|e\.g|i\.e))\.[\"')\]]*\s+$")


def split_sentences(text: str, lang: str) -> list[str]:
    if lang == "en":
        pieces, start = [], 0
        for m in SENTENCE_END["en"].finditer(text):
            if _ABBREVIATION.search(text[max(start, m.start() - 12) : m.end()]):
                continue  # "R. H. Gibson", "Dr. Smith", "U.S. Navy": not a sentence end
            pieces.append(text[start : m.end()].strip())
            start = m.end()
        pieces.append(text[start:].strip())
    else:
        pieces = [p.strip() for p in SENTENCE_END["zh"].split(text)]
    return [p for p in pieces if p]


def _lines(path: Path) -> Iterator[str]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        for line in f:
            yield line.rstrip("\r\n")


def _doc(source: str, doc: str, topic: str, title: str, paragraphs: list[list[str]]) -> dict:
    return {"source": source, "doc": doc, "topic": topic, "title": title, "paragraphs": paragraphs}


def _runs(sentences: list[str], size: int = 4) -> list[list[str]]:
    """A long context as paragraphs of ``size`` sentences (CMRC contexts are one block each)."""
    return [sentences[i : i + size] for i in range(0, len(sentences), size)]


def _short_title(sentence: str, limit: int) -> str:
    return sentence if len(sentence) <= limit else sentence[:limit].rsplit(" ", 1)[0] + ("" if " " not in sentence else " ...")


# -- English -----------------------------------------------------------------------------------
def wikitext(data: Path) -> list[dict]:
    """One document per article; paragraphs are WikiText lines, section headings dropped."""
    docs: list[dict] = []
    def flush(heading: str | None, paragraphs: list[list[str]]) -> None:
        if heading is not None and paragraphs:  # a title with <unk> in it: the first sentence instead
            title = _short_title(paragraphs[0][0], 60) if "<unk>" in heading else detokenize_wikitext(heading)
            docs.append(_doc("wikitext2", heading, "encyclopedia", title, paragraphs))

    for path in sorted((data / "text_en_wikitext2").glob("*.txt.gz")):
        title, paragraphs = None, []
        for raw in _lines(path):
            line = raw.strip()
            heading = re.fullmatch(r"= ([^=].*) =", line)
            if heading:
                flush(title, paragraphs)
                title, paragraphs = heading.group(1).strip(), []
            elif line and not line.startswith("="):
                text = re.sub(r'" (.*?) "', r'"\1"', detokenize_wikitext(line))
                kept = [s for s in split_sentences(text, "en") if "<unk>" not in s]
                if len(kept) >= 2 or (kept and len(kept[0]) > 80):
                    paragraphs.append(kept)
        flush(title, paragraphs)
    return docs


def ud_ewt(data: Path) -> list[dict]:
    """One document per ``# newdoc``; paragraphs per ``# newpar``."""
    docs: list[dict] = []
    for path in sorted((data / "text_en_ud_ewt").glob("*.conllu.gz")):
        doc_id, paragraphs = None, []

        def flush() -> None:
            body = [p for p in paragraphs if p]
            if doc_id and body:
                genre = doc_id.split("-", 1)[0]
                docs.append(_doc("ud_ewt", doc_id, EWT_TOPIC.get(genre, "forum"), _short_title(body[0][0], 70), body))

        for line in _lines(path):
            if line.startswith("# newdoc id = "):
                flush()
                doc_id, paragraphs = line.split("= ", 1)[1].strip(), [[]]
            elif line.startswith("# newpar"):
                paragraphs.append([])
            elif line.startswith("# text = ") and doc_id:
                paragraphs[-1].append(line[len("# text = "):].strip())
        flush()
    return docs


def shakespeare(data: Path, speeches_per_doc: int = 24) -> list[dict]:
    """Speeches ("Speaker: lines") as paragraphs, ``speeches_per_doc`` consecutive ones per document."""
    path = data / "text_en_tinyshakespeare" / "input.txt.gz"
    if not path.is_file():
        return []
    text = "\n".join(_lines(path))[: MAX_CHARS["shakespeare"]]
    speeches = []
    for block in re.split(r"\n\s*\n", text):
        lines = [x.strip() for x in block.split("\n") if x.strip()]
        if len(lines) >= 2 and lines[0].endswith(":"):
            speeches.append(split_sentences(lines[0] + " " + " ".join(lines[1:]), "en"))
    docs = []
    for i in range(0, len(speeches) - 1, speeches_per_doc):
        chunk = speeches[i : i + speeches_per_doc]
        docs.append(_doc("shakespeare", f"speeches {i + 1}-{i + len(chunk)}", "literature",
                         _short_title(chunk[0][0], 60), chunk))
    return docs


# -- Chinese -----------------------------------------------------------------------------------
def hongloumeng(data: Path) -> list[dict]:
    """One document per chapter (回); paragraphs are the text's lines."""
    path = data / "text_zh_hongloumeng" / "hongloumeng.txt.gz"
    if not path.is_file():
        return []
    docs, title, paragraphs, total = [], None, [], 0
    for raw in _lines(path):
        line = raw.strip().replace("．", "。")
        if re.match(r"^第[一二三四五六七八九十百零]+回\s", line):
            if title and paragraphs:
                docs.append(_doc("hongloumeng", title, "literature", title, paragraphs))
            if total > MAX_CHARS["hongloumeng"]:
                return docs
            title, paragraphs = re.sub(r"\s+", " ", line), []
        elif line and title:
            paragraphs.append(split_sentences(line, "zh"))
            total += len(line)
    if title and paragraphs:
        docs.append(_doc("hongloumeng", title, "literature", title, paragraphs))
    return docs


def cmrc(data: Path) -> list[dict]:
    """CMRC 2018 contexts (Chinese Wikipedia) grouped by article; CMRC 2019 stories with blanks filled."""
    docs: list[dict] = []
    seen: set[str] = set()
    for path in sorted((data / "eval_cmrc2018").glob("*.json.gz")):
        for art in json.loads(gzip.open(path, "rt", encoding="utf-8").read())["data"]:
            paragraphs = []
            for p in art["paragraphs"]:
                context = p["context"].strip()
                if context and context not in seen:
                    seen.add(context)
                    paragraphs += _runs(split_sentences(context, "zh"))
            if paragraphs:
                docs.append(_doc("cmrc2018", art["id"], "encyclopedia", art.get("title") or art["id"], paragraphs))
    for path in sorted((data / "eval_cmrc2019").glob("*.json.gz")):
        for item in json.loads(gzip.open(path, "rt", encoding="utf-8").read())["data"]:
            context = item["context"]
            for i, choice in enumerate(item["answers"]):
                context = context.replace(f"[BLANK{i + 1}]", item["choices"][choice])
            context = re.sub(r"\[BLANK\d+\]", "", context).strip()
            if context and context not in seen and "[" not in context:
                seen.add(context)
                sentences = split_sentences(context, "zh")
                paragraphs = _runs(sentences)
                docs.append(_doc("cmrc2019", str(item["context_id"]), "stories", _short_title(sentences[0], 20), paragraphs))
    return docs


def ud_gsdsimp(data: Path, per_paragraph: int = 4, per_doc: int = 3) -> list[dict]:
    """``# text =`` sentences (Chinese Wikipedia), ``per_paragraph`` per paragraph, ``per_doc`` paragraphs per document."""
    sentences: list[str] = []
    for path in sorted((data / "text_zh_ud_gsdsimp").glob("*.conllu.gz")):
        sentences += [line[len("# text = "):].strip() for line in _lines(path) if line.startswith("# text = ")]
    paragraphs = [sentences[i : i + per_paragraph] for i in range(0, len(sentences), per_paragraph)]
    return [_doc("ud_gsdsimp", f"sentences {i * per_paragraph + 1}-", "encyclopedia", _short_title(paragraphs[i][0], 20),
                 paragraphs[i : i + per_doc]) for i in range(0, len(paragraphs), per_doc)]


SOURCES = {"en": (wikitext, ud_ewt, shakespeare), "zh": (hongloumeng, cmrc, ud_gsdsimp)}


def write_jsonl_gz(path: Path, rows: list[dict]) -> None:
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
        for row in rows:
            gz.write(json.dumps(row, ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n")


def vendor(data: Path, out: Path) -> dict[str, dict[str, int]]:
    """Write ``out/{en,zh}.jsonl.gz`` from ``data``; return {lang: {source: documents}}."""
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, dict[str, int]] = {}
    for lang, readers in SOURCES.items():
        rows = [doc for read in readers for doc in read(data)]
        counts[lang] = {}
        for row in rows:
            counts[lang][row["source"]] = counts[lang].get(row["source"], 0) + 1
        write_jsonl_gz(out / f"{lang}.jsonl.gz", rows)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_SHARED, help="the shared data folder (../shared/data)")
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="where the jsonl.gz files go")
    args = parser.parse_args(argv)
    missing = [f for f in ("text_en_wikitext2", "text_zh_hongloumeng") if not (args.data / f).is_dir()]
    if missing:
        print(f"skipped: {args.data} has no {', '.join(missing)}; the vendored files in {args.out} are unchanged")
        return 0
    for lang, per_source in vendor(args.data, args.out).items():
        size = (args.out / f"{lang}.jsonl.gz").stat().st_size
        print(f"{args.out / f'{lang}.jsonl.gz'}: {sum(per_source.values())} documents {per_source}, {size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
