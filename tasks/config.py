"""The one way to turn a mapping, a YAML/JSON file or nothing into a config object, and back.

    from tasks.config import ConfigError, load_mapping, parse, to_mapping

    cfg = parse(FilterConfig, None)                                  # the defaults
    cfg = parse(FilterConfig, {"langid": {"keep": ["en"]}})          # defaults + overrides
    cfg = parse(FilterConfig, "configs/filter.yaml")                 # a YAML (or .json) file of overrides
    cfg = parse(FilterConfig, {"batch_size": 500}, base=cfg)         # overrides on another config
    manifest_config = to_mapping(cfg)                                # plain dict (== dataclasses.asdict)

Every component keeps its own small config dataclass (frozen or not); this module knows nothing
about any of them. The rules, for every class alike:

- **Partial overrides.** Only the keys given change. A mapping given for a field whose type is a
  config class (``X`` or ``X | None``) merges into that field's current value; for a
  ``dict[str, X]`` of config classes each named entry merges into the existing entry (or into
  ``X()``'s defaults when the entry is new). Any other value (number, string, list, plain dict)
  replaces the field's value. A list of config classes (``list[X]``) is built element by element.
- **Strict types**, as pydantic's strict mode checks JSON input: ``"2"`` is not an integer,
  ``1.5`` is not an integer, ``1`` is not a boolean; an integer is a valid float (and becomes one)
  and a list a valid tuple. ``None`` only where the annotation allows it.
- **Errors** are :class:`ConfigError` (a ``ValueError``) and name the full key path:
  an unknown key says ``did you mean 'x'?`` and lists the keys of its level, a wrong type says
  what was expected and what was given, a missing required key says so, and a class's own
  ``__post_init__`` check is reported with the path of the class that refused.
- The object is built by the class's own constructor (``cls(...)`` / ``dataclasses.replace``),
  so its ``__post_init__`` checks always run.
- An instance of ``cls`` given as ``source`` is returned as it is: a config is parsed once per
  process and then handed down as an object (Ray pickles it to its workers).

:func:`load_mapping` is the only YAML/JSON loader of the project (:func:`load_scalar` reads one
command-line ``KEY=VALUE`` value with the same rules). YAML's own resolver reads ``1e12``
(no dot) as a string; this loader reads it as the number it is meant to be.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
import types
import typing
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")
KeyPath = tuple[str | int, ...]

__all__ = ["ConfigError", "load_mapping", "load_scalar", "parse", "to_mapping"]


class ConfigError(ValueError):
    """A config value is wrong; ``path`` is the key path inside the config, ``where`` its origin (a file)."""

    def __init__(self, message: str, path: KeyPath = (), where: str | None = None) -> None:
        super().__init__(f"{where}: {message}" if where else message)
        self.message, self.path, self.where = message, tuple(path), where

    def __reduce__(self) -> tuple[type, tuple[str, KeyPath, str | None]]:  # picklable: Ray and Prefect carry it
        return (ConfigError, (self.message, self.path, self.where))


def format_path(path: KeyPath) -> str:
    """``("quality", "languages", "zh", "c4")`` -> ``quality.languages.zh.c4``; list positions as ``[i]``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# ----------------------------------------------------------------------------- files


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads ``1e12`` / ``3E-4`` (YAML 1.2 floats without a dot) as floats."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def load_mapping(path: str | Path) -> dict[str, Any]:
    """The mapping held by a YAML (any suffix but ``.json``) or JSON file; an empty file is ``{}``."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {p} does not exist")
    text = p.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if p.suffix == ".json" else yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader
    except (ValueError, yaml.YAMLError) as e:
        raise ConfigError(f"config file {p} does not parse: {e}") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {p} must hold a mapping of config keys, got {type(data).__name__}")
    return data


def load_scalar(text: str) -> Any:
    """A command-line value read as YAML reads it (``16``, ``1e-5``, ``true``, ``[a, b]``); text that does not parse stays text."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError:
        return text


# ----------------------------------------------------------------------------- parse


