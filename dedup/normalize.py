"""Normalisation of texts (for exact hashing) and URLs (for URL dedup).

Text: Unicode NFKC, case-folded, every run of whitespace collapsed to one space, trimmed.
So "Hello  World\\n" and "hello world" are exact duplicates; punctuation is kept.

URL: scheme dropped (http and https are the same page), host lower-cased, leading
``www.`` and default ports removed, fragment removed, tracking query parameters removed
(``utm_*``, ``fbclid``, ``gclid``, ...), remaining parameters sorted, trailing slash removed.
``normalize_url("https://www.Example.com/a/?utm_source=x&b=2#top") == "example.com/a?b=2"``.
Empty or unparseable URLs normalise to ``None`` and never match anything.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

_WS = re.compile(r"\s+")

TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "igshid", "mc_cid",
        "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "spm", "ref_src", "oly_anon_id", "oly_enc_id",
        "vero_id", "si", "zanpid", "rb_clickid", "s_cid",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "hsa_")
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def fold(text: str | None) -> str:
    """NFKC + casefold (shared by exact hashing and shingling, so a document is folded once)."""
    return unicodedata.normalize("NFKC", text).casefold() if text else ""


def normalize_text(text: str | None) -> str:
    """NFKC + casefold + collapsed whitespace."""
    return normalize_folded(fold(text))


def normalize_folded(folded: str) -> str:
    """:func:`normalize_text` of an already folded text."""
    return _WS.sub(" ", folded).strip() if folded else ""


def _is_tracking(name: str) -> bool:
    n = name.lower()
    return n in TRACKING_PARAMS or n.startswith(TRACKING_PREFIXES)


def normalize_url(url: str | None) -> str | None:
    """Canonical form of a URL for URL dedup, or None when there is nothing to compare."""
    if not url or not url.strip():
        return None
    raw = url.strip()
    if "://" not in raw:
        raw = "http://" + raw.lstrip("/")
    try:
        parts = urlsplit(raw)
        host = (parts.hostname or "").lower().rstrip(".")
        port = parts.port
    except ValueError:
        return None
    if not host:
        return None
    if host.startswith("www."):
        host = host[4:]
    scheme = parts.scheme.lower()
    if port is not None and str(port) != _DEFAULT_PORTS.get(scheme, ""):
        host = f"{host}:{port}"
    path = unquote(parts.path or "").rstrip("/")
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)]
    q = urlencode(sorted(query))
    return f"{host}{path}" + (f"?{q}" if q else "")
