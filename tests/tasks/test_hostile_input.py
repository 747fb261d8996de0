"""Hostile input trees and records: every kind is contained, and good records beside it are kept
exactly once.

Each kind builds a small input tree: ``good.jsonl`` with three good records plus the bad thing,
runs ``run_ingest`` in-process and asserts the exact counts (kept / dropped by reason /
quarantined), conservation, that every good id is kept once, and what the quarantine rows say
(a reason, and a preview of the bad file's own bytes, never of a file outside the input root).
One more test runs the whole set of kinds as one tree on the real Ray cluster and checks the
same counts per kind. The table of kinds is in docs/ingest.md ("Hostile input").

    python -m pytest tests/tasks/test_hostile_input.py -q
"""

from __future__ import annotations

import gzip
import io
import json
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from storage import open_dataset
from tasks.ingest import IngestConfig, run_ingest

SECRET = "root:x:0:0:root:/root:/bin/bash\nsecret-token-do-not-copy\n"
GOOD_IDS = ["good-0", "good-1", "good-2"]
PROSE = [
    "The ferry kept its old timetable even after the new bridge opened upstream.",
    "Most passengers were farmers carrying crates of early vegetables to the landing.",
    "The ferryman kept a ledger of every crossing, noting the weather and the water.",
]
ZH = ["这座小城的春天来得很慢，渡船仍然按照旧的时刻表运行。", "摆渡人记录每一次渡河，写下天气和水位。"]
FR = ["Le passeur notait la météo, la hauteur de l'eau et le prix des oignons à Noël.", "Déjà vu: un café très fréquenté."]


def jline(rec: dict) -> bytes:
    return json.dumps(rec, ensure_ascii=False).encode()


def good_lines(prefix: str = "good", n: int = 3) -> list[bytes]:
    return [jline({"id": f"{prefix}-{i}", "text": PROSE[i % 3]}) for i in range(n)]


def write_good(d: Path) -> None:
    d.mkdir(parents=True, exist_ok=True)
    (d / "good.jsonl").write_bytes(b"\n".join(good_lines()) + b"\n")


def plain_warc(records: list[tuple[str, bytes]]) -> bytes:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=False)
    for url, body in records:
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
        w.write_record(w.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http))
    return buf.getvalue()


def html(paragraphs: list[str]) -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return f"<!DOCTYPE html><html><head><title>T</title></head><body><article>{body}</article></body></html>".encode()


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@dataclass
class Kind:
    """One hostile-input kind: how to build it and what ingest must make of it."""

    name: str
    what: str  # one line for the docs table
    build: Callable[[Path, Path], None]  # (input root, a directory outside the root)
    kept: int
    quarantined: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    error: str | None = None  # a substring every quarantine entry's error contains
    good_ids: list[str] = field(default_factory=lambda: list(GOOD_IDS))
    check: Callable[[dict], None] | None = None  # extra assertions on {id: row} / quarantine rows
    outcome: str = ""  # one line for the docs table


# ----------------------------------------------------------------------------- builders


def b_symlink_loop(root: Path, outside: Path) -> None:
    write_good(root / "a")
    os.symlink(root, root / "a" / "loop")  # a -> loop -> root -> a -> ...
    os.symlink("..", root / "a" / "up")


def b_symlink_dir_inside(root: Path, outside: Path) -> None:
    write_good(root / "a")
    os.symlink(root / "a", root / "alias")


def b_symlink_file_inside(root: Path, outside: Path) -> None:
    write_good(root / "a")
    os.symlink(root / "a" / "good.jsonl", root / "same.jsonl")
    os.symlink("a/good.jsonl", root / "relative-same.jsonl")


def b_dangling(root: Path, outside: Path) -> None:
    write_good(root)
    os.symlink(root / "deleted.jsonl", root / "gone.jsonl")


def b_outside_file(root: Path, outside: Path) -> None:
    write_good(root)
    (outside / "passwd").write_text(SECRET)
    os.symlink(outside / "passwd", root / "x.jsonl")


def b_outside_relative(root: Path, outside: Path) -> None:
    write_good(root / "a")
    (outside / "secret.jsonl").write_text(json.dumps({"text": SECRET}) + "\n")
    os.symlink(os.path.relpath(outside / "secret.jsonl", root / "a"), root / "a" / "up.jsonl")


