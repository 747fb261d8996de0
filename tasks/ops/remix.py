"""Remix: label documents by domain group and resample each language to target group proportions.

DeepSeek LLM's remixing stage "adjusts the dataset to address data imbalance, increasing the
presence of underrepresented domains". Here:

1. label: the registered domain of a document's URL (tldextract with its bundled public suffix
   list, no network) is mapped to a group (news, encyclopedia, forum, code, academic, ... or
   ``default_group``) by the first matching pattern in ``RemixConfig.groups``;
2. plan: per language, the input size (bytes or documents) of each group gives a *rate*
   ``target_size / input_size``; the language's budget is its input size times ``scale``;
3. sample: a document is kept ``copies = min(max_repeats, floor(rate) + [u < frac(rate)])`` times,
   ``u = doc_fraction(id, seed)``: rate < 1 downsamples, rate > 1 upsamples, never beyond
   ``max_repeats`` copies.

Pure functions: no dataset I/O, no Ray (``tasks/remix.py`` drives them).

Patterns: ``wikipedia.org`` matches that registered domain and any host under it;
``*.edu`` / ``news.*`` are shell globs on the host name; ``source:NAME`` matches the document's
``source`` field. See docs/tokens.md for the config file format.
"""

from __future__ import annotations

import fnmatch
import json
import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from tasks.ops.doc_hash import doc_fraction

DEFAULT_GROUPS: dict[str, list[str]] = {
    "encyclopedia": ["wikipedia.org", "baike.baidu.com", "britannica.com", "baike.sogou.com", "wikihow.com"],
    "news": ["bbc.co.uk", "bbc.com", "reuters.com", "nytimes.com", "theguardian.com", "cnn.com", "apnews.com",
             "sina.com.cn", "xinhuanet.com", "people.com.cn", "chinadaily.com.cn", "thepaper.cn", "163.com",
             "ifeng.com", "news.*", "*.news.*"],
    "forum": ["reddit.com", "quora.com", "stackexchange.com", "zhihu.com", "tieba.baidu.com", "douban.com",
              "v2ex.com", "forum.*", "forums.*", "bbs.*", "*.discourse.*"],
    "code": ["github.com", "gitlab.com", "stackoverflow.com", "bitbucket.org", "gitee.com", "csdn.net",
             "readthedocs.io", "docs.python.org", "*.github.io", "pypi.org"],
    "academic": ["arxiv.org", "*.edu", "*.ac.uk", "*.edu.cn", "*.ac.cn", "cnki.net", "semanticscholar.org",
                 "springer.com", "nature.com", "acm.org", "ieee.org", "ncbi.nlm.nih.gov", "jstor.org"],
}


@dataclass(frozen=True)
class RemixConfig:
    """The remix config file (YAML or JSON) holds these fields; see docs/tokens.md."""

    targets: dict[str, dict[str, float]] = field(default_factory=dict)  # lang (or "*") -> group -> share
    groups: dict[str, list[str]] = field(default_factory=lambda: {k: list(v) for k, v in DEFAULT_GROUPS.items()})
    default_group: str = "other"
    unit: str = "bytes"  # proportions of "bytes" (UTF-8 text) or of "docs"
    scale: float = 1.0  # output size of a remixed language relative to its input size
    max_repeats: int = 4  # a document appears at most this many times in the output
    seed: int = 0

    def __post_init__(self) -> None:
        if self.unit not in ("bytes", "docs"):
            raise ValueError(f"remix config: unit must be 'bytes' or 'docs', got {self.unit!r}")
        if self.max_repeats < 1 or self.scale <= 0:
            raise ValueError(f"remix config: max_repeats must be >= 1 and scale > 0 (got {self.max_repeats}, {self.scale})")
        for lang, shares in self.targets.items():
            bad = {g: s for g, s in shares.items() if not (isinstance(s, (int, float)) and s >= 0)}
            if bad or not shares or sum(shares.values()) <= 0:
                raise ValueError(
                    f"remix config: targets[{lang!r}] must map groups to non-negative shares with a positive sum, got {shares}"
                )
            unknown = set(shares) - set(self.groups) - {self.default_group}
            if unknown:
                raise ValueError(
                    f"remix config: targets[{lang!r}] names groups {sorted(unknown)} that no pattern produces; "
                    f"known groups: {sorted(set(self.groups) | {self.default_group})}"
                )

    def targets_for(self, lang: str) -> dict[str, float] | None:
        return self.targets.get(lang, self.targets.get("*"))


