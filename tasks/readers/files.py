"""Resolve ingest inputs (files, directories walked recursively, globs) into typed input files.

Formats are recognised by file name:

| format | names |
|---|---|
| ``jsonl`` | ``.jsonl``, ``.ndjson``, ``.json`` (+ ``.gz``, ``.zst``, ``.zstd``) |
| ``parquet`` | ``.parquet`` |
| ``warc`` | ``.warc``, ``.arc``, ``.wet`` (+ ``.gz``): WARC responses, ARC, WET conversion records |
| ``html`` | ``.html``, ``.htm``, ``.xhtml`` (+ ``.gz``): one page per file |

Directory walks skip hidden files and files of other types (they are listed in the run's stats);
a file named explicitly with an unknown type becomes a quarantine entry. An input that matches
nothing raises ``ValueError`` before any work starts (a typo should not look like an empty crawl).
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass

_COMPRESSION = (".gz", ".zst", ".zstd")
_FORMATS = {
    "jsonl": (".jsonl", ".ndjson", ".json"),
    "parquet": (".parquet",),
    "warc": (".warc", ".arc", ".wet"),
    "html": (".html", ".htm", ".xhtml"),
}


@dataclass(frozen=True)
class InputFile:
    path: str  # absolute
    root: str  # the directory the input argument named (for relative names)
    fmt: str  # jsonl | parquet | warc | html | unknown

    @property
    def relpath(self) -> str:
        return os.path.relpath(self.path, self.root)

    @property
    def id_name(self) -> str:
        """The name ids of id-less records are derived from (see tasks.readers.ids)."""
        return self.relpath if self.fmt == "html" else os.path.basename(self.path)


def detect_format(path: str) -> str:
    name = os.path.basename(path).lower()
    for ext in _COMPRESSION:
        if name.endswith(ext):
            name = name[: -len(ext)]
            break
    if name.endswith(".parquet") and path.lower().endswith(_COMPRESSION):
        return "unknown"  # a compressed parquet file is not readable by row groups
    for fmt, exts in _FORMATS.items():
        if name.endswith(exts):
            return fmt
    if name.endswith(".warc.wet"):
        return "warc"
    return "unknown"


def _walk(directory: str) -> tuple[list[str], list[str]]:
    found, skipped = [], []
    for dirpath, dirnames, filenames in os.walk(directory, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = os.path.join(dirpath, name)
            (found if detect_format(path) != "unknown" else skipped).append(path)
    return found, skipped


def _glob_root(pattern: str) -> str:
    parts = pattern.split(os.sep)
    fixed = []
    for part in parts:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return os.sep.join(fixed) or "."


def list_input_files(inputs: list[str]) -> tuple[list[InputFile], list[str]]:
    """Return ``(input files in a stable order, skipped paths)``; raise ValueError for empty matches."""
    files: dict[str, InputFile] = {}
    skipped: list[str] = []
    for raw in inputs:
        arg = os.path.expanduser(raw[len("file://") :] if raw.startswith("file://") else raw)
        if "://" in arg:
            raise ValueError(f"ingest input {raw!r}: only local files, directories and globs are supported")
        if os.path.isdir(arg):
            root = os.path.abspath(arg)
            found, skip = _walk(root)
            skipped.extend(skip)
            if not found:
                raise ValueError(
                    f"ingest input {raw!r}: directory has no files of a supported type "
                    f"(.jsonl[.gz|.zst], .json[.gz], .parquet, .warc[.gz], .wet[.gz], .html[.gz])"
                )
            for p in found:
                files.setdefault(p, InputFile(p, root, detect_format(p)))
        elif os.path.isfile(arg):
            p = os.path.abspath(arg)
            files.setdefault(p, InputFile(p, os.path.dirname(p), detect_format(p)))
        elif glob.has_magic(arg):
            matches = sorted(glob.glob(arg, recursive=True))
            root = os.path.abspath(_glob_root(arg))
            added = 0
            for m in matches:
                if os.path.isdir(m):
                    found, skip = _walk(m)
                    skipped.extend(skip)
                    for p in found:
                        files.setdefault(p, InputFile(p, root, detect_format(p)))
                        added += 1
                elif os.path.isfile(m):
                    p = os.path.abspath(m)
                    files.setdefault(p, InputFile(p, root, detect_format(p)))
                    added += 1
            if not added:
                raise ValueError(f"ingest input {raw!r}: the glob matches no files")
        else:
            raise ValueError(f"ingest input {raw!r}: no such file or directory")
    return sorted(files.values(), key=lambda f: f.path), sorted(set(skipped))