def b_outside_chain(root: Path, outside: Path) -> None:
    write_good(root)
    (outside / "passwd").write_text(SECRET)
    os.symlink(outside / "passwd", root / "hop2.jsonl")
    os.symlink(root / "hop2.jsonl", root / "hop1.jsonl")


def b_outside_dir(root: Path, outside: Path) -> None:
    write_good(root)
    (outside / "dump").mkdir()
    (outside / "dump" / "leak.jsonl").write_text(json.dumps({"text": SECRET}) + "\n")
    os.symlink(outside / "dump", root / "ext")


def b_fifo(root: Path, outside: Path) -> None:
    write_good(root)
    os.mkfifo(root / "pipe.jsonl")


def b_nul_jsonl(root: Path, outside: Path) -> None:
    write_good(root)
    (root / "nul.jsonl").write_bytes(b"\x00" * 16 + b"\n".join(good_lines("nul")) + b"\n")


def b_nul_jsonl_gz(root: Path, outside: Path) -> None:
    write_good(root)
    (root / "nul.jsonl.gz").write_bytes(gzip.compress(b"\x00" * 16 + b"\n".join(good_lines("nul")) + b"\n"))


def b_nul_warc(root: Path, outside: Path) -> None:
    write_good(root)
    (root / "nul.warc").write_bytes(b"\x00" * 16 + plain_warc([("https://a.example/", html(PROSE))]))


def b_nul_html(root: Path, outside: Path) -> None:
    write_good(root)
    (root / "nul.html").write_bytes(b"\x00" * 16 + html(PROSE))


def b_text_warc(root: Path, outside: Path) -> None:
    write_good(root)
    (root / "notes.warc").write_text("".join(f"line {i}: {PROSE[i % 3]}\n" for i in range(25)))


def b_text_warc_gz(root: Path, outside: Path) -> None:
    write_good(root)
    (root / "notes.warc.gz").write_bytes(gzip.compress("".join(f"line {i}: {PROSE[i % 3]}\n" for i in range(25)).encode()))


def b_text_jsonl(root: Path, outside: Path) -> None:
    write_good(root)
    (root / "notes.jsonl").write_text("".join(f"line {i}: {PROSE[i % 3]}\n" for i in range(25)))


def b_html_jsonl(root: Path, outside: Path) -> None:
    write_good(root)
    (root / "page.jsonl").write_bytes(html(PROSE).replace(b"<p>", b"\n<p>"))


def b_csv_jsonl(root: Path, outside: Path) -> None:
    write_good(root)
    (root / "table.jsonl").write_text("id,text\n" + "".join(f"c{i},{PROSE[i % 3]}\n" for i in range(10)))


def b_png_html(root: Path, outside: Path) -> None:
    write_good(root)
    (root / "logo.html").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)


def b_split_mid_record(root: Path, outside: Path) -> None:
    write_good(root)
    head = b'xt": "the tail of a record cut by split -b"}'
    (root / "part-0001.jsonl").write_bytes(head + b"\n" + b"\n".join(good_lines("split", 5)) + b"\n")


def b_whitespace_only(root: Path, outside: Path) -> None:
    write_good(root)
    (root / "blank.jsonl").write_bytes(b"\n  \n\t\r\n\n")


def b_utf16(root: Path, outside: Path) -> None:
    write_good(root)
    text = "\n".join(json.dumps({"id": f"u16-{i}", "text": t}, ensure_ascii=False) for i, t in enumerate(ZH + PROSE[:1])) + "\n"
    (root / "export.jsonl").write_bytes(text.encode("utf-16"))  # BOM FF FE, little endian


def b_bom_jsonl(root: Path, outside: Path) -> None:
    write_good(root)
    (root / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + b"\n".join(good_lines("bom")) + b"\n")


def b_bom_json_document(root: Path, outside: Path) -> None:
    write_good(root)
    doc = json.dumps([{"id": "bomdoc-0", "text": PROSE[0]}, {"id": "bomdoc-1", "text": PROSE[1]}], indent=2)
    (root / "doc.json").write_bytes(b"\xef\xbb\xbf" + doc.encode())


