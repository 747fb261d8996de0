"""Generate the built-in bilingual demo crawl (deterministic for a seed).

    longterm demo-data runs/demo-crawl                 # 2,000 pages, 3 dumps, seconds
    longterm demo-data runs/demo-100k --docs 100000    # benchmark size
    python -c "from tasks.demo_crawl import generate_demo_crawl; print(generate_demo_crawl('runs/demo'))"

Layout of OUT:
    dump-00/part-0000.jsonl.gz ...   JSONL pages {id, url, text, dump} (+ id-less and corrupt lines)
    dump-00/crawl-0000.warc.gz       HTML responses with nav/cookie banner/footer boilerplate
    ground_truth.jsonl               one row per generated record (kind, lang, duplicate_of, ...)
    README.txt                       what is inside, with counts
    alignment/{sft,dpo,eval_mc}.jsonl  demo SFT / DPO / MC eval data from the same corpus (alignment.py)

Part numbers are global (dump-01 continues after dump-00), so every file basename is unique;
ingest derives ids of id-less records from "basename:line index" (tasks/readers/ids.py).
Ingest the dump directories (OUT/dump-*), not OUT: ground_truth.jsonl and alignment/ are not crawl input.
The alignment files come from their own random stream, so the crawl files are the same with or without them.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tasks.demo_crawl.alignment import generate_alignment_data
from tasks.demo_crawl.compose import Document, DocumentComposer, compose_other_lang
from tasks.demo_crawl.banks import other_languages
from tasks.demo_crawl.junk import JUNK_GENERATORS
from tasks.demo_crawl.urls import TOPIC_GROUP, junk_url, other_lang_url, page_url, url_variant
from tasks.demo_crawl.warc_pages import WarcPage, crawl_date, deterministic_record_id, render_html, write_warc
from tasks.readers.ids import derive_doc_id

KINDS = ("clean", "exact_dup", "near_dup", "junk", "other_lang", "corrupt")
CORRUPT_TYPES = ("broken_json", "text_number", "text_null", "missing_text", "invalid_utf8")
ALIGNMENT_DIR = "alignment"
NEAR_DUP_BANDS = {"high": (0.8, 0.97), "mid": (0.5, 0.8)}


@dataclass(frozen=True, kw_only=True)
class DemoCrawlConfig:
    """Size and composition of the demo crawl. Fractions are of the page records of each dump."""

    num_docs: int = 2000  # page records over all dumps (corrupt lines come on top)
    num_dumps: int = 3
    seed: int = 0
    records_per_part: int = 2500  # JSONL records per part file (before corrupt lines)
    other_lang_fraction: float = 0.08
    junk_fraction: float = 0.08
    exact_dup_fraction: float = 0.14
    near_dup_fraction: float = 0.10
    en_share: float = 0.6  # English share of the en+zh pages (the rest is Chinese)
    warc_fraction: float = 0.06  # pages written to the dump's WARC instead of JSONL
    popular_fraction: float = 0.2  # clean pages that later dumps re-crawl
    cross_dump_share: float = 0.85  # duplicates in dump >= 1 whose original is in an earlier dump
    recrawl_fraction: float = 0.25  # pages of dump >= 1 re-crawling an earlier dump's popular page (same URL; half edited)
    id_less_fraction: float = 0.03  # JSONL pages written without an "id" field

    def __post_init__(self) -> None:
        if self.num_docs < 10 * self.num_dumps or self.num_dumps < 1:
            raise ValueError(f"demo crawl needs num_dumps >= 1 and num_docs >= 10 per dump; got num_docs={self.num_docs}, "
                             f"num_dumps={self.num_dumps}")
        planted = self.other_lang_fraction + self.junk_fraction + self.exact_dup_fraction + self.near_dup_fraction + self.recrawl_fraction
        if planted >= 0.9:
            raise ValueError(f"planted fractions sum to {planted:.2f}; leave at least 10% clean pages")


@dataclass(eq=False)
class PageRecord:
    """One generated page (JSONL line or WARC response) before ids are assigned."""

    dump: int
    kind: str
    lang: str
    url: str
    text: str
    fmt: str  # "jsonl" | "warc"
    topic: str | None = None
    source: str | None = None  # clean pages and their duplicates: "wikitext2/<article>", "hongloumeng/<chapter>" ...
    junk_type: str | None = None
    original: PageRecord | None = None
    jaccard: float | None = None
    doc: Document | None = None
    html: bytes | None = None
    popular: bool = False
    has_id: bool = True
    id: str | None = None
    file: str | None = None
    line: int | None = None  # JSONL: 1-based line in the decompressed file; WARC: 1-based response index


@dataclass(eq=False)
class CorruptRecord:
    dump: int
    corrupt_type: str
    id: str | None
    lang: str | None
    raw: bytes
    file: str | None = None
    line: int | None = None


@dataclass
class _State:
    rng: random.Random
    composers: dict[str, DocumentComposer]
    uid: int = 0
    popular: list[PageRecord] = field(default_factory=list)

    def next_uid(self) -> int:
        self.uid += 1
        return self.uid


def ingest_derived_id(file_basename: str, line: int) -> str:
    """The id ingest gives a JSONL record without "id" on 1-based ``line`` of the file.

    The contract lives in ``tasks.readers.ids``: sha1("<basename>:<0-based line index>") hex[:24],
    prefixed "doc-" (blank and broken lines count).
    """
    return derive_doc_id(file_basename, line - 1)


def dump_name(index: int) -> str:
    return f"dump-{index:02d}"


# --------------------------------------------------------------------------------------------
# page generation
# --------------------------------------------------------------------------------------------
def _pick_lang(state: _State, cfg: DemoCrawlConfig) -> str:
    return "en" if state.rng.random() < cfg.en_share else "zh"


def _site(url: str) -> str:
    return url.split("://", 1)[1].split("/", 1)[0]


def _clean_page(state: _State, cfg: DemoCrawlConfig, dump: int, force_warc: bool) -> PageRecord:
    rng = state.rng
    lang = _pick_lang(state, cfg)
    doc = state.composers[lang].compose(rng)
    url = page_url(rng, lang, doc.topic, doc.title, state.next_uid())
    fmt = "warc" if force_warc or rng.random() < cfg.warc_fraction else "jsonl"
    page = PageRecord(dump, "clean", lang, url, doc.text(), fmt, topic=doc.topic, source=doc.source, doc=doc,
                      popular=rng.random() < cfg.popular_fraction)
    if fmt == "warc":
        joiner = "" if lang == "zh" else " "
        page.html = render_html(rng, lang=lang, site=_site(url), title=doc.title,
                                paragraphs=[joiner.join(p) for p in doc.paragraphs])
    return page


def _exact_dup(state: _State, dump: int, candidates: list[PageRecord]) -> PageRecord:
    rng = state.rng
    original = rng.choice(candidates)
    url = original.url if rng.random() < 0.5 else url_variant(rng, original.url)
    return PageRecord(dump, "exact_dup", original.lang, url, original.text, original.fmt, topic=original.topic,
                      source=original.source, original=original, html=original.html)


def _near_dup(state: _State, dump: int, candidates: list[PageRecord]) -> PageRecord:
    rng = state.rng
    original = rng.choice(candidates)
    assert original.doc is not None
    low, high = NEAR_DUP_BANDS["high" if rng.random() < 0.5 else "mid"]
    doc, value = state.composers[original.lang].near_duplicate(rng, original.doc, low, high, _site(original.url))
    url = original.url if rng.random() < 0.5 else url_variant(rng, original.url)
    return PageRecord(dump, "near_dup", original.lang, url, doc.text(), "jsonl", topic=original.topic,
                      source=original.source, original=original, jaccard=round(value, 6))


def _junk_page(state: _State, cfg: DemoCrawlConfig, dump: int) -> PageRecord:
    rng = state.rng
    lang = _pick_lang(state, cfg)
    junk_type = rng.choice(sorted(JUNK_GENERATORS))
    text = JUNK_GENERATORS[junk_type](rng, lang)
    url = junk_url(rng, lang, state.next_uid())
    page = PageRecord(dump, "junk", lang, url, text, "warc" if rng.random() < cfg.warc_fraction else "jsonl",
                      junk_type=junk_type)
    if page.fmt == "warc":
        lines = text.split("\n")
        page.html = render_html(rng, lang=lang, site=_site(url), title=lines[0][:60], paragraphs=lines,
                                javascript_only=junk_type == "javascript")
    return page


def _other_lang_page(state: _State, cfg: DemoCrawlConfig, dump: int) -> PageRecord:
    rng = state.rng
    bank = other_languages()
    lang = rng.choice(sorted(bank["sentences"]))
    text = compose_other_lang(rng, lang)
    url = other_lang_url(rng.choice(bank["domains"][lang]), state.next_uid())
    page = PageRecord(dump, "other_lang", lang, url, text, "warc" if rng.random() < cfg.warc_fraction else "jsonl")
    if page.fmt == "warc":
        paragraphs = text.split("\n\n")
        page.html = render_html(rng, lang=lang, site=_site(url), title=paragraphs[0][:40], paragraphs=paragraphs)
    return page


def _dump_counts(cfg: DemoCrawlConfig) -> list[int]:
    base, extra = divmod(cfg.num_docs, cfg.num_dumps)
    return [base + (1 if d < extra else 0) for d in range(cfg.num_dumps)]


def _generate_dump_pages(state: _State, cfg: DemoCrawlConfig, dump: int, num_pages: int) -> list[PageRecord]:
    rng = state.rng
    n_other = round(num_pages * cfg.other_lang_fraction)
    n_junk = round(num_pages * cfg.junk_fraction)
    n_exact = round(num_pages * cfg.exact_dup_fraction)
    n_near = round(num_pages * cfg.near_dup_fraction)
    n_recrawl = round(num_pages * cfg.recrawl_fraction) if state.popular else 0
    n_clean = num_pages - n_other - n_junk - n_exact - n_near - n_recrawl
    clean = [_clean_page(state, cfg, dump, force_warc=dump == 0 and i < 3) for i in range(n_clean)]
    earlier_popular = list(state.popular)
    pages: list[PageRecord] = list(clean)
    pools = {  # (kind, cross_dump) -> originals; near-dups only of JSONL pages (WARC text is extracted later)
        ("exact_dup", True): earlier_popular, ("exact_dup", False): clean,
        ("near_dup", True): [p for p in earlier_popular if p.fmt == "jsonl"],
        ("near_dup", False): [p for p in clean if p.fmt == "jsonl"],
    }
    for kind, count in (("exact_dup", n_exact), ("near_dup", n_near)):
        for _ in range(count):
            cross = bool(pools[(kind, True)]) and rng.random() < cfg.cross_dump_share
            pool = pools[(kind, cross)]
            if kind == "near_dup" and pool:
                pages.append(_near_dup(state, dump, pool))
            else:  # (tiny crawls: no JSONL original available for a near-dup) -> exact duplicate
                pages.append(_exact_dup(state, dump, pools[("exact_dup", cross)]))
    pages += [_recrawl(state, dump) for _ in range(n_recrawl)]
    pages += [_junk_page(state, cfg, dump) for _ in range(n_junk)]
    pages += [_other_lang_page(state, cfg, dump) for _ in range(n_other)]
    rng.shuffle(pages)
    _originals_first(pages)
    state.popular += [p for p in clean if p.popular]
    return pages


def _recrawl(state: _State, dump: int) -> PageRecord:
    """A later dump fetching an earlier dump's (popular) page again: the same URL, unchanged or lightly edited.

    Common Crawl dumps overlap this way, so removal grows with the number of dumps deduplicated
    together (DeepSeek LLM Table 1: 22% within one dump, 90% across 91)."""
    rng = state.rng
    original = rng.choice(state.popular)
    if original.fmt == "jsonl" and original.doc is not None and rng.random() < 0.5:
        low, high = NEAR_DUP_BANDS["high"]
        doc, value = state.composers[original.lang].near_duplicate(rng, original.doc, low, high, _site(original.url))
        return PageRecord(dump, "near_dup", original.lang, original.url, doc.text(), "jsonl", topic=original.topic,
                          source=original.source, original=original, jaccard=round(value, 6))
    return PageRecord(dump, "exact_dup", original.lang, original.url, original.text, original.fmt, topic=original.topic,
                      source=original.source, original=original, html=original.html)


def _originals_first(pages: list[PageRecord]) -> None:
    """Within a dump, move each original to the earliest position its cluster occupies."""
    position = {id(p): i for i, p in enumerate(pages)}
    clusters: dict[int, list[int]] = {}
    for i, page in enumerate(pages):
        if page.original is not None and id(page.original) in position:
            clusters.setdefault(id(page.original), [position[id(page.original)]]).append(i)
    for slots in clusters.values():
        members = [pages[i] for i in slots]  # original first, then its duplicates in shuffled order
        for slot, page in zip(sorted(slots), members):
            pages[slot] = page


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------
def _corrupt_lines(state: _State, dump: int, next_id: Callable[[], str]) -> list[CorruptRecord]:
    """One broken record of each type, as raw lines."""
    rng = state.rng
    name = dump_name(dump)
    lines: list[CorruptRecord] = []
    for corrupt_type in CORRUPT_TYPES:
        if corrupt_type == "broken_json":
            raw = ('{"id": "' + next_id() + '", "url": "https://www.metrotribune.com/broken", "text": "The council met on '
                   "Tuesday to disc").encode()
            lines.append(CorruptRecord(dump, corrupt_type, None, None, raw))
        elif corrupt_type == "text_number":
            rid = next_id()
            raw = json.dumps({"id": rid, "url": f"https://www.citygazette.com/n/{rng.randint(1, 9999)}",
                              "text": rng.randint(1, 10**6), "dump": name}).encode()
            lines.append(CorruptRecord(dump, corrupt_type, rid, None, raw))
        elif corrupt_type == "text_null":  # also has no id: matched by file + line only
            raw = json.dumps({"url": f"https://www.askthecrowd.com/thread/{rng.randint(1, 9999)}", "text": None,
                              "dump": name}).encode()
            lines.append(CorruptRecord(dump, corrupt_type, None, None, raw))
        elif corrupt_type == "missing_text":
            rid = next_id()
            raw = json.dumps({"id": rid, "url": f"https://www.devtutorials.com/t/{rng.randint(1, 9999)}",
                              "title": "Untitled", "dump": name}).encode()
            lines.append(CorruptRecord(dump, corrupt_type, rid, None, raw))
        else:  # invalid_utf8: valid JSON around raw bytes that are not UTF-8 (ingest should repair and keep)
            rid = next_id()
            lang = "en" if rng.random() < 0.6 else "zh"
            text = state.composers[lang].random_sentence(rng)
            head = json.dumps({"id": rid, "url": f"https://www.dailyherald-news.com/x/{rng.randint(1, 9999)}",
                               "dump": name, "text": text}, ensure_ascii=False).encode("utf-8")
            raw = head[:-2] + b" \xff\xfe\xc3(" + head[-2:]  # insert before the closing quote and brace
            lines.append(CorruptRecord(dump, corrupt_type, rid, lang, raw))
    return lines


def _write_jsonl_parts(state: _State, cfg: DemoCrawlConfig, out: Path, dump: int, pages: list[PageRecord],
                       first_part: int) -> tuple[list[PageRecord | CorruptRecord], int]:
    """Write the dump's JSONL pages (plus corrupt lines) into part files; return rows in order."""
    rng = state.rng
    name = dump_name(dump)
    counter = iter(range(1, 10**9))

    def next_id() -> str:
        return f"{name}-{next(counter):07d}"

    written: list[PageRecord | CorruptRecord] = []
    part = first_part
    for start in range(0, len(pages), cfg.records_per_part):
        chunk: list[PageRecord | CorruptRecord] = list(pages[start : start + cfg.records_per_part])
        for corrupt in _corrupt_lines(state, dump, next_id):
            chunk.insert(rng.randint(0, len(chunk)), corrupt)
        basename = f"part-{part:04d}.jsonl.gz"
        rel = f"{name}/{basename}"
        with open(out / rel, "wb") as raw_file, gzip.GzipFile(filename="", mode="wb", fileobj=raw_file, mtime=0,
                                                             compresslevel=6) as gz:
            for line_no, record in enumerate(chunk, start=1):
                record.file, record.line = rel, line_no
                if isinstance(record, CorruptRecord):
                    gz.write(record.raw + b"\n")
                    continue
                record.has_id = rng.random() >= cfg.id_less_fraction
                record.id = next_id() if record.has_id else ingest_derived_id(basename, line_no)
                obj = {"id": record.id, "url": record.url, "text": record.text, "dump": name}
                if not record.has_id:
                    del obj["id"]
                gz.write(json.dumps(obj, ensure_ascii=False).encode("utf-8") + b"\n")
        written += chunk
        part += 1
    return written, part


