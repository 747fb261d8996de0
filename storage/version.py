"""Code version recorded in manifests and checkpoints: package version plus git commit when known."""

from __future__ import annotations

import functools
import importlib.metadata
import os
import subprocess


@functools.cache
def code_version() -> str:
    """``<package version>`` or ``<package version>+g<sha>[.dirty]`` inside a git checkout."""
    try:
        version = importlib.metadata.version("longterm")
    except importlib.metadata.PackageNotFoundError:
        version = "0.0.0"
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short=10", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return f"{version}+g{sha}" if sha else version


def package_version() -> str:
    """The distribution version only: stable across commits, used in content keys."""
    try:
        return importlib.metadata.version("longterm")
    except importlib.metadata.PackageNotFoundError:
        return "0.0.0"