def b_bom_mid_file(root: Path, outside: Path) -> None:
    write_good(root)
    a, b = good_lines("cat", 2)
    (root / "concatenated.jsonl").write_bytes(b"\xef\xbb\xbf" + a + b"\n\xef\xbb\xbf" + b + b"\n")


def b_deep_10k(root: Path, outside: Path) -> None:
    lines = good_lines()
    bad = ('{"id": "deep", "text": "x", "meta": ' + nested(10_000) + "}").encode()
    (root / "good.jsonl").write_bytes(b"\n".join([lines[0], bad, lines[1], lines[2]]) + b"\n")


def b_deep_200(root: Path, outside: Path) -> None:
    lines = good_lines()
    bad = ('{"id": "deep", "text": "x", "meta": ' + nested(200) + "}").encode()
    (root / "good.jsonl").write_bytes(b"\n".join([lines[0], lines[1], bad, lines[2]]) + b"\n")


def b_deep_whole_json(root: Path, outside: Path) -> None:
    write_good(root)
    (root / "deep.json").write_text("{\n" + '"text": "x", "meta": ' + nested(10_000) + "\n}")


def b_int64_field(root: Path, outside: Path) -> None:
    lines = good_lines()
    big = b'{"id": "bigint", "text": "A record with a very large count.", "count": 123456789012345678901234567890, "neg": -9223372036854775809}'
    (root / "good.jsonl").write_bytes(b"\n".join(lines + [big]) + b"\n")


def b_int64_id(root: Path, outside: Path) -> None:
    lines = good_lines()
    big = b'{"id": 123456789012345678901234567890, "text": "A record whose id is a huge number."}'
    (root / "good.jsonl").write_bytes(b"\n".join(lines + [big]) + b"\n")


def b_int_4300_digits(root: Path, outside: Path) -> None:
    lines = good_lines()
    big = b'{"id": "digits", "text": "A record with a 5000-digit number.", "n": ' + b"7" * 5000 + b"}"
    (root / "good.jsonl").write_bytes(b"\n".join(lines + [big]) + b"\n")


def b_nan(root: Path, outside: Path) -> None:
    lines = good_lines()
    bad = b'{"id": "nan", "text": "Scores that are not numbers.", "a": NaN, "b": Infinity, "c": -Infinity, "d": 1e999}'
    (root / "good.jsonl").write_bytes(b"\n".join(lines + [bad]) + b"\n")


def b_gbk(root: Path, outside: Path) -> None:
    write_good(root)
    (root / "zh.jsonl").write_bytes(b"".join(json.dumps({"id": f"gbk-{i}", "text": t}, ensure_ascii=False).encode("gbk") + b"\n" for i, t in enumerate(ZH)))


def b_latin1(root: Path, outside: Path) -> None:
    write_good(root)
    (root / "fr.jsonl").write_bytes(b"".join(json.dumps({"id": f"l1-{i}", "text": t}, ensure_ascii=False).encode("latin-1") + b"\n" for i, t in enumerate(FR)))


def b_utf8_damaged(root: Path, outside: Path) -> None:
    write_good(root)
    line = json.dumps({"id": "damaged", "text": ZH[0]}, ensure_ascii=False).encode()
    cut = line.index("春".encode())
    (root / "damaged.jsonl").write_bytes(line[:cut] + b"\xff" + line[cut + 3 :] + b"\n")  # one bad byte for a 3-byte char


def b_mixed_newlines(root: Path, outside: Path) -> None:
    a, b, c = good_lines()
    x, y = good_lines("nl", 2)
    (root / "good.jsonl").write_bytes(a + b"\r\n" + b + b"\r" + c + b"\n" + x + b"\r\n\r\n" + y + b"\r")


def b_cr_only(root: Path, outside: Path) -> None:
    write_good(root)
    (root / "mac.jsonl").write_bytes(b"\r".join(good_lines("cr", 4)) + b"\r")


def b_raw_nul_late(root: Path, outside: Path) -> None:
    lines = good_lines()
    pad = [jline({"id": f"pad-{i}", "text": PROSE[i % 3] * 4}) for i in range(20)]  # > 4 KB before the NUL
    bad = b'{"id": "rawnul", "text": "a raw \x00 byte"}'
    (root / "good.jsonl").write_bytes(b"\n".join(lines + pad + [bad]) + b"\n")


