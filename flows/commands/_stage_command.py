"""Shared tail of the token-stage commands: run the flow (or the driver), print the URI and counts."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import typer


def run_and_report(direct: Callable[[], str], flow_call: Callable[[], Any], no_prefect: bool) -> str:
    """Call ``direct()`` with ``--no-prefect``, else ``flow_call()`` (a flow called with return_state=True)."""
    from storage import open_dataset

    try:
        uri = direct() if no_prefect else flow_call().result()
    except ValueError as e:  # bad input or config (storage.DatasetError included): message, exit code 2
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    m = open_dataset(uri).manifest
    typer.echo(uri)
    typer.echo(f"counts {json.dumps(m.counts.to_dict())}")
    return uri
