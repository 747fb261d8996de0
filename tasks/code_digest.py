"""Digest of the code that computes a stage, hashed into its content key (``storage.content_key``).

    from tasks.code_digest import stage_code_digest, code_files
    stage_code_digest("filter")        # sha256 hex of tasks/filter.py and every repo module it imports
    code_files(["tasks.filter"])       # the files that digest covers, relative to the repo root

A stage's code is its driver module (:data:`STAGE_MODULES`) plus every module of the repository's
packages (:data:`REPO_PACKAGES`) that it imports, transitively. Imports are read with ``ast``
(nothing is imported or run): ``import a.b``, ``from a.b import c`` (``a/b/c.py`` when ``c`` is a
module), relative imports, and imports inside functions (lazy ones too). A package's
``__init__.py`` counts whenever one of its modules does (importing ``a.b`` runs it).
Third-party libraries are left out: ``requirements.txt`` pins them.

The digest is sha256 over the sorted ``(path relative to the repo root, sha256 of the file's
bytes)`` pairs: the same tree gives the same digest on every machine, with or without git, and
any edit to a file the stage imports (a bug fix in ``tasks/ops/quality.py``) changes the key of
that stage and, through the input digests, of every stage after it. Editing a module the stage
does not import (the flows, the CLI, another stage) changes nothing. The files are read when
the stage starts (about 20 small files, a few milliseconds), not cached: edit code while a
long-lived process is running and restart it, as its imported modules are still the old ones.
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
REPO_PACKAGES = ("tasks", "dedup", "storage", "model")  # flows/ only wires and reports: not part of a key

# stage name (as in manifests / data_to_model) -> the module whose code computes it
STAGE_MODULES: dict[str, str] = {
    "ingest": "tasks.ingest",
    "filter": "tasks.filter",
    "dedup": "tasks.dedup",
    "remix": "tasks.remix",
    "train_tokenizer": "tasks.train_tokenizer",
    "tokenize": "tasks.tokenize",
    "smoke": "tasks.smoke",
    "pretrain": "tasks.pretrain",
    "sft": "tasks.sft",
    "dpo": "tasks.dpo",
    "eval": "tasks.evaluate",
}


def _module_file(root: Path, module: str) -> Path | None:
    """``a.b`` -> ``root/a/b.py`` or ``root/a/b/__init__.py``; None outside the repo's packages."""
    parts = module.split(".")
    if not parts or parts[0] not in REPO_PACKAGES:
        return None
    base = root.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _package_of(root: Path, path: Path) -> list[str]:
    """Module path parts of the package that ``path`` is in (``tasks/ops/x.py`` -> [tasks, ops])."""
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    return parts[:-1]  # for a/b/__init__.py that is [a, b]; for a/b/c.py it is [a, b]


def _imported_modules(root: Path, path: Path) -> set[str]:
    """Every module name ``path`` may import (the names; filtering to the repo happens later)."""
    tree = ast.parse(path.read_bytes(), filename=str(path))
    package = _package_of(root, path)
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if not base:
                continue
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return names


def _with_parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _closure(root: Path, modules: tuple[str, ...]) -> tuple[Path, ...]:
    seen: set[Path] = set()
    todo = [m for name in modules for m in _with_parents(name)]
    if not any(_module_file(root, m) for m in modules):
        raise ValueError(f"none of {list(modules)} is a module of {REPO_PACKAGES} under {root}")
    while todo:
        path = _module_file(root, todo.pop())
        if path is None or path in seen:
            continue
        seen.add(path)
        for name in _imported_modules(root, path):
            todo.extend(_with_parents(name))
    return tuple(sorted(seen))


def code_files(modules: Iterable[str], root: str | Path | None = None) -> list[str]:
    """The repo files (relative paths) that ``modules`` and their repo imports consist of."""
    root = Path(root or REPO_ROOT).resolve()
    return [p.relative_to(root).as_posix() for p in _closure(root, tuple(sorted(set(modules))))]


def _digest(root: Path, modules: tuple[str, ...]) -> str:
    h = hashlib.sha256()
    for path in _closure(root, modules):
        h.update(path.relative_to(root).as_posix().encode())
        h.update(b"\0")
        h.update(hashlib.sha256(path.read_bytes()).hexdigest().encode())
        h.update(b"\n")
    return h.hexdigest()


def code_digest(modules: Sequence[str], root: str | Path | None = None) -> str:
    """sha256 hex of the source of ``modules`` and every repo module they import, transitively
    (``root``: the repository to read them from, default this one)."""
    return _digest(Path(root or REPO_ROOT).resolve(), tuple(sorted(set(modules))))


def stage_code_digest(stage: str, root: str | Path | None = None) -> str:
    """:func:`code_digest` of the module that computes ``stage`` (a key of :data:`STAGE_MODULES`)."""
    if stage not in STAGE_MODULES:
        raise ValueError(f"unknown stage {stage!r}; one of {sorted(STAGE_MODULES)}")
    return code_digest([STAGE_MODULES[stage]], root)