def b_escaped_nul(root: Path, outside: Path) -> None:
    lines = good_lines()
    rec = b'{"id": "escnul", "text": "an escaped \\u0000 NUL and \\u0007 bell"}'
    (root / "good.jsonl").write_bytes(b"\n".join(lines + [rec]) + b"\n")


def b_controls_only(root: Path, outside: Path) -> None:
    lines = good_lines()
    rec = b'{"id": "ctl", "text": "\\u0000\\u0001\\u0007\\u001b\\ufeff"}'
    (root / "good.jsonl").write_bytes(b"\n".join(lines + [rec]) + b"\n")


def b_trailing_garbage(root: Path, outside: Path) -> None:
    lines = good_lines()
    (root / "good.jsonl").write_bytes(b"\n".join([lines[0], b'{"id": "tg", "text": "ok"} trailing', lines[1], lines[2]]) + b"\n")


def b_random_binary(root: Path, outside: Path) -> None:
    import random

    write_good(root)
    (root / "junk.jsonl").write_bytes(random.Random(1).randbytes(9000))


def b_text_not_string(root: Path, outside: Path) -> None:
    lines = good_lines()
    bad = [b'{"text": {"nested": "object"}}', b'{"text": true}', b'"just a string"']
    (root / "good.jsonl").write_bytes(b"\n".join(lines + bad) + b"\n")


# ----------------------------------------------------------------------------- checks


def c_outside(rows: dict) -> None:
    for q in rows["quarantine"]:
        assert q["raw"] is None, "no content of a file outside the root is read"
        assert "secret-token" not in (q["error"] or "")
    assert not any("secret-token" in (r["text"] or "") for r in rows["data"].values())


def c_own_preview(rows: dict) -> None:
    (q,) = rows["quarantine"]
    assert q["raw"] and q["offset"] == 0 and Path(q["source_file"]).name != "good.jsonl"


def c_utf16(rows: dict) -> None:
    assert rows["data"]["u16-0"]["text"] == ZH[0] and rows["data"]["u16-2"]["text"] == PROSE[0]


def c_bom(rows: dict) -> None:
    for r in rows["data"].values():
        assert not r["text"].startswith("\ufeff") and not r["id"].startswith("\ufeff")


def c_bigint(rows: dict) -> None:
    meta = json.loads(rows["data"]["bigint"]["metadata"])
    assert meta == {"count": 123456789012345678901234567890, "neg": -9223372036854775809}


def c_bigint_id(rows: dict) -> None:
    assert "123456789012345678901234567890" in rows["data"]


def c_digits(rows: dict) -> None:
    assert json.loads(rows["data"]["digits"]["metadata"]) == {"n": "7" * 5000}


def c_nan(rows: dict) -> None:
    meta = json.loads(rows["data"]["nan"]["metadata"], parse_constant=lambda c: pytest.fail(f"non-standard JSON {c}"))
    assert meta == {"a": "NaN", "b": "Infinity", "c": "-Infinity", "d": "Infinity"}


def c_gbk(rows: dict) -> None:
    assert [rows["data"][f"gbk-{i}"]["text"] for i in range(2)] == ZH
    assert json.loads(rows["data"]["gbk-0"]["metadata"]) == {"decoded_as": "gb18030"}
    assert rows["stats"]["decoded_as"] == {"gb18030": 2}


def c_latin1(rows: dict) -> None:
    assert [rows["data"][f"l1-{i}"]["text"] for i in range(2)] == FR
    assert rows["stats"]["decoded_as"] == {"cp1252": 2}


def c_damaged(rows: dict) -> None:
    assert rows["data"]["damaged"]["text"] == ZH[0].replace("春", "\ufffd")
    assert rows["stats"]["invalid_utf8_replacements"] >= 1 and not rows["stats"].get("decoded_as")


def c_escaped_nul(rows: dict) -> None:
    assert rows["data"]["escnul"]["text"] == "an escaped NUL and bell"


def c_mixed_newlines(rows: dict) -> None:
    assert {"nl-0", "nl-1"} <= set(rows["data"])


def c_line_numbers_distinct(rows: dict) -> None:
    lines = [q["line"] for q in rows["quarantine"]]
    assert len(set(lines)) == len(lines)