def parse(cls: type[T], source: Mapping[str, Any] | str | Path | T | None = None, *, base: T | None = None,
          where: str | None = None) -> T:
    """A ``cls`` config from ``source`` laid over ``base`` (default: the class's defaults).

    ``source``: None (``base`` or the defaults), a mapping of overrides, the path of a YAML/JSON
    file holding one, or an instance of ``cls`` (returned as it is). ``where`` names the origin in
    error messages (a file's path is used by default).
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"parse: {cls!r} is not a config dataclass")
    if isinstance(source, cls):
        return source
    if isinstance(source, (str, Path)):
        where = where or str(source)
        try:
            source = load_mapping(source)
        except ConfigError as e:
            raise ConfigError(e.message) from e
    if source is None:
        source = {}
    if base is not None and not isinstance(base, cls):
        raise TypeError(f"parse: base must be a {cls.__name__}, got {type(base).__name__}")
    try:
        if not isinstance(source, Mapping):
            raise ConfigError(f"expected a mapping of {cls.__name__} keys, got {_got(source)}")
        return base if base is not None and not source else _build(cls, base, source, ())
    except ConfigError as e:
        if where and not e.where:
            raise ConfigError(e.message, e.path, where) from e
        raise


def to_mapping(cfg: Any) -> dict[str, Any]:
    """The config as a plain dict (what manifests record and content keys hash): ``dataclasses.asdict``."""
    if not dataclasses.is_dataclass(cfg) or isinstance(cfg, type):
        raise TypeError(f"to_mapping: {cfg!r} is not a config dataclass instance")
    return dataclasses.asdict(cfg)


# ----------------------------------------------------------------------------- internals


@lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _init_fields(cls: type) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls) if f.init}


def _build(cls: type[T], current: T | None, data: Mapping[str, Any], path: KeyPath) -> T:
    fields = _init_fields(cls)
    for key in data:
        if key not in fields:
            raise _unknown(key, list(fields), path, cls)
    hints = _hints(cls)
    changes = {key: _value(hints[key], value, _current(current, fields[key]), (*path, key)) for key, value in data.items()}
    if current is None:
        missing = [n for n, f in fields.items() if n not in changes
                   and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
        if missing:
            keys = ", ".join(repr(format_path((*path, m))) for m in missing)
            raise ConfigError(f"{cls.__name__} needs {keys} (no default)", path)
    try:
        return dataclasses.replace(current, **changes) if current is not None else cls(**changes)
    except (TypeError, ValueError) as e:
        at = f" at {format_path(path)!r}" if path else ""
        raise ConfigError(f"invalid {cls.__name__}{at}: {e}", path) from e


def _current(obj: Any, f: dataclasses.Field) -> Any:
    """The value a field has now: ``obj``'s, or the field's default when the object is still to be built."""
    if obj is not None:
        return getattr(obj, f.name)
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None if f.default is dataclasses.MISSING else f.default


def _unknown(key: Any, known: list[str], path: KeyPath, cls: type) -> ConfigError:
    full = format_path((*path, str(key)))
    hint = [(*path, h) for h in difflib.get_close_matches(str(key), known, n=1)]
    if not hint:  # a key of a nested config given one level too high, e.g. dedup's "bands" for "minhash.bands"
        hint = [(*path, name, str(key)) for name, tp in _hints(cls).items()
                if (inner := _config_class_in(tp)[0]) is not None and str(key) in _init_fields(inner)][:1]
    suggestion = f" (did you mean {format_path(hint[0])!r}?)" if hint else ""
    return ConfigError(f"unknown key {full!r}{suggestion}; {cls.__name__} keys: {', '.join(sorted(known))}", (*path, str(key)))


def _config_class_in(tp: Any) -> tuple[type | None, bool]:
    """(the config dataclass inside ``X`` / ``X | None``, whether None is allowed), else (None, _)."""
    if dataclasses.is_dataclass(tp):
        return tp, False
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        classes = [a for a in args if dataclasses.is_dataclass(a)]
        if len(classes) == 1 and len(args) == 2 and type(None) in args:
            return classes[0], True
    return None, False


def _value(tp: Any, value: Any, current: Any, path: KeyPath) -> Any:
    cls, optional = _config_class_in(tp)
    if cls is not None:
        if value is None:
            if optional:
                return None
            raise ConfigError(f"{format_path(path)!r} must be a mapping of {cls.__name__} keys, got None", path)
        if isinstance(value, cls):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"{format_path(path)!r} must be a mapping of {cls.__name__} keys, got {_got(value)}", path)
        return _build(cls, current if isinstance(current, cls) else None, value, path)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is dict and len(args) == 2 and _config_class_in(args[1])[0] is not None:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{format_path(path)!r} must be a mapping, got {_got(value)}", path)
        merged = dict(current) if isinstance(current, Mapping) else {}
        for k, v in value.items():
            _leaf(args[0], k, (*path, str(k)))
            merged[k] = _value(args[1], v, merged.get(k), (*path, str(k)))
        return merged
    if origin is list and len(args) == 1 and _config_class_in(args[0])[0] is not None:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{format_path(path)!r} must be a list, got {_got(value)}", path)
        return [_value(args[0], v, None, (*path, i)) for i, v in enumerate(value)]
    return _leaf(tp, value, path)


@lru_cache(maxsize=None)
def _adapter(tp: Any) -> Any:
    from pydantic import TypeAdapter

    return TypeAdapter(tp)


def _leaf(tp: Any, value: Any, path: KeyPath) -> Any:
    """``value`` checked (and normalised: int -> float, list -> tuple) against ``tp`` in strict JSON mode."""
    from pydantic import ValidationError

    try:
        encoded = json.dumps(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{format_path(path)!r} must be a config value (JSON/YAML data), got {_got(value)}", path) from None
    try:
        return _adapter(tp).validate_json(encoded, strict=True)
    except ValidationError as e:
        err = e.errors(include_url=False)[0]
        full = (*path, *err["loc"])
        expected = err["msg"].removeprefix("Input should be ").removeprefix("Value error, ")
        raise ConfigError(f"{format_path(full)!r} should be {expected}, got {_got(err.get('input', value))}", full) from None


def _got(value: Any) -> str:
    text = repr(value)
    return f"{text[:120]}... ({type(value).__name__})" if len(text) > 120 else f"{text} ({type(value).__name__})"
