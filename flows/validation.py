"""Fail-fast checks of flow parameters, run at the top of a flow before any compute.

A flow that names a missing dataset, passes a config with an unknown key or points a stage at
a dataset of the wrong kind fails at once, with a message that names the parameter::

    @flow(name="filter")
    def filter_flow(input_uri: str, out: str, config: dict | None = None) -> str:
        input_uri = require_dataset("input_uri", input_uri, kind="documents")
        cfg = parse_config("config", FilterConfig, config)
        out = require_output("out", out)
        ...

Every helper raises :class:`ParameterError` (a ``ValueError``), whose message starts with
``parameter 'NAME':`` so the Prefect UI, the CLI and the logs all say which field to fix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from storage import DatasetError, open_dataset
from storage.uri import is_remote
from tasks.config import ConfigError, load_mapping, parse

T = TypeVar("T")


class ParameterError(ValueError):
    """A flow parameter is wrong; ``parameter`` names it."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"parameter {parameter!r}: {message}")
        self.parameter = parameter
        self.detail = message

    def __reduce__(self) -> tuple[type, tuple[str, str]]:  # picklable: Prefect persists failures
        return (ParameterError, (self.parameter, self.detail))


# ----------------------------------------------------------------------------- datasets and paths


def require_dataset(parameter: str, uri: Any, *, kind: str | None = None) -> str:
    """Open the dataset ``uri`` names (resolving ``LATEST``); return the version URI.

    Fails when the parameter is empty, the dataset is missing or incomplete, or its kind is not ``kind``.
    """
    if not isinstance(uri, str) or not uri.strip():
        raise ParameterError(parameter, f"a dataset URI is required, got {uri!r}")
    try:
        return open_dataset(uri, kind=kind).uri
    except DatasetError as e:
        raise ParameterError(parameter, str(e)) from e


def require_datasets(parameter: str, uris: Any, *, kind: str | None = None) -> list[str]:
    """:func:`require_dataset` for a non-empty list of URIs (a single string is accepted too)."""
    if isinstance(uris, str):
        uris = [uris]
    if not isinstance(uris, Sequence) or not uris:
        raise ParameterError(parameter, f"a non-empty list of dataset URIs is required, got {uris!r}")
    out = []
    for i, uri in enumerate(uris):
        out.append(require_dataset(f"{parameter}[{i}]", uri, kind=kind))
    return out


def require_path(parameter: str, path: Any, *, is_dir: bool | None = None) -> str:
    """A local file or folder that must exist (``is_dir``: True folder, False file, None either)."""
    if not isinstance(path, str) or not path.strip():
        raise ParameterError(parameter, f"a path is required, got {path!r}")
    if is_remote(path):
        return path  # object stores are checked by the stage that lists them
    p = Path(path)
    if not p.exists():
        raise ParameterError(parameter, f"{path}: no such file or folder")
    if is_dir is True and not p.is_dir():
        raise ParameterError(parameter, f"{path}: is a file, a folder is needed")
    if is_dir is False and not p.is_file():
        raise ParameterError(parameter, f"{path}: is a folder, a file is needed")
    return str(p.resolve())


def require_output(parameter: str, out: Any) -> str:
    """An output location: a non-empty string that is not an existing regular file."""
    if not isinstance(out, str) or not out.strip():
        raise ParameterError(parameter, f"an output location is required, got {out!r}")
    if not is_remote(out) and Path(out).is_file():
        raise ParameterError(parameter, f"{out}: is an existing file; an output folder is needed")
    return out


# ----------------------------------------------------------------------------- configs


def parse_config(parameter: str, cls: type[T], value: Any, fixed: Mapping[str, Any] | None = None) -> T:
    """:func:`tasks.config.parse` of a flow parameter; any problem is a :class:`ParameterError` naming it.

    ``value`` may be None (defaults), an instance of ``cls`` (passed on as it is), a mapping of
    overrides, or the path of a JSON/YAML file holding one. ``fixed`` holds the fields the flow sets
    itself (a training run's ``data`` / ``out`` paths): they are laid over ``value``, whatever it holds.
    """
    try:
        if not fixed:
            return parse(cls, value)
        if isinstance(value, cls):
            return parse(cls, dict(fixed), base=value)
        return parse(cls, {**(load_mapping(value) if isinstance(value, (str, Path)) else dict(value or {})), **fixed})
    except ConfigError as e:
        raise ParameterError(parameter, str(e)) from e