KINDS: list[Kind] = [
    # --- the input tree is a trust boundary
    Kind("symlink_loop", "directory symlinks back to the root and its parent (a loop)", b_symlink_loop, 3,
         good_ids=GOOD_IDS, outcome="each real file read once; links not followed"),
    Kind("symlink_dir_inside_root", "directory symlink to another directory inside the root", b_symlink_dir_inside, 3,
         outcome="the target is read once (by its real path)"),
    Kind("symlink_file_inside_root", "file symlinks (absolute and relative) to a file inside the root", b_symlink_file_inside, 3,
         outcome="the file is read once"),
    Kind("dangling_symlink", "symlink to a file that does not exist", b_dangling, 3, 1, error="dangling symlink",
         outcome="1 quarantine entry, the run goes on"),
    Kind("symlink_file_outside_root", "x.jsonl -> a file outside the root (/etc/passwd-like)", b_outside_file, 3, 1,
         error="outside the input root", check=c_outside, outcome="1 quarantine entry, nothing of the target read"),
    Kind("symlink_relative_escape", "relative ../../ symlink out of the root", b_outside_relative, 3, 1,
         error="outside the input root", check=c_outside, outcome="1 quarantine entry, nothing read"),
    Kind("symlink_chain_escape", "a chain of links inside the root ending outside it", b_outside_chain, 3, 2,
         error="outside the input root", check=c_outside, outcome="1 quarantine entry per link, nothing read"),
    Kind("symlink_dir_outside_root", "directory symlink to a directory outside the root", b_outside_dir, 3, 1,
         error="outside the input root", check=c_outside, outcome="1 quarantine entry, not walked"),
    Kind("fifo", "a named pipe called pipe.jsonl", b_fifo, 3, 1, error="not a regular file",
         outcome="1 quarantine entry, never opened (no hang)"),
    # --- files that are not what their name says
    Kind("nul_prefixed_jsonl", "a .jsonl file starting with NUL bytes", b_nul_jsonl, 3, 1, error="binary data", check=c_own_preview,
         outcome="1 quarantined file"),
    Kind("nul_prefixed_jsonl_gz", "a .jsonl.gz whose content starts with NUL bytes", b_nul_jsonl_gz, 3, 1, error="binary data",
         check=c_own_preview, outcome="1 quarantined file"),
    Kind("nul_prefixed_warc", "a .warc file starting with NUL bytes", b_nul_warc, 3, 1, error="not a WARC", check=c_own_preview,
         outcome="1 quarantined file"),
    Kind("nul_prefixed_html", "a .html file starting with NUL bytes", b_nul_html, 3, 1, error="binary data", check=c_own_preview,
         outcome="1 quarantined file"),
    Kind("text_named_warc", "25 lines of plain text named .warc", b_text_warc, 3, 1, error="not a WARC", check=c_own_preview,
         outcome="1 quarantined file"),
    Kind("text_named_warc_gz", "gzip of plain text named .warc.gz", b_text_warc_gz, 3, 1, error="not a WARC", check=c_own_preview,
         outcome="1 quarantined file"),
    Kind("text_named_jsonl", "25 lines of plain text named .jsonl", b_text_jsonl, 3, 1, error="not JSON Lines", check=c_own_preview,
         outcome="1 quarantined file"),
    Kind("html_named_jsonl", "an HTML page named .jsonl", b_html_jsonl, 3, 1, error="not JSON Lines", check=c_own_preview,
         outcome="1 quarantined file"),
    Kind("csv_named_jsonl", "a CSV table named .jsonl", b_csv_jsonl, 3, 1, error="not JSON Lines", check=c_own_preview,
         outcome="1 quarantined file"),
    Kind("png_named_html", "a PNG image named .html", b_png_html, 3, 1, error="binary data", check=c_own_preview,
         outcome="1 quarantined file"),
    Kind("random_binary_jsonl", "9 KB of random bytes named .jsonl", b_random_binary, 3, 1, error="binary data", check=c_own_preview,
         outcome="1 quarantined file"),
    Kind("jsonl_split_mid_record", "a JSONL part whose first line is the tail of a cut record", b_split_mid_record, 8, 1,
         error="broken JSON", good_ids=GOOD_IDS + [f"split-{i}" for i in range(5)],
         outcome="the cut line quarantined, the 5 records after it kept"),
    Kind("whitespace_only_jsonl", "a .jsonl of blank and whitespace-only lines", b_whitespace_only, 3,
         outcome="no records, listed in stats.empty_files"),
    # --- encodings
    Kind("utf16_jsonl", "JSONL saved as UTF-16 with a BOM", b_utf16, 6, good_ids=GOOD_IDS + ["u16-0", "u16-1", "u16-2"], check=c_utf16,
         outcome="transcoded to UTF-8, all records kept"),
    Kind("utf8_bom_jsonl", "UTF-8 BOM at the start of a JSONL file", b_bom_jsonl, 6, good_ids=GOOD_IDS + ["bom-0", "bom-1", "bom-2"],
         check=c_bom, outcome="BOM stripped, all records kept"),
    Kind("utf8_bom_json_document", "UTF-8 BOM before a pretty-printed .json array", b_bom_json_document, 5,
         good_ids=GOOD_IDS + ["bomdoc-0", "bomdoc-1"], check=c_bom, outcome="BOM stripped, all records kept"),
    Kind("utf8_bom_mid_file", "a BOM at the start of a later line (concatenated files)", b_bom_mid_file, 5,
         good_ids=GOOD_IDS + ["cat-0", "cat-1"], check=c_bom, outcome="BOM stripped, all records kept"),
    Kind("gbk_mislabelled", "GBK-encoded Chinese JSONL (not UTF-8)", b_gbk, 5, good_ids=GOOD_IDS + ["gbk-0", "gbk-1"], check=c_gbk,
         outcome="decoded as GB18030 (rule in docs), kept, counted in stats.decoded_as"),
    Kind("latin1_mislabelled", "Latin-1 French JSONL (not UTF-8)", b_latin1, 5, good_ids=GOOD_IDS + ["l1-0", "l1-1"], check=c_latin1,
         outcome="decoded as cp1252, kept, counted"),
    Kind("utf8_damaged_bytes", "UTF-8 Chinese with one corrupt byte", b_utf8_damaged, 4, good_ids=GOOD_IDS + ["damaged"], check=c_damaged,
         outcome="kept with one U+FFFD, counted in stats.invalid_utf8_replacements"),
    Kind("mixed_line_endings", "\\n, \\r\\n, \\r and blank \\r\\n lines in one file", b_mixed_newlines, 5,
         good_ids=GOOD_IDS + ["nl-0", "nl-1"], check=c_mixed_newlines, outcome="every record kept, distinct ids"),
    Kind("cr_only_line_endings", "classic-Mac \\r-only line endings", b_cr_only, 7, good_ids=GOOD_IDS + [f"cr-{i}" for i in range(4)],
         outcome="every record kept"),
    # --- records
    Kind("deep_nesting_10k", "a record nested 10,000 levels deep", b_deep_10k, 3, 1, error="nested deeper than",
         outcome="that record quarantined, no RecursionError"),
    Kind("deep_nesting_200", "a record nested 200 levels (parses, beyond the 100 limit)", b_deep_200, 3, 1, error="nested deeper than",
         outcome="that record quarantined"),
    Kind("deep_nesting_json_document", "a .json document nested 10,000 levels", b_deep_whole_json, 3, 1, error="nested deeper than",
         outcome="1 quarantine entry"),
    Kind("int_beyond_int64_field", "metadata integers beyond int64", b_int64_field, 4, good_ids=GOOD_IDS + ["bigint"], check=c_bigint,
         outcome="kept; metadata JSON keeps the exact number"),
    Kind("int_beyond_int64_id", "an id that is an integer beyond int64", b_int64_id, 4, good_ids=GOOD_IDS + ["123456789012345678901234567890"],
         check=c_bigint_id, outcome="kept; id is its decimal string"),
    Kind("int_over_4300_digits", "a 5000-digit integer (beyond Python's int parsing limit)", b_int_4300_digits, 4,
         good_ids=GOOD_IDS + ["digits"], check=c_digits, outcome="kept; the field becomes its decimal string"),
    Kind("nan_infinity", "NaN, Infinity, -Infinity and 1e999 in fields", b_nan, 4, good_ids=GOOD_IDS + ["nan"], check=c_nan,
         outcome="kept; metadata is strict JSON with the values as strings"),
    Kind("raw_nul_mid_file", "a raw NUL byte inside a JSON string after the first 4 KB", b_raw_nul_late, 23, 1, error="broken JSON",
         good_ids=GOOD_IDS + [f"pad-{i}" for i in range(20)], outcome="that line quarantined"),
    Kind("escaped_nul_and_controls", "\\u0000 and \\u0007 escapes inside text", b_escaped_nul, 4, good_ids=GOOD_IDS + ["escnul"],
         check=c_escaped_nul, outcome="kept; control characters removed by normalisation"),
    Kind("controls_only_text", "text of control characters and a BOM only", b_controls_only, 3, dropped={"ingest_empty_text": 1},
         outcome="dropped ingest_empty_text"),
    Kind("trailing_garbage", "a JSON object followed by junk on its line", b_trailing_garbage, 3, 1, error="broken JSON",
         outcome="that line quarantined"),
    Kind("text_not_a_string", "text is an object / a boolean; a line that is a JSON string", b_text_not_string, 3, 3,
         check=c_line_numbers_distinct, outcome="each line quarantined with its type"),
]


