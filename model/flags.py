"""The one argv codec of ``model/``: a config dataclass to command-line flags and back.

    cfg = from_flags(SFTConfig, argv, prog="python -m model.sft")   # argv -> SFTConfig (exits 2 on bad flags)
    argv = to_flags(cfg)                                            # SFTConfig -> argv (what torchrun launches get)
    sys.exit(run_cli(SFTConfig, main, argv, prog="python -m model.sft"))

One ``--field-name`` per field, typed by the field's annotation (strict: ``--steps 1.5`` is refused for an
int): ``int``, ``float``, ``str``, ``bool`` (``--flag`` / ``--no-flag``), ``X | None`` (None when the flag
is absent), ``list[str]`` (the flag repeated) and ``dict[str, Any]`` (``--flag KEY=VALUE`` repeated; values
become int, float or str). Fields without a default are required. Field metadata: ``help``, ``flag``
(another flag name, e.g. ``--model-arg`` for ``TrainConfig.model_overrides``), ``choices`` and
``positional``. An unknown flag is an error that names the closest known one; abbreviations are not
accepted, so a flag never silently means another field. ``from_flags(cls, to_flags(cfg)) == cfg``.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import sys
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
_SCALARS = (int, float, str)


def _flag(f: dataclasses.Field) -> str:
    return "--" + f.metadata.get("flag", f.name.replace("_", "-"))


def _base_type(hint: Any) -> tuple[Any, bool]:
    """(the type without ``None``, whether None is allowed)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"flag type {hint!r} is not supported (one type or one type | None)")
        return args[0], True
    return hint, False


def _key_value(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    for conv in (int, float):
        try:
            return key, conv(value)
        except ValueError:
            pass
    return key, value


def _is_required(f: dataclasses.Field) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def build_parser(cls: type, *, prog: str, description: str = "") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=description, allow_abbrev=False,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        typ, _ = _base_type(hints[f.name])
        origin = typing.get_origin(typ)
        required = _is_required(f)
        default = None if required else (f.default if f.default_factory is dataclasses.MISSING else f.default_factory())
        help_ = f.metadata.get("help", "")
        kw: dict[str, Any] = {"help": f"{help_} (default: {default})".strip() if not required else help_}
        if "choices" in f.metadata:
            kw["choices"] = f.metadata["choices"]
        if f.metadata.get("positional"):
            p.add_argument(f.name, type=typ, **kw)
            continue
        names = dict(dest=f.name)
        if typ is bool:
            p.add_argument(_flag(f), action=argparse.BooleanOptionalAction, default=default, **names, **kw)
        elif origin is list and typing.get_args(typ) in ((str,),):
            p.add_argument(_flag(f), action="append", type=str, default=None, required=required, metavar="VALUE", **names, **kw)
        elif origin is dict:
            p.add_argument(_flag(f), action="append", type=_key_value, default=None, metavar="KEY=VALUE", **names, **kw)
        elif typ in _SCALARS:
            p.add_argument(_flag(f), type=typ, default=default, required=required, **names, **kw)
        else:
            raise TypeError(f"{cls.__name__}.{f.name}: flag type {typ!r} is not supported")
    return p


def from_flags(cls: type[T], argv: list[str] | None = None, *, prog: str, description: str = "") -> T:
    """Parse ``argv`` into ``cls``; unknown or malformed flags print a message and exit 2 (argparse)."""
    p = build_parser(cls, prog=prog, description=description)
    ns, unknown = p.parse_known_args(argv)
    if unknown:
        known = [o for a in p._actions for o in a.option_strings]
        bad = next((u for u in unknown if u.startswith("-")), unknown[0]).split("=")[0]
        close = difflib.get_close_matches(bad, known, n=1, cutoff=0.6)
        p.error(f"unrecognized argument {bad!r}" + (f"; did you mean {close[0]}?" if close else f"; see {prog} --help"))
    values = vars(ns)
    defaults = {f.name: f for f in dataclasses.fields(cls)}
    for name, value in list(values.items()):
        if value is None and defaults[name].default_factory is not dataclasses.MISSING:  # repeated flag never given
            values[name] = defaults[name].default_factory()
        elif isinstance(value, list) and value and isinstance(value[0], tuple):
            values[name] = dict(value)
    return cls(**values)


def _text(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def to_flags(cfg: Any) -> list[str]:
    """The flags that ``from_flags(type(cfg), ...)`` turns back into ``cfg``."""
    flags: list[str] = []
    for f in dataclasses.fields(cfg):
        value, flag = getattr(cfg, f.name), _flag(f)
        if f.metadata.get("positional"):
            flags.append(_text(value))
        elif isinstance(value, bool):
            flags.append(flag if value else "--no-" + flag[2:])
        elif isinstance(value, dict):
            flags += [x for k, v in value.items() for x in (flag, f"{k}={_text(v)}")]
        elif isinstance(value, list):
            flags += [x for v in value for x in (flag, str(v))]
        elif value is not None:
            flags += [flag, _text(value)]
    return flags


def run_cli(cls: type[T], main: Callable[[T], dict[str, Any]], argv: list[str] | None = None, *, prog: str, description: str = "") -> int:
    """Parse flags into ``cls`` and run ``main``. Bad input or config (ValueError and its kinds such as
    ``DatasetError`` / ``CheckpointError``, MemoryError, FloatingPointError) -> ``error: ...`` on stderr and
    exit code 2, no traceback. Rank 0 prints the summary as one JSON line (without the bulky ``data`` stats)."""
    import os

    import torch.distributed as dist

    cfg = from_flags(cls, argv, prog=prog, description=description)
    try:
        summary = main(cfg)
    except (ValueError, MemoryError, FloatingPointError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps({k: v for k, v in summary.items() if k != "data"}, default=str))
    return 0
