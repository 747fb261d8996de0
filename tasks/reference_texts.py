"""Clean reference documents from ``../shared/data`` for calibrating and measuring the filters.

Chinese: magic_html gold main content of Chinese pages, CMRC 2018/2019 paragraphs, UD Chinese
GSD sentences joined into documents. English: magic_html English gold, WikiText-2 articles,
UD English EWT sentences joined into documents.

    docs = reference_documents(Path("../shared/data"), "zh")   # {"cmrc": [...], "ud": [...], ...}
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

from tasks.ops.text_units import CJK_RE, LATIN_LETTER_RE

SENTENCES_PER_DOC = 12
KANA_RE = re.compile(r"[\u3040-\u30ff]")  # Japanese pages are not Chinese references


def _cjk_fraction(text: str) -> float:
    cjk = len(CJK_RE.findall(text))
    latin = len(LATIN_LETTER_RE.findall(text))
    return cjk / max(cjk + latin, 1)


def magic_html_texts(data: Path, lang: str) -> list[str]:
    """Gold main content of magic_html pages (the gold has no language label): zh = mostly CJK
    and no kana; en = ASCII Latin script that fastText labels en with p >= 0.9 (this drops the
    Indonesian, Turkish, Polish... pages)."""
    out = []
    for kind in ("article", "forum"):
        path = data / "web_html_magic_html" / kind / "base.json"
        if not path.is_file():
            continue
        for rec in json.loads(path.read_text(encoding="utf-8")).values():
            text = (rec.get("content") or "").strip()
            if not text:
                continue
            frac = _cjk_fraction(text)
            if lang == "zh" and frac > 0.5 and not KANA_RE.search(text):
                out.append(text)
            elif lang == "en" and frac == 0 and sum(c.isascii() for c in text) / len(text) > 0.97:
                out.append(text)
    if lang == "en" and out:
        from tasks.ops.langid import LanguageIdentifier

        dec = LanguageIdentifier()(out)
        out = [t for t, lab, p in zip(out, dec.lang, dec.score) if lab == "en" and p >= 0.9]
    return out


def cmrc_paragraphs(data: Path) -> list[str]:
    texts: list[str] = []
    for path in sorted((data / "eval_cmrc2018").glob("*.json.gz")):
        d = json.loads(gzip.open(path, "rt", encoding="utf-8").read())
        texts += [p["context"] for art in d["data"] for p in art["paragraphs"]]
    for path in sorted((data / "eval_cmrc2019").glob("*.json.gz")):
        d = json.loads(gzip.open(path, "rt", encoding="utf-8").read())
        texts += [re.sub(r"\[BLANK\d+\]", "", item["context"]) for item in d["data"]]
    return list(dict.fromkeys(t.strip() for t in texts if t.strip()))


def ud_documents(data: Path, folder: str, joiner: str) -> list[str]:
    """``# text =`` sentences of a CoNLL-U treebank, SENTENCES_PER_DOC consecutive ones per document."""
    sentences: list[str] = []
    for path in sorted((data / folder).glob("*.conllu.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            sentences += [line[len("# text = "):].strip() for line in f if line.startswith("# text = ")]
    return [joiner.join(sentences[i : i + SENTENCES_PER_DOC]) for i in range(0, len(sentences), SENTENCES_PER_DOC)]


def detokenize_wikitext(line: str) -> str:
    """Undo WikiText's tokenisation (" @-@ ", " , ", "( x )") so the text reads like a web page."""
    line = re.sub(r" @(.)@ ", r"\1", line)
    line = re.sub(r" ([.,;:!?)\]'%]|n't|'s)", r"\1", line)
    return re.sub(r"([(\[$]) ", r"\1", line)


def wikitext_articles(data: Path) -> list[str]:
    arts: list[str] = []
    for path in sorted((data / "text_en_wikitext2").glob("*.txt.gz")):
        current: list[str] = []
        for line in gzip.open(path, "rt", encoding="utf-8"):
            if re.match(r"^ = [^=].* = $", line.rstrip("\n")):
                if current:
                    arts.append("\n".join(current))
                current = []
            elif line.strip() and not line.startswith(" = "):
                current.append(detokenize_wikitext(line.strip()))
        if current:
            arts.append("\n".join(current))
    return arts


def reference_documents(data: Path, lang: str) -> dict[str, list[str]]:
    if lang == "zh":
        return {
            "magic_html_zh": magic_html_texts(data, "zh"),
            "cmrc": cmrc_paragraphs(data),
            "ud_gsdsimp": ud_documents(data, "text_zh_ud_gsdsimp", ""),
        }
    if lang == "en":
        return {
            "magic_html_en": magic_html_texts(data, "en"),
            "wikitext2": wikitext_articles(data),
            "ud_ewt": ud_documents(data, "text_en_ud_ewt", "\n"),
        }
    raise ValueError(f"no reference documents for language {lang!r} (en or zh)")