def run_kind(kind: Kind, tmp_path: Path) -> tuple[object, dict]:
    root, outside = tmp_path / "in", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    kind.build(root, outside)
    uri = run_ingest([str(root)], str(tmp_path / "out"), IngestConfig(), executor="local")
    ds = open_dataset(uri, kind="documents")
    return ds, {
        "data": {r["id"]: r for r in ds.read_all("data").to_pylist()},
        "ids": ds.read_all("data").column("id").to_pylist(),
        "dropped": ds.read_all("dropped").to_pylist(),
        "quarantine": ds.read_all("quarantine").to_pylist(),
        "stats": ds.manifest.stats,
    }


def assert_kind(kind: Kind, counts, rows: dict) -> None:
    assert (counts.kept, counts.dropped, counts.quarantined) == (kind.kept, kind.dropped, kind.quarantined), (
        [q["error"] for q in rows["quarantine"]], [d["reason"] for d in rows["dropped"]]
    )
    assert counts.input == counts.kept + counts.dropped_total + counts.quarantined
    seen = Counter(rows["ids"])
    assert all(seen[i] == 1 for i in kind.good_ids), {i: seen[i] for i in kind.good_ids}
    assert len(rows["ids"]) == kind.kept
    for q in rows["quarantine"]:
        assert q["error"], q
        if kind.error:
            assert kind.error in q["error"], q["error"]
        assert "secret-token" not in (q["raw"] or ""), "a preview never shows another file's bytes"
    if kind.check:
        kind.check(rows)


