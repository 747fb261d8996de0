"""The frozen user surface: every ``longterm`` command's options and every Prefect flow's parameters.

    python -m tests.surface.surface            # print the surface as JSON
    python -m tests.surface.surface --write    # regenerate tests/surface/surface.json after a deliberate change

``tests/surface/test_surface.py`` compares :func:`compute` with ``surface.json`` and fails with a
readable diff when they differ, so a renamed option, a changed default or a new flow parameter is
a decision (commit the regenerated file with the change) rather than an accident. Like
torchtitan's frozen config test, this records names, kinds, types, defaults and requiredness, not
help texts or docstrings: rewording a help string does not change the surface.

What it holds:
- ``commands``: for each command of the typer app in ``flows/cli.py``, its arguments and options
  (option strings, declared type, default, required, flag, multiple, nargs).
- ``model_flags``: the flags of ``model/``'s own entry points (``python -m model.pretrain`` and the
  rest, built by ``model/flags.py`` from their config dataclasses); ``longterm pretrain`` passes its
  extra arguments to the same ``TrainConfig`` flags (``extra_args`` in its command entry).
- ``flows``: for each Prefect flow defined in a module under ``flows/``, its name, entrypoint and
  parameter schema (the JSON schema Prefect derives from the signature, which is what deployments
  and the UI accept), with titles and descriptions dropped; config classes appear in its
  ``definitions``, so a config key change shows here too.
"""

from __future__ import annotations

import argparse
import difflib
import enum
import importlib
import json
import pkgutil
import sys
from pathlib import Path
from typing import Any

SURFACE_JSON = Path(__file__).with_name("surface.json")


def _plain(value: Any) -> Any:
    """A JSON-safe, deterministic form of a default value."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if callable(value):
        return f"<callable {getattr(value, '__qualname__', type(value).__name__)}>"
    return str(value)


def _type(p: Any) -> Any:
    """The parameter's type as declared (typer keeps the annotation; a plain click parameter has ``type``)."""
    desc = getattr(p, "type_descriptor", None)
    tp = desc.annotation if desc is not None else None
    if tp is None:
        return getattr(getattr(p, "type", None), "name", None)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"choice": [_plain(m.value) for m in tp]}
    return tp.__name__ if isinstance(tp, type) else str(tp).replace("typing.", "")


def _command(cmd: Any) -> dict[str, Any]:
    from typer.core import TyperOption

    params = []
    for p in cmd.params:
        is_option = isinstance(p, TyperOption)
        entry: dict[str, Any] = {
            "name": p.name,
            "kind": "option" if is_option else "argument",
            "type": _type(p),
            "required": bool(p.required),
        }
        if is_option:
            entry["opts"] = sorted(p.opts) + sorted(p.secondary_opts)
            entry["is_flag"] = bool(p.is_flag)
            entry["multiple"] = bool(p.multiple)
        if p.nargs != 1:
            entry["nargs"] = p.nargs
        if not p.required:
            entry["default"] = _plain(p.default)
        params.append(entry)
    out: dict[str, Any] = {"params": params}
    if cmd.context_settings.get("allow_extra_args"):
        out["extra_args"] = True
    return out


def commands() -> dict[str, Any]:
    import typer.main

    from flows.cli import app

    group = typer.main.get_command(app)
    return {name: _command(group.commands[name]) for name in sorted(group.commands)}


# ``python -m <module>`` -> the config dataclass its flags are built from (model/flags.py).
MODEL_CLIS = {
    "model.pretrain": "TrainConfig",
    "model.sft": "SFTConfig",
    "model.dpo": "DPOConfig",
    "model.evaluate": "EvalConfig",
    "model.export_hf": "ExportArgs",
    "model.bench": "BenchConfig",
    "model.scaling": "PlanArgs",
}


def model_flags() -> dict[str, Any]:
    import argparse

    from model.flags import build_parser

    found: dict[str, Any] = {}
    for module_name, cls_name in sorted(MODEL_CLIS.items()):
        cls = getattr(importlib.import_module(module_name), cls_name)
        flags = []
        for a in build_parser(cls, prog=module_name)._actions:
            if isinstance(a, argparse._HelpAction):
                continue
            entry: dict[str, Any] = {"dest": a.dest, "opts": list(a.option_strings), "required": bool(a.required),
                                     "action": type(a).__name__, "type": getattr(a.type, "__name__", _plain(a.type))}
            if a.choices is not None:
                entry["choices"] = _plain(list(a.choices))
            if not a.required:
                entry["default"] = _plain(a.default)
            flags.append(entry)
        found[f"python -m {module_name}"] = {"config": f"{module_name}.{cls_name}", "flags": flags}
    return found


_DROP = ("title", "description")


def _schema(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _schema(v) for k, v in sorted(node.items()) if k not in _DROP}
    if isinstance(node, list):
        return [_schema(v) for v in node]
    return _plain(node)


def flows() -> dict[str, Any]:
    from prefect import Flow

    import flows as flows_pkg

    found: dict[str, Any] = {}
    for info in sorted(pkgutil.walk_packages(flows_pkg.__path__, "flows."), key=lambda m: m.name):
        module = importlib.import_module(info.name)
        for attr, obj in sorted(vars(module).items()):
            if isinstance(obj, Flow) and obj.fn.__module__ == info.name:
                schema = obj.parameters.model_dump(mode="json")
                found[obj.name] = {"entrypoint": f"{info.name.replace('.', '/')}.py:{attr}", "parameters": _schema(schema)}
    return dict(sorted(found.items()))


def compute() -> dict[str, Any]:
    return {"commands": commands(), "model_flags": model_flags(), "flows": flows()}


def dumps(surface: dict[str, Any]) -> str:
    return json.dumps(surface, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def diff(expected: str, actual: str) -> str:
    return "".join(difflib.unified_diff(expected.splitlines(keepends=True), actual.splitlines(keepends=True),
                                        fromfile=str(SURFACE_JSON), tofile="current surface", n=4))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.surface.surface", description=__doc__.split("\n")[0])
    ap.add_argument("--write", action="store_true", help=f"write the current surface to {SURFACE_JSON}")
    args = ap.parse_args(argv)
    text = dumps(compute())
    if args.write:
        SURFACE_JSON.write_text(text, encoding="utf-8")
        print(f"wrote {SURFACE_JSON}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
