"""Real pages from ../shared/data for the dedup benchmarks (English and Chinese).

English: magic-html article/forum main contents, the Common Crawl sample (Latin-script docs),
CCNet heads. Chinese: magic-html zh pages, newspaper4k zh articles, the CC sample's zh docs, and
chapters of Hongloumeng split into ~1,000-character documents.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from dedup.shingles import is_cjk_text, tokenize

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _doc(i: str, text: str, url: str | None, source: str) -> dict[str, Any]:
    return {"id": i, "text": text, "url": url, "source": source, "lang": "zh" if is_cjk_text(text) else "en"}


def real_pages(root: Path = SHARED, min_tokens: int = 40) -> list[dict[str, Any]]:
    """Every usable page, as document rows (id, text, url, source, lang)."""
    if not root.is_dir():
        raise SystemExit(f"{root} is missing: the quality benchmark needs ../shared/data")
    docs: list[dict[str, Any]] = []
    for part in ("article", "forum"):
        base = json.loads((root / "web_html_magic_html" / part / "base.json").read_text())
        for key, rec in sorted(base.items()):
            docs.append(_doc(f"magic-{part}-{key[:12]}", rec.get("content") or "", rec.get("url"), f"magic-{part}"))
    cc = root / "web_text_commoncrawl_dolma"
    for f in sorted(cc.glob("*.jsonl.gz")):
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            for n, line in enumerate(fh):
                rec = json.loads(line)
                url = (rec.get("metadata") or {}).get("url") or (rec.get("metadata") or {}).get("warc_url")
                docs.append(_doc(f"cc-{f.name.split('.')[0]}-{n}", rec.get("text") or "", url, "cc"))
    for f in sorted((root / "web_html_newspaper4k_zh" / "txt").glob("*.txt")):
        docs.append(_doc(f"np4k-{f.stem}", f.read_text(encoding="utf-8"), None, "newspaper4k"))
    with gzip.open(root / "text_zh_hongloumeng" / "hongloumeng.txt.gz", "rt", encoding="utf-8") as fh:
        text = "".join(line.strip() for line in fh)
    for n, i in enumerate(range(0, min(len(text), 600_000), 1000)):
        docs.append(_doc(f"hlm-{n}", text[i : i + 1000], None, "hongloumeng"))
    return [d for d in docs if len(tokenize(d["text"])) >= min_tokens]
