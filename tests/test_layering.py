"""The dependency direction of the architecture, enforced on every module's imports.

flows -> tasks -> {dedup, model, storage}; nothing imports flows; model, dedup, storage
and tasks never import prefect; storage imports nothing from the repository. ``ray`` is
imported by tasks/executor.py only (and by tests and benchmarks). The pure stage functions in
tasks/ops import nothing from model/ but its tokenizer (model/tokenizer.py: no torch).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["flows", "tasks", "model", "dedup", "storage"]

# package -> top-level modules it must never import
FORBIDDEN = {
    "storage": {"prefect", "ray", "torch", "flows", "tasks", "model", "dedup"},
    "dedup": {"prefect", "ray", "torch", "flows", "tasks", "model"},
    "model": {"prefect", "ray", "flows", "tasks", "dedup"},
    "tasks": {"prefect", "flows"},
    "flows": set(),
}


def imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def modules_of(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", PACKAGES)
def test_package_respects_layering(package: str) -> None:
    files = modules_of(package)
    assert files, f"package {package}/ has no modules"
    violations = []
    for path in files:
        bad = imported_top_levels(path) & FORBIDDEN[package]
        if bad:
            violations.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert not violations, "layering violated:\n" + "\n".join(violations)


def test_nothing_imports_flows() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for pkg in PACKAGES
        if pkg != "flows"
        for p in modules_of(pkg)
        if "flows" in imported_top_levels(p)
    ]
    assert not offenders, f"only flows/ may import flows: {offenders}"


RAY_MODULE = ROOT / "tasks" / "executor.py"


def test_only_the_executor_imports_ray() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for pkg in PACKAGES
        for p in modules_of(pkg)
        if p != RAY_MODULE and "ray" in imported_top_levels(p)
    ]
    assert not offenders, f"only tasks/executor.py may import ray: {offenders}"
    assert "ray" in imported_top_levels(RAY_MODULE)


def imported_modules(path: Path) -> set[str]:
    """Full dotted names of the absolute imports of ``path`` (``from a.b import c`` -> ``a.b``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


OPS_MAY_IMPORT_FROM_MODEL = {"model.tokenizer"}


def test_pure_ops_import_only_the_tokenizer_from_model() -> None:
    offenders = {
        str(p.relative_to(ROOT)): sorted(bad)
        for p in sorted((ROOT / "tasks" / "ops").rglob("*.py"))
        if (bad := {m for m in imported_modules(p) if (m == "model" or m.startswith("model.")) and m not in OPS_MAY_IMPORT_FROM_MODEL})
    }
    assert not offenders, f"tasks/ops may import only {sorted(OPS_MAY_IMPORT_FROM_MODEL)} from model/: {offenders}"
    tokenizer_imports = imported_top_levels(ROOT / "model" / "tokenizer.py")
    assert "torch" not in tokenizer_imports, "model/tokenizer.py is imported by the pure ops: keep it free of torch"


def test_checker_catches_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import prefect\nfrom ray.data import Dataset\nfrom . import sibling\n")
    assert imported_top_levels(bad) == {"prefect", "ray"}
