"""Shared pieces of the sft / dpo / eval / export-hf commands: ``--set key=value`` overrides and running
the flow (or, with ``--no-prefect``, the stage driver directly) with clear errors."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import typer


def apply_overrides(cfg: Any, pairs: list[str]) -> Any:
    """Return ``cfg`` with ``KEY=VALUE`` overrides, converted to each field's type; unknown keys are errors."""
    fields = {f.name: f for f in dataclasses.fields(cfg)}
    changes: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in fields:
            raise typer.BadParameter(f"--set {pair!r}: expected KEY=VALUE with KEY one of {sorted(fields)}")
        typ = str(fields[key].type)
        try:
            if typ == "bool":
                value: Any = raw.lower() in ("1", "true", "yes", "on")
            elif typ == "int":
                value = int(raw)
            elif typ == "float":
                value = float(raw)
            else:
                value = raw
        except ValueError as e:
            raise typer.BadParameter(f"--set {pair!r}: {key} needs a {typ}") from e
        changes[key] = value
    return dataclasses.replace(cfg, **changes)


def run_stage(direct: Callable[[], Any], flow_call: Callable[[], Any], no_prefect: bool) -> Any:
    try:
        return direct() if no_prefect else flow_call().result()
    except (ValueError, FileNotFoundError, FloatingPointError, RuntimeError) as e:  # bad input/config: message, exit 2
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
