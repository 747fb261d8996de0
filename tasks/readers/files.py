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

The input tree is a trust boundary. A walk never follows a symlink out of its root (the directory
argument, or a glob's fixed prefix): every real file under the root is read once, by its own path.

- A symlink (file or directory) whose target is outside the root is not read: it becomes an
  :class:`InputFile` with ``problem`` set, which ingest turns into one quarantine entry naming
  the link (its target's bytes are never opened).
- A dangling symlink, or one that loops, is such an entry too (not a crash).
- A symlink to a directory inside the root is not walked (its files are reached by their real
  paths); a symlink to a file inside the root is read once (the real path wins; a file reached
  only through links is read under the first link's name). Links not read are listed as skipped.
- A path that is not a regular file (a FIFO, a socket, a device) is an entry with ``problem`` set
  and is never opened, so a named pipe cannot hang a worker.

A file or directory whose name is not valid UTF-8 (a Latin-1 or GBK name from an old system) is read like
any other, by its own bytes; what is stored (quarantine ``source_file``, per-file stats, the ids of id-less
records) names it with those bytes as ``\\xNN`` (:func:`tasks.readers.records.printable_path`).

Files named explicitly on the command line are trusted (the user chose them): they are read
wherever they point, but a FIFO or device is still refused.
"""

from __future__ import annotations

import glob
import os
import stat
from dataclasses import dataclass

from tasks.readers.records import printable_path

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
    problem: str | None = None  # why this path is not read (outside the root, dangling, not a file)

    @property
    def name(self) -> str:
        """``path`` as stored text (a name that is not UTF-8 has its bytes as ``\\xNN``)."""
        return printable_path(self.path)

    @property
    def relpath(self) -> str:
        return printable_path(os.path.relpath(self.path, self.root))

    @property
    def id_name(self) -> str:
        """The name ids of id-less records are derived from (see tasks.readers.ids)."""
        return self.relpath if self.fmt == "html" else printable_path(os.path.basename(self.path))


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


def _inside(path: str, boundary: str) -> bool:
    return path == boundary or path.startswith(boundary.rstrip(os.sep) + os.sep)


def _file_kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a directory")):
        if test(mode):
            return name
    return "not a regular file"


class _Listing:
    """Candidate files keyed by real path (each real file is read once), plus problems and skips."""

    def __init__(self) -> None:
        self.by_real: dict[str, list[tuple[bool, str, str]]] = {}  # real -> [(is_link, path, root)]
        self.problems: dict[str, InputFile] = {}
        self.skipped: list[str] = []

    def problem(self, path: str, root: str, why: str) -> None:
        self.problems.setdefault(path, InputFile(path, root, detect_format(path), why))

    def add(self, path: str, root: str, boundary: str | None) -> None:
        """Classify one non-directory path found under ``root`` (``boundary=None``: trusted)."""
        is_link = os.path.islink(path)
        real = os.path.realpath(path)
        if is_link and not os.path.exists(path):
            target = os.readlink(path)
            self.problem(path, root, f"dangling symlink (or a loop of links) -> {target!r}; nothing read")
            return
        if boundary is not None and not _inside(real, boundary):
            self.problem(path, root, f"symlink to {real!r}, outside the input root {boundary!r}; not read "
                                     "(pass the target as an input of its own to ingest it)")
            return
        try:
            mode = os.stat(path).st_mode
        except OSError as e:
            self.problem(path, root, f"cannot stat: {type(e).__name__}: {e}")
            return
        if not stat.S_ISREG(mode):
            self.problem(path, root, f"{_file_kind(mode)}, not a regular file; not opened")
            return
        entries = self.by_real.setdefault(real, [])
        if all(p != path for _, p, _ in entries):
            entries.append((is_link, path, root))

    def walk(self, directory: str, root: str, boundary: str) -> int:
        """Add the supported files under ``directory`` without following links out of ``boundary``;
        return how many paths of a supported type (or links out of the root) were found."""
        found = 0
        for dirpath, dirnames, filenames in os.walk(directory, followlinks=False):
            dirnames.sort()
            for d in list(dirnames):
                path = os.path.join(dirpath, d)
                if d.startswith("."):
                    dirnames.remove(d)
                elif os.path.islink(path):  # os.walk lists links to directories here and never enters them
                    dirnames.remove(d)
                    real = os.path.realpath(path)
                    if not _inside(real, boundary):
                        self.problem(path, root, f"symlink to directory {real!r}, outside the input root {boundary!r}; "
                                                 "not walked (pass it as an input of its own to ingest it)")
                        found += 1
                    else:
                        self.skipped.append(path)  # inside the root: its files are read by their real paths
            for name in sorted(filenames):
                if name.startswith("."):
                    continue
                path = os.path.join(dirpath, name)
                if detect_format(path) == "unknown":
                    self.skipped.append(path)
                else:
                    self.add(path, root, boundary)
                    found += 1
        return found

    def files(self) -> list[InputFile]:
        out = list(self.problems.values())
        for entries in self.by_real.values():
            entries.sort(key=lambda e: (e[0], e[1]))  # the real (non-link) path first, then by name
            _, path, root = entries[0]
            out.append(InputFile(path, root, detect_format(path)))
            self.skipped.extend(p for _, p, _ in entries[1:])
        return sorted(out, key=lambda f: f.path)


def _glob_root(pattern: str) -> str:
    parts = pattern.split(os.sep)
    fixed = []
    for part in parts:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return os.sep.join(fixed) or "."


def list_input_files(inputs: list[str]) -> tuple[list[InputFile], list[str]]:
    """Return ``(input files in a stable order, skipped paths)``; raise ValueError for empty matches.

    Files with ``problem`` set are in the first list too (ingest quarantines each as one entry)."""
    listing = _Listing()
    for raw in inputs:
        arg = os.path.expanduser(raw[len("file://") :] if raw.startswith("file://") else raw)
        if "://" in arg:
            raise ValueError(f"ingest input {raw!r}: only local files, directories and globs are supported")
        if os.path.isdir(arg):
            root = os.path.abspath(arg)
            if not listing.walk(root, root, os.path.realpath(root)):
                raise ValueError(
                    f"ingest input {raw!r}: directory has no files of a supported type "
                    f"(.jsonl[.gz|.zst], .json[.gz], .parquet, .warc[.gz], .wet[.gz], .html[.gz])"
                )
        elif os.path.lexists(arg):
            p = os.path.abspath(arg)
            if os.path.islink(p) and not os.path.exists(p):
                raise ValueError(f"ingest input {raw!r}: dangling symlink (-> {os.readlink(p)!r})")
            listing.add(p, os.path.dirname(p), None)
        elif glob.has_magic(arg):
            root = os.path.abspath(_glob_root(arg))
            boundary = os.path.realpath(root)
            added = 0
            for m in sorted(glob.glob(arg, recursive=True)):
                p = os.path.abspath(m)
                if os.path.isdir(p) and not os.path.islink(p):
                    added += listing.walk(p, root, boundary)
                elif os.path.isdir(p):  # a link to a directory: walked only by its real path
                    if _inside(os.path.realpath(p), boundary):
                        listing.skipped.append(p)
                    else:
                        listing.problem(p, root, f"symlink to directory {os.path.realpath(p)!r}, outside the glob's root "
                                                 f"{boundary!r}; not walked")
                    added += 1
                else:
                    listing.add(p, root, boundary)
                    added += 1
            if not added:
                raise ValueError(f"ingest input {raw!r}: the glob matches no files")
        else:
            raise ValueError(f"ingest input {raw!r}: no such file or directory")
    return listing.files(), sorted(set(listing.skipped))