class DomainGrouper:
    """URL -> (registered domain, group), using tldextract's bundled suffix list only."""

    def __init__(self, groups: dict[str, list[str]], default_group: str = "other") -> None:
        import tldextract

        self.extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)  # never touches the network
        self.rules = [(group, pattern.lower()) for group, patterns in groups.items() for pattern in patterns]
        self.default_group = default_group

    def registered_domain(self, url: str | None) -> str:
        if not url:
            return ""
        return self.extract(url).top_domain_under_public_suffix or ""

    @staticmethod
    def _host(url: str | None) -> str:
        if not url:
            return ""
        try:
            return (urlsplit(url if "//" in url else f"//{url}").hostname or "").lower()
        except ValueError:
            return ""

    def label(self, url: str | None, source: str | None = None) -> tuple[str, str]:
        domain, host = self.registered_domain(url), self._host(url)
        for group, pattern in self.rules:
            if pattern.startswith("source:"):
                if source and fnmatch.fnmatchcase(source.lower(), pattern[len("source:"):]):
                    return domain, group
            elif any(ch in pattern for ch in "*?["):
                if host and fnmatch.fnmatchcase(host, pattern):
                    return domain, group
            elif domain == pattern or host == pattern or host.endswith("." + pattern):
                return domain, group
        return domain, self.default_group


@dataclass
class Cell:
    """Size of one (language, group) cell."""

    docs: int = 0
    bytes: int = 0

    def size(self, unit: str) -> int:
        return self.bytes if unit == "bytes" else self.docs


def plan_rates(cells: dict[str, dict[str, Cell]], cfg: RemixConfig) -> dict[str, dict[str, dict[str, float | None]]]:
    """Per language and group: the configured share, the share renormalised over groups that have
    data (``effective_share``) and the sampling ``rate``. Languages without targets keep rate 1 (shares
    None); a group absent from a language's targets has share 0 and is dropped."""
    plan: dict[str, dict[str, dict[str, float | None]]] = {}
    for lang, groups in sorted(cells.items()):
        targets = cfg.targets_for(lang)
        total = sum(c.size(cfg.unit) for c in groups.values())
        plan[lang] = {}
        if not targets or total == 0:
            for g in groups:
                plan[lang][g] = {"share": None, "effective_share": None, "rate": 1.0}
            continue
        present = {g: s for g, s in targets.items() if groups.get(g, Cell()).size(cfg.unit) > 0}
        norm = sum(present.values())
        for g in sorted(set(groups) | set(targets)):
            size = groups.get(g, Cell()).size(cfg.unit)
            share = float(targets.get(g, 0.0))
            effective = present.get(g, 0.0) / norm if norm else 0.0
            rate = effective * total * cfg.scale / size if size else 0.0
            plan[lang][g] = {"share": share, "effective_share": effective, "rate": rate}
    return plan


def copies_of(doc_id: str, rate: float, cfg: RemixConfig) -> int:
    """How many times a document appears in the output (0 = downsampled away)."""
    whole = math.floor(rate)
    extra = 1 if doc_fraction(doc_id, f"remix-{cfg.seed}") < rate - whole else 0
    return min(cfg.max_repeats, whole + extra)


def with_metadata(metadata: str | None, **fields: Any) -> str:
    """The document's metadata JSON with ``fields`` set (a non-object or invalid value is kept under "original")."""
    try:
        value = json.loads(metadata) if metadata else {}
    except ValueError:
        value = {"original": metadata}
    if not isinstance(value, dict):
        value = {"original": value}
    value.update(fields)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
