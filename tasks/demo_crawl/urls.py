"""Realistic URLs for the demo crawl: one set of domains per topic and language, plus the URL
variants (scheme, www., trailing slash, utm_ parameters, fragment) that re-crawls of a page get.

Domains are grouped (news, encyclopedia, forum, code, academic, other) so remixing can weight by
domain group; Chinese pages live on ``.cn`` domains.
"""

from __future__ import annotations

import random
import re

# topic (the real source's genre, tasks/demo_crawl/vendor.py) -> domain group. EWT weblogs are news blogs
# (AP stories, politics), so they sit in "news"; the real text has no code or academic pages.
TOPIC_GROUP: dict[str, str] = {
    "encyclopedia": "encyclopedia", "forum": "forum", "blog": "news", "email": "other", "reviews": "other",
    "literature": "other", "stories": "other",
}

DOMAINS: dict[str, dict[str, list[str]]] = {
    "en": {
        "encyclopedia": ["en.openpedia.org", "www.knowledgebase-encyclopedia.com"],
        "forum": ["www.askthecrowd.com", "forum.hobbyhub.com", "www.homefixers-forum.com"],
        "blog": ["www.dailyherald-news.com", "www.metrotribune.com", "www.politics-weblog.com"],
        "email": ["lists.mailarchive-hub.com", "www.newsletter-archive.com"],
        "reviews": ["www.localreviews-hub.com", "www.customer-voices.com"],
        "literature": ["www.classic-texts-library.org", "www.public-domain-stage.org"],
    },
    "zh": {
        "encyclopedia": ["baike.zhishiku.cn", "www.baikequanshu.cn"],
        "literature": ["www.gudianwenxue.cn", "www.mingzhu-yuedu.cn"],
        "stories": ["www.ertonggushi.cn", "www.gushidaquan.cn"],
    },
}

_SLUG_RE = re.compile(r"[^a-z0-9]+")


def slugify(title: str) -> str:
    slug = _SLUG_RE.sub("-", title.lower()).strip("-")
    return slug[:60] or "article"


def page_url(rng: random.Random, lang: str, topic: str, title: str, uid: int) -> str:
    """A canonical https URL for a new page (``uid`` makes it unique)."""
    domain = rng.choice(DOMAINS["zh" if lang == "zh" else "en"][topic])
    slug = slugify(title) if lang == "en" else topic
    year, month, day = rng.randint(2015, 2024), rng.randint(1, 12), rng.randint(1, 28)
    group = TOPIC_GROUP[topic]
    if group == "news":
        path = f"/{year}/{month:02d}/{day:02d}/{slug}-{uid}.html"
    elif group == "encyclopedia":
        path = f"/wiki/{slug.replace('-', '_').capitalize()}_{uid}"
    elif group == "forum":
        path = f"/thread/{uid}/{slug}"
    elif group == "code":
        path = f"/tutorials/{slug}-{uid}"
    elif group == "academic":
        path = f"/abs/{year % 100:02d}{month:02d}.{uid:05d}"
    else:
        path = f"/{topic}/{slug}-{uid}/"
    return f"https://{domain}{path}"


def other_lang_url(domain: str, uid: int) -> str:
    return f"https://{domain}/article/{uid}.html"


def url_variant(rng: random.Random, url: str) -> str:
    """The same page under a different surface form (what a re-crawl often sees)."""
    scheme, rest = url.split("://", 1)
    host, _, path = rest.partition("/")
    path = "/" + path
    change = rng.choice(["scheme", "www", "slash", "utm", "fragment"])
    if change == "scheme":
        scheme = "http" if scheme == "https" else "https"
    elif change == "www" and host.startswith("www."):
        host = host[4:]
    elif change == "slash":
        path = path[:-1] if path.endswith("/") else path + "/"
    elif change == "fragment":
        path += rng.choice(["#comments", "#top", "#section-2", "#main"])
    else:
        source = rng.choice(["newsletter", "twitter", "facebook", "rss"])
        path += f"?utm_source={source}&utm_medium={rng.choice(['email', 'social', 'feed'])}&utm_campaign=c{rng.randint(1, 99)}"
    return f"{scheme}://{host}{path}"

JUNK_DOMAINS: dict[str, list[str]] = {
    "en": ["www.best-deals-online.com", "www.free-prizes-now.com", "www.cheap-pills-store.com", "www.linkfarm-directory.com"],
    "zh": ["www.youhuitejia.cn", "www.mianfeilingqu.cn", "www.wangzhuan-zhinan.cn", "www.daigou-shangcheng.cn"],
}


def junk_url(rng: random.Random, lang: str, uid: int) -> str:
    domain = rng.choice(JUNK_DOMAINS["zh" if lang == "zh" else "en"])
    return f"https://{domain}/{rng.choice(['p', 'item', 'go', 'page'])}/{uid}.html"