def _write_dump_warc(state: _State, out: Path, dump: int, pages: list[PageRecord]) -> str | None:
    if not pages:
        return None
    rng = state.rng
    rel = f"{dump_name(dump)}/crawl-{dump:04d}.warc.gz"
    warc_pages = []
    for index, page in enumerate(pages, start=1):
        page.id, page.file, page.line = deterministic_record_id(rng), rel, index
        assert page.html is not None
        warc_pages.append(WarcPage(page.id, page.url, page.html, crawl_date(dump, 37 * index)))
    with open(out / rel, "wb") as stream:
        write_warc(stream, warc_pages, warcinfo_id=deterministic_record_id(rng), warcinfo_date=crawl_date(dump, 0),
                   filename=Path(rel).name)
    return rel


def _ground_truth_row(record: PageRecord | CorruptRecord) -> dict:
    if isinstance(record, CorruptRecord):
        return {"id": record.id, "dump": dump_name(record.dump), "url": None, "lang": record.lang, "kind": "corrupt",
                "junk_type": None, "duplicate_of": None, "near_dup_jaccard": None, "file": record.file,
                "line": record.line, "format": "jsonl", "id_in_record": record.id is not None,
                "corrupt_type": record.corrupt_type, "topic": None, "domain_group": None, "cross_dump": None,
                "source": None}
    original = record.original
    return {
        "id": record.id, "dump": dump_name(record.dump), "url": record.url, "lang": record.lang, "kind": record.kind,
        "junk_type": record.junk_type, "duplicate_of": original.id if original else None,
        "near_dup_jaccard": record.jaccard, "file": record.file, "line": record.line, "format": record.fmt,
        "id_in_record": record.has_id, "corrupt_type": None, "topic": record.topic,
        "domain_group": TOPIC_GROUP.get(record.topic) if record.topic else None,
        "cross_dump": (original.dump != record.dump) if original else None, "source": record.source,
    }


