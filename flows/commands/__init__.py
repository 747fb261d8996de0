"""CLI command modules. Each module defines ``register(app: typer.Typer) -> None``; ``flows.cli``
discovers them all, so adding a stage's command never edits a shared file."""
