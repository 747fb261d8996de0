"""Build nested config dataclasses from plain dicts (YAML/JSON files), overriding defaults.

    cfg = merge_into(FilterConfig(), {"langid": {"keep": ["en"]}})

Only the keys given are changed; nested dataclasses are merged recursively, ``dict[str, X]``
entries are merged into the existing entry (or a fresh ``X()``), and unknown keys raise
``ValueError`` naming the path, so a typo in a config file never passes silently.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def _dataclass_in(tp: Any) -> type | None:
    """The dataclass inside ``X``, ``X | None`` or ``Optional[X]``, else None."""
    if dataclasses.is_dataclass(tp):
        return tp
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            if dataclasses.is_dataclass(arg):
                return arg
    return None


def _convert(tp: Any, value: Any, current: Any, path: str) -> Any:
    if value is None:
        return None
    dc = _dataclass_in(tp)
    if dc is not None:
        if not isinstance(value, dict):
            raise ValueError(f"config {path}: expected a mapping for {dc.__name__}, got {value!r}")
        return merge_into(current if isinstance(current, dc) else dc(), value, path)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _convert(args[0], value, current, path) if len(args) == 1 else value
    if origin is dict:
        _, vt = typing.get_args(tp)
        if not isinstance(value, dict):
            raise ValueError(f"config {path}: expected a mapping, got {value!r}")
        merged = dict(current or {})
        for k, v in value.items():
            merged[k] = _convert(vt, v, merged.get(k), f"{path}.{k}")
        return merged
    if origin is list:
        (et,) = typing.get_args(tp) or (Any,)
        if typing.get_origin(et) is tuple:
            return [tuple(v) for v in value]
        return list(value)
    return value


def merge_into(obj: T, data: dict[str, Any], path: str = "config") -> T:
    """Return a copy of dataclass ``obj`` with ``data`` applied (see module docstring)."""
    hints = typing.get_type_hints(type(obj))
    names = {f.name for f in dataclasses.fields(obj)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {unknown}; valid keys: {sorted(names)}")
    changes = {k: _convert(hints[k], v, getattr(obj, k), f"{path}.{k}") for k, v in data.items()}
    return dataclasses.replace(obj, **changes)


def load_mapping(path: str) -> dict[str, Any]:
    """Read a YAML (.yaml/.yml) or JSON config file into a dict."""
    text = Path(path).read_text(encoding="utf-8")
    if path.endswith((".yaml", ".yml")):
        import yaml

        data = yaml.safe_load(text) or {}
    else:
        data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a config file must hold a mapping at the top level")
    return data