def _prepare_out(out: Path) -> Path:
    """A fresh temp dir next to OUT; refuse to clobber a directory that is not a demo crawl."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} is a file; give a directory for the demo crawl")
    if out.exists() and any(out.iterdir()) and not (out / "ground_truth.jsonl").exists():
        raise ValueError(f"{out} exists and is not a demo crawl (no ground_truth.jsonl); choose an empty or new directory")
    tmp = out.with_name(out.name + ".tmp-demo-crawl")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    return tmp


def generate_demo_crawl(out: str, num_docs: int = 2000, num_dumps: int = 3, seed: int = 0) -> dict:
    """Write the demo crawl to ``out`` (a local directory) and return a summary dict."""
    return generate_demo_crawl_with(out, DemoCrawlConfig(num_docs=num_docs, num_dumps=num_dumps, seed=seed))


def generate_demo_crawl_with(out: str, cfg: DemoCrawlConfig) -> dict:
    out_path = Path(out).absolute()
    tmp = _prepare_out(out_path)
    state = _State(rng=random.Random(cfg.seed), composers={"en": DocumentComposer("en"), "zh": DocumentComposer("zh")})
    rows: list[dict] = []
    files: list[str] = []
    part = 0
    for dump, num_pages in enumerate(_dump_counts(cfg)):
        (tmp / dump_name(dump)).mkdir()
        pages = _generate_dump_pages(state, cfg, dump, num_pages)
        jsonl_pages = [p for p in pages if p.fmt == "jsonl"]
        first_part = part
        written, part = _write_jsonl_parts(state, cfg, tmp, dump, jsonl_pages, part)
        files += [f"{dump_name(dump)}/part-{i:04d}.jsonl.gz" for i in range(first_part, part)]
        warc = _write_dump_warc(state, tmp, dump, [p for p in pages if p.fmt == "warc"])
        if warc:
            files.append(warc)
        rows += [_ground_truth_row(r) for r in written]
        rows += [_ground_truth_row(p) for p in pages if p.fmt == "warc"]
        for page in pages:  # free memory: later dumps only re-crawl the popular pool
            if not page.popular:
                page.doc, page.html, page.text = None, None, ""
    with open(tmp / "ground_truth.jsonl", "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
    summary = _summary(out_path, cfg, rows, files)
    (tmp / "README.txt").write_text(_readme(summary), encoding="utf-8")
    summary["alignment"] = _alignment_summary(generate_alignment_data(str(tmp / ALIGNMENT_DIR), seed=cfg.seed))
    # pages composed after a language's non-overlapping runs of real text ran out (they recombine sentences)
    summary["recombined_pages"] = {lang: c.recombined for lang, c in sorted(state.composers.items())}
    if out_path.exists():
        shutil.rmtree(out_path)
    os.replace(tmp, out_path)
    return summary


def _alignment_summary(written: dict) -> dict:
    """Record counts and paths relative to OUT (the files were written to the temp dir renamed into place)."""
    return {"files": {name: f"{ALIGNMENT_DIR}/{Path(path).name}" for name, path in written["files"].items()},
            **{name: written[name] for name in ("sft", "dpo", "eval_mc")}}


def _summary(out: Path, cfg: DemoCrawlConfig, rows: list[dict], files: list[str]) -> dict:
    dups = [r for r in rows if r["kind"] in ("exact_dup", "near_dup")]
    near = [r["near_dup_jaccard"] for r in rows if r["kind"] == "near_dup"]
    return {
        "out": str(out),
        "config": asdict(cfg),
        "num_records": len(rows),
        "num_pages": sum(r["kind"] != "corrupt" for r in rows),
        "by_kind": dict(sorted(Counter(r["kind"] for r in rows).items())),
        "by_lang": dict(sorted(Counter(r["lang"] or "unknown" for r in rows).items())),
        "by_dump": dict(sorted(Counter(r["dump"] for r in rows).items())),
        "by_format": dict(sorted(Counter(r["format"] for r in rows).items())),
        "by_junk_type": dict(sorted(Counter(r["junk_type"] for r in rows if r["junk_type"]).items())),
        "by_corrupt_type": dict(sorted(Counter(r["corrupt_type"] for r in rows if r["corrupt_type"]).items())),
        "duplicates_cross_dump": sum(bool(r["cross_dump"]) for r in dups),
        "duplicates_within_dump": sum(r["cross_dump"] is False for r in dups),
        "near_dup_jaccard_bands": {"ge_0.8": sum(j >= 0.8 for j in near), "0.5_to_0.8": sum(0.5 <= j < 0.8 for j in near),
                                   "lt_0.5": sum(j < 0.5 for j in near)},
        "ids_derived_by_ingest": sum(not r["id_in_record"] and r["id"] is not None for r in rows),
        "files": files,
        "warc_files": [f for f in files if f.endswith(".warc.gz")],
        "ground_truth": str(out / "ground_truth.jsonl"),
        "readme": str(out / "README.txt"),
    }


def _readme(summary: dict) -> str:
    cfg = summary["config"]
    lines = [
        "longterm demo crawl",
        "===================",
        f"Generated by `longterm demo-data OUT --docs {cfg['num_docs']} --dumps {cfg['num_dumps']} --seed {cfg['seed']}`"
        " (deterministic: the same arguments give byte-identical files).",
        "",
        "A bilingual (English + Chinese) web crawl whose clean pages are real text (WikiText-2, UD English EWT,",
        "Tiny Shakespeare, 红楼梦, CMRC 2018/2019, UD Chinese GSDSimp; licenses and attribution in",
        "tasks/demo_crawl/data/SOURCES.md), with planted junk, other languages, near-duplicates and corrupt",
        "lines for scoring the curation pipeline.",
        "",
        "Files",
        "  dump-XX/part-NNNN.jsonl.gz  JSONL, one page per line: {id, url, text, dump}; some lines have no id",
        "                              (ingest derives it), a few are corrupt. Part numbers are global.",
        "  dump-XX/crawl-NNNN.warc.gz  WARC/1.0: a warcinfo record, then HTTP 200 text/html responses with nav,",
        "                              cookie banner, sidebar and footer around an <article>.",
        "  ground_truth.jsonl          one row per generated record (JSONL line or WARC response):",
        "      id             record id; WARC: WARC-Record-ID without <>; id-less JSONL: the id ingest derives,",
        "                     doc- + sha1('<file basename>:<line - 1>')[:24] (0-based line index); null for",
        "                     corrupt lines without an id",
        "      dump, url, lang (en | zh | fr de es ru ja ko | null), format (jsonl | warc), file, line",
        "      kind           clean | exact_dup | near_dup | junk | other_lang | corrupt",
        "      duplicate_of   id of the original (always a clean page) for exact_dup / near_dup",
        "      near_dup_jaccard  Jaccard of 5-word (en) / 5-character (zh, whitespace removed) shingles",
        "                     between this text and the original's text",
        "      cross_dump     true when the original is in an earlier dump",
        "      source         real text of clean pages and their duplicates: <corpus>/<document>",
        "      junk_type, corrupt_type, topic, domain_group, id_in_record",
        "",
        "Expected outcomes: corrupt lines are quarantined except invalid_utf8 (repaired: bytes replaced, kept);",
        "junk is removed by quality filters; other_lang by language id; exact_dup / near_dup by dedup.",
        "Ingest the dump directories (`longterm ingest OUT/dump-*`), not OUT: ground_truth.jsonl is not input.",
        "",
        "Counts",
        f"  records {summary['num_records']} (pages {summary['num_pages']})",
        f"  by kind {json.dumps(summary['by_kind'])}",
        f"  by lang {json.dumps(summary['by_lang'])}",
        f"  by dump {json.dumps(summary['by_dump'])}",
        f"  by format {json.dumps(summary['by_format'])}",
        f"  junk types {json.dumps(summary['by_junk_type'])}",
        f"  corrupt types {json.dumps(summary['by_corrupt_type'])}",
        f"  duplicates: {summary['duplicates_cross_dump']} cross-dump, {summary['duplicates_within_dump']} within a dump",
        f"  near-dup Jaccard bands {json.dumps(summary['near_dup_jaccard_bands'])}",
        "",
        "Files written: " + ", ".join(summary["files"]),
    ]
    return "\n".join(lines) + "\n"
