"""``longterm show DATASET`` and ``longterm version``: inspect datasets from the shell."""

from __future__ import annotations

import json

import typer


def register(app: typer.Typer) -> None:
    @app.command("show")
    def show(
        dataset: str = typer.Argument(..., help="dataset directory or URI (a stage --out or one version in it)"),
        verify: bool = typer.Option(False, "--verify", help="also check every shard's sha256"),
        as_json: bool = typer.Option(False, "--json", help="print the whole manifest as JSON"),
    ) -> None:
        """Print a dataset's manifest summary (counts, shards, inputs)."""
        from storage import DatasetError, open_dataset

        try:
            ds = open_dataset(dataset)
            if verify:
                ds.verify()
        except DatasetError as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from e
        m = ds.manifest
        if as_json:
            typer.echo(m.to_json())
            return
        typer.echo(f"{ds.uri}\n  kind {m.kind}, stage {m.stage}, key {m.key}, code {m.code_version}")
        typer.echo(f"  counts {json.dumps(m.counts.to_dict())}")
        typer.echo(f"  shards {len(m.shards)}, {sum(s.bytes for s in m.shards):,} bytes" + (", verified" if verify else ""))

    @app.command("version")
    def version() -> None:
        """Print the code version recorded in manifests."""
        from storage import code_version

        typer.echo(code_version())
