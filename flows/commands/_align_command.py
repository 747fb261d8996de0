"""Shared pieces of the sft / dpo / eval / export-hf commands: ``--set key=value`` overrides and running
the flow (or, with ``--no-prefect``, the stage driver directly) with clear errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer


def apply_overrides(cfg: Any, pairs: list[str]) -> Any:
    """``cfg`` with ``--set KEY=VALUE`` overrides, through the one config parser (``tasks.config.parse``).

    VALUE is read as YAML reads it (``16``, ``1e-5``, ``true``) and then checked strictly against the
    field's type; a field of type ``str`` keeps the text as given (``--set system_prompt=42``). An
    unknown KEY is an error that names the closest field and lists them all.
    """
    from tasks.config import ConfigError, load_scalar, parse

    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise typer.BadParameter(f"--set {pair!r}: expected KEY=VALUE")
        try:
            cfg = parse(type(cfg), {key: load_scalar(raw)}, base=cfg)
        except ConfigError as e:
            try:  # a str field given text that YAML reads as a number or a boolean
                cfg = parse(type(cfg), {key: raw}, base=cfg)
            except ConfigError:
                raise typer.BadParameter(f"--set {pair!r}: {e}") from e
    return cfg


def run_stage(direct: Callable[[], Any], flow_call: Callable[[], Any], no_prefect: bool) -> Any:
    try:
        return direct() if no_prefect else flow_call().result()
    except (ValueError, FileNotFoundError, FloatingPointError, RuntimeError) as e:  # bad input/config: message, exit 2
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
