"""HTML pages with real boilerplate (nav, cookie banner, sidebar, footer) and the WARC writer.

Records are deterministic: WARC-Record-IDs come from the generator's RNG and WARC-Dates from the
dump's crawl date, and warcio's gzip members carry no timestamp, so a seed gives identical bytes.
"""

from __future__ import annotations

import html
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from io import BytesIO
from typing import BinaryIO

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from tasks.demo_crawl.boilerplate import COOKIE_BANNERS, FOOTER_LINES, NAV_ITEMS, SHARE_LINES


@dataclass
class WarcPage:
    record_id: str  # "urn:uuid:..." (what ingest uses as the document id)
    url: str
    html: bytes
    date: str  # ISO 8601, e.g. 2024-03-01T12:00:00Z


def deterministic_record_id(rng: random.Random) -> str:
    return f"urn:uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}"


def crawl_date(dump_index: int, offset_seconds: int) -> str:
    start = datetime(2024, 1, 1, tzinfo=timezone.utc) + timedelta(days=90 * dump_index, seconds=offset_seconds)
    return start.strftime("%Y-%m-%dT%H:%M:%SZ")


def render_html(rng: random.Random, *, lang: str, site: str, title: str, paragraphs: list[str],
                javascript_only: bool = False) -> bytes:
    """A full HTML page: the main text sits in <article>, surrounded by site chrome."""
    ui = "zh" if lang == "zh" else "en"
    esc = html.escape
    nav = "".join(f'<li><a href="/{i}/">{esc(item)}</a></li>' for i, item in enumerate(rng.sample(NAV_ITEMS[ui], 7)))
    cookie = esc(rng.choice(COOKIE_BANNERS[ui]))
    accept = "同意" if ui == "zh" else "Accept"
    related = "".join(f'<li><a href="/related/{rng.randint(1, 99999)}">{esc(line)}</a></li>'
                      for line in rng.sample(SHARE_LINES[ui], 3))
    footer = "".join(f"<p>{esc(line.format(year=rng.randint(2018, 2024), site=site))}</p>"
                     for line in rng.sample(FOOTER_LINES[ui], 3))
    if javascript_only:
        notice = paragraphs[0] if paragraphs else ""
        main = (f'<div id="app"></div><noscript>{esc(notice)}</noscript>'
                f'<script>{esc(chr(10).join(paragraphs[1:]))}</script>')
    else:
        body = "".join(f"<p>{esc(p)}</p>" for p in paragraphs)
        main = f"<article><h1>{esc(title)}</h1>{body}</article>"
    page = (
        f'<!DOCTYPE html>\n<html lang="{esc(lang)}">\n<head><meta charset="utf-8">'
        f"<title>{esc(title)} - {esc(site)}</title>"
        '<script>window.dataLayer = window.dataLayer || []; function gtag(){dataLayer.push(arguments);}</script>'
        '<link rel="stylesheet" href="/static/site.css"></head>\n<body>\n'
        f'<header><a class="logo" href="/">{esc(site)}</a><nav><ul>{nav}</ul></nav></header>\n'
        f'<div class="cookie-banner" id="cookie-consent"><p>{cookie}</p><button>{accept}</button></div>\n'
        f"<main>{main}<aside><ul>{related}</ul></aside></main>\n"
        f"<footer>{footer}</footer>\n</body>\n</html>\n"
    )
    return page.encode("utf-8")


def write_warc(stream: BinaryIO, pages: list[WarcPage], *, warcinfo_id: str, warcinfo_date: str, filename: str) -> None:
    """Write a gzipped WARC: one warcinfo record, then one HTTP response record per page."""
    writer = WARCWriter(stream, gzip=True)
    info = writer.create_warcinfo_record(filename, {"software": "longterm demo-data", "format": "WARC File Format 1.0",
                                                    "description": "synthetic bilingual demo crawl"})
    info.rec_headers.replace_header("WARC-Record-ID", f"<{warcinfo_id}>")
    info.rec_headers.replace_header("WARC-Date", warcinfo_date)
    writer.write_record(info)
    for page in pages:
        http_headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                                   ("Content-Length", str(len(page.html)))], protocol="HTTP/1.1")
        record = writer.create_warc_record(
            page.url, "response", payload=BytesIO(page.html), length=len(page.html), http_headers=http_headers,
            warc_headers_dict={"WARC-Record-ID": f"<{page.record_id}>", "WARC-Date": page.date},
        )
        writer.write_record(record)