assert len(KINDS) >= 30 and len({k.name for k in KINDS}) == len(KINDS)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
def test_hostile_input(kind: Kind, tmp_path: Path) -> None:
    ds, rows = run_kind(kind, tmp_path)
    assert_kind(kind, ds.manifest.counts, rows)


@pytest.mark.timeout(300)
def test_every_kind_in_one_tree_on_ray(ray_cluster, tmp_path: Path) -> None:
    """All kinds side by side in one crawl tree, on the real Ray cluster: the same counts per kind."""
    root, outside = tmp_path / "crawl", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    for kind in KINDS:
        (root / kind.name).mkdir()
        (outside / kind.name).mkdir()
        kind.build(root / kind.name, outside / kind.name)
    uri = run_ingest([str(root)], str(tmp_path / "out"), IngestConfig(), executor="ray")
    ds = open_dataset(uri, kind="documents")
    m = ds.manifest
    assert m.counts.is_conserved()
    per_kind: dict[str, Counter] = {}
    for path, f in m.stats["by_file"].items():
        c = per_kind.setdefault(Path(path).relative_to(root).parts[0], Counter())
        c["kept"] += f["kept"]
        c["quarantined"] += f["quarantined"]
        c.update({f"dropped:{r}": n for r, n in f["dropped"].items()})
    for kind in KINDS:
        want = Counter({"kept": kind.kept, "quarantined": kind.quarantined, **{f"dropped:{r}": n for r, n in kind.dropped.items()}})
        assert +per_kind.get(kind.name, Counter()) == +want, kind.name
    assert sum(k.kept for k in KINDS) == m.counts.kept
    assert not any("secret-token" in (q["raw"] or "") for q in ds.read_all("quarantine").to_pylist())
