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

import dataclasses
import difflib
import json
import os
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from storage import DatasetError, open_dataset
from storage.uri import is_remote

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


def _load_config_file(parameter: str, path: str) -> dict[str, Any]:
    if not os.path.isfile(path):
        raise ParameterError(parameter, f"config file {path} does not exist")
    text = Path(path).read_text(encoding="utf-8")
    try:
        if path.endswith((".yaml", ".yml")):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except (ValueError, ImportError) as e:
        raise ParameterError(parameter, f"config file {path} does not parse: {e}") from e
    if not isinstance(data, dict):
        raise ParameterError(parameter, f"config file {path} must hold a mapping, got {type(data).__name__}")
    return data


def _unknown_key(parameter: str, where: str, key: str, known: list[str]) -> ParameterError:
    hint = difflib.get_close_matches(key, known, n=1)
    suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
    return ParameterError(parameter, f"unknown key {where}{key!r}{suggestion}; known keys: {', '.join(sorted(known))}")


_SIMPLE = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


def _check_simple(parameter: str, where: str, value: Any, annotation: Any) -> None:
    """Type-check values of plain annotations (int, float, str, bool and ``X | None``); others pass."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return
        simple = [o for o in options if o in _SIMPLE]
        if len(simple) == len(options) - (type(None) in options) and simple:
            if not any(_matches(value, o) for o in simple):
                raise ParameterError(parameter, f"{where} must be {' or '.join(_SIMPLE[o] for o in simple)}, got {value!r}")
        return
    if annotation in _SIMPLE and not _matches(value, annotation):
        raise ParameterError(parameter, f"{where} must be {_SIMPLE[annotation]}, got {value!r}")


def _matches(value: Any, typ: type) -> bool:
    if typ is bool:
        return isinstance(value, bool)
    if typ is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if typ is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, typ)


def _build_dataclass(parameter: str, cls: type[T], data: dict[str, Any], prefix: str) -> T:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in fields:
            raise _unknown_key(parameter, prefix, str(key), list(fields))
        annotation = hints.get(key, Any)
        where = f"{prefix}{key}"
        if dataclasses.is_dataclass(annotation) and isinstance(value, dict):
            value = _build_dataclass(parameter, annotation, value, f"{where}.")
        else:
            _check_simple(parameter, repr(where), value, annotation)
        kwargs[key] = value
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise ParameterError(parameter, f"invalid {cls.__name__}: {e}") from e


def parse_config(parameter: str, cls: type[T], value: Any) -> T:
    """Build a config of type ``cls`` (a dataclass or pydantic model) from a flow parameter.

    ``value`` may be None (defaults), an instance of ``cls``, a mapping, or the path of a JSON/YAML
    file holding one. Unknown keys (also in nested dataclass configs) and wrongly typed plain
    values are refused with a message naming the parameter and the key.
    """
    if value is None:
        return cls()
    if isinstance(value, cls):
        return value
    if isinstance(value, str):
        value = _load_config_file(parameter, value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    elif hasattr(value, "model_dump"):
        value = value.model_dump()
    if not isinstance(value, dict):
        raise ParameterError(parameter, f"expected a mapping of {cls.__name__} fields, got {type(value).__name__}")
    if dataclasses.is_dataclass(cls):
        return _build_dataclass(parameter, cls, value, "")
    model_fields = getattr(cls, "model_fields", None)
    if model_fields is not None:  # pydantic model
        for key in value:
            if key not in model_fields:
                raise _unknown_key(parameter, "", str(key), list(model_fields))
        try:
            return cls.model_validate(value)  # type: ignore[attr-defined]
        except ValueError as e:
            raise ParameterError(parameter, f"invalid {cls.__name__}: {e}") from e
    raise TypeError(f"parse_config: {cls!r} is neither a dataclass nor a pydantic model")
