"""Command-line flags for a config dataclass: one ``--field-name`` per field, typed by the field's annotation.

    cfg = parse_config(SFTConfig, argv, prog="python -m model.sft")

Unknown flags and values of the wrong type are errors (argparse exits with a message). Booleans are
``--flag`` / ``--no-flag``. Fields without a default are required.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
_TYPES = {"int": int, "float": float, "str": str, int: int, float: float, str: str}


def parse_config(cls: type[T], argv: list[str] | None = None, *, prog: str, description: str = "", positional: tuple[str, ...] = ()) -> T:
    p = argparse.ArgumentParser(prog=prog, description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        kwargs: dict[str, Any] = {}
        if f.type in ("bool", bool):
            p.add_argument("--" + f.name.replace("_", "-"), action=argparse.BooleanOptionalAction, default=f.default)
            continue
        typ = _TYPES.get(f.type)
        if typ is None:
            raise TypeError(f"{cls.__name__}.{f.name}: flag type {f.type!r} is not supported")
        if f.name in positional:
            p.add_argument(f.name, type=typ)
            continue
        kwargs = {"required": True} if required else {"default": f.default}
        p.add_argument("--" + f.name.replace("_", "-"), type=typ, **kwargs)
    return cls(**vars(p.parse_args(argv)))


def run_cli(cls: type[T], main: Callable[[T], dict[str, Any]], argv: list[str] | None, *, prog: str, description: str) -> int:
    """Parse flags into ``cls``, run ``main``; bad input or config -> message on stderr and exit code 2."""
    import json
    import sys

    import torch.distributed as dist

    cfg = parse_config(cls, argv, prog=prog, description=description)
    try:
        summary = main(cfg)
    except (ValueError, FloatingPointError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    print(json.dumps({k: v for k, v in summary.items() if k != "data"}, default=str))
    return 0
