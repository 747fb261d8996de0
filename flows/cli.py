"""The ``longterm`` command line.

    longterm --help
    longterm demo-data runs/demo-crawl
    longterm ingest runs/demo-crawl --out runs/ingest

Commands live in ``flows/commands/<name>.py`` (one module per stage, each with a
``register(app)`` function) and are discovered here.
"""

from __future__ import annotations

import importlib
import os
import pkgutil

import typer

import flows.commands

# Offline-friendly Prefect defaults (a user's own settings win): no telemetry, and a patient start of
# the ephemeral API server, which takes tens of seconds on a busy 2-core machine.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")

app = typer.Typer(
    name="longterm",
    help="Data-to-model pipeline: curate bilingual web data, tokenize, pretrain, SFT, DPO, evaluate.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _register_commands() -> None:
    for info in sorted(pkgutil.iter_modules(flows.commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"flows.commands.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


_register_commands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
