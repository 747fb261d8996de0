"""Text normalisation for ingest: valid UTF-8, NFC, no control characters, tidy whitespace.

Pure functions, no Ray/Prefect. The batch path (:func:`normalize_texts`) runs on a whole Arrow
string array with Arrow's vectorised kernels (``utf8_normalize`` and RE2 regex replacement), so a
batch of thousands of documents costs a handful of C++ passes, not a Python loop per character.

What a normalised text looks like:

- valid UTF-8: undecodable bytes become U+FFFD (:func:`decode_utf8` counts them; for JSONL
  records and undeclared HTML :func:`decode_text_bytes` first recognises GBK and Latin-1), lone
  surrogates (from JSON escapes such as ``"\\udc80"``) become U+FFFD (:func:`scrub_surrogates`);
- Unicode NFC (``e`` + combining acute -> ``é``); full-width forms are *not* folded (NFC, not NFKC),
  so CJK text and full-width punctuation (，。！？「」) are preserved as written;
- ``\\r\\n``, ``\\r``, U+0085, U+2028, VT and FF become ``\\n``; U+2029 (paragraph separator) ``\\n\\n``;
- control characters (Unicode Cc) and the BOM are removed, except ``\\n`` and ``\\t``;
- horizontal whitespace runs collapse to one space (a run containing a tab to one tab);
  U+3000 (ideographic space) is kept inside a line but, like other whitespace, stripped at line edges;
- paragraph breaks survive: at most ``max_blank_lines`` blank lines in a row (default 1, i.e. ``\\n\\n``);
- leading/trailing whitespace of the document is removed.

    from tasks.ops.normalize import normalize_text
    normalize_text("  Hello\\u00a0\\u00a0world \\r\\n\\r\\n\\r\\n  第二段。")  # 'Hello world\\n\\n第二段。'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

# Unicode space separators (Zs) except U+0020 and U+3000: these become a plain space.
_OTHER_SPACES = r"\x{a0}\x{1680}\x{2000}-\x{200a}\x{202f}\x{205f}"
_LINE_BREAKS = r"\r\n|[\r\x{0b}\x{0c}\x{85}\x{2028}]"
_CONTROLS = r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\x{feff}]"
_TAB_RUN = rf"[ {_OTHER_SPACES}]*\t[\t {_OTHER_SPACES}]*"
_SPACE_RUN = rf"[{_OTHER_SPACES}][ {_OTHER_SPACES}]*| [ {_OTHER_SPACES}]+"
_LINE_EDGE = r"[ \t\x{3000}]*\n[ \t\x{3000}]*"

_SURROGATE = re.compile("[\ud800-\udfff]")
_REPLACEMENT_UTF8 = "\ufffd".encode()


@dataclass(frozen=True)
class NormalizeConfig:
    nfc: bool = True  # Unicode NFC (canonical composition; never NFKC, which would fold full-width text)
    collapse_whitespace: bool = True  # runs of spaces -> one space, strip line edges
    max_blank_lines: int = 1  # blank lines kept between paragraphs (1 -> "\n\n"); <0 keeps all


def decode_utf8(data: bytes) -> tuple[str, int]:
    """Decode UTF-8, replacing invalid byte sequences with U+FFFD; return ``(text, replacements)``."""
    try:
        return data.decode("utf-8"), 0
    except UnicodeDecodeError:
        text = data.decode("utf-8", "replace")
        return text, text.count("\ufffd") - data.count(_REPLACEMENT_UTF8)


_HIGH_RUN = re.compile(rb"[\x80-\xff]+")


def decode_text_bytes(data: bytes) -> tuple[str, int, str | None]:
    """Decode bytes that should be UTF-8 but may be in a legacy encoding; return
    ``(text, U+FFFD replacements, legacy encoding used or None)``.

    The rule (deterministic, per record):

    1. valid UTF-8 -> as is;
    2. if at least half of the non-ASCII characters decode as UTF-8, it is UTF-8 with damaged
       bytes -> invalid bytes become U+FFFD (counted);
    3. otherwise it is not UTF-8: GB18030 (a superset of GBK and GB2312) when the bytes decode
       strictly and at least 90% of the non-ASCII bytes come in runs of two or more (Chinese
       double-byte text; Latin-1 accents stand alone between ASCII letters);
    4. else Windows-1252 (a superset of Latin-1's printable range) when it decodes strictly and at
       least half of the runs of non-ASCII bytes touch an ASCII letter (accents inside words;
       stray bytes between spaces are damage, not Latin-1);
    5. else UTF-8 with U+FFFD replacements.
    """
    try:
        return data.decode("utf-8"), 0, None
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8", "replace")
    bad = text.count("\ufffd") - data.count(_REPLACEMENT_UTF8)
    non_ascii = len(text) - len(text.encode("ascii", "ignore"))
    if bad <= non_ascii - bad:
        return text, bad, None
    spans = [m.span() for m in _HIGH_RUN.finditer(data)]
    paired = sum(b - a for a, b in spans if b - a >= 2)
    in_words = sum(1 for a, b in spans if data[a - 1 : a].isalpha() or data[b : b + 1].isalpha())
    for codec, ok in (("gb18030", paired >= 0.9 * sum(b - a for a, b in spans)), ("cp1252", in_words >= 0.5 * len(spans))):
        if ok:
            try:
                return data.decode(codec), 0, codec
            except UnicodeDecodeError:
                continue
    return text, bad, None


def scrub_surrogates(text: str) -> tuple[str, int]:
    """Replace lone surrogates (not encodable as UTF-8) with U+FFFD; return ``(text, replacements)``."""
    if text.isascii():
        return text, 0
    try:
        text.encode("utf-8")
        return text, 0
    except UnicodeEncodeError:
        return _SURROGATE.subn("\ufffd", text)


def truncate_utf8(text: str, max_bytes: int) -> str:
    """Cut ``text`` to at most ``max_bytes`` UTF-8 bytes on a character boundary, preferably at a
    line break in the last fifth (so a truncated document ends on a whole paragraph)."""
    if len(text) * 4 <= max_bytes:
        return text
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= max_bytes:
        return text
    cut = data[:max_bytes].decode("utf-8", "ignore")
    newline = cut.rfind("\n")
    return cut[:newline] if newline >= 0.8 * len(cut) else cut


def utf8_length(text: str) -> int:
    """UTF-8 size of ``text`` in bytes (cheap for ASCII)."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def normalize_texts(texts: pa.Array | pa.ChunkedArray, cfg: NormalizeConfig = NormalizeConfig()) -> pa.Array:
    """Normalise a whole Arrow string array (nulls stay null). Input must already be valid UTF-8."""
    arr = texts.combine_chunks() if isinstance(texts, pa.ChunkedArray) else texts
    if pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.string())
    if cfg.nfc:
        arr = pc.utf8_normalize(arr, "NFC")
    arr = pc.replace_substring_regex(arr, _LINE_BREAKS, "\n")
    arr = pc.replace_substring(arr, "\u2029", "\n\n")
    arr = pc.replace_substring_regex(arr, _CONTROLS, "")
    if cfg.collapse_whitespace:
        arr = pc.replace_substring_regex(arr, _TAB_RUN, "\t")
        arr = pc.replace_substring_regex(arr, _SPACE_RUN, " ")
        arr = pc.replace_substring_regex(arr, _LINE_EDGE, "\n")
    if cfg.max_blank_lines >= 0:
        arr = pc.replace_substring_regex(arr, "\n{%d,}" % (cfg.max_blank_lines + 2), "\n" * (cfg.max_blank_lines + 1))
    return pc.utf8_trim_whitespace(arr)  # Unicode White_Space, U+3000 included


def normalize_text(text: str, cfg: NormalizeConfig = NormalizeConfig()) -> str:
    """Normalise one string (convenience wrapper over :func:`normalize_texts`)."""
    clean, _ = scrub_surrogates(text)
    return normalize_texts(pa.array([clean], pa.string()), cfg)[0].as_py()
