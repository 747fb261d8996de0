"""``longterm filter IN --out DIR [--config FILE] [--no-prefect]``: language ID + quality filters."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("filter")
    def filter_command(
        input_uri: str = typer.Argument(..., help="documents dataset (an ingest --out or one version in it)"),
        out: str = typer.Option(..., "--out", help="output root; the version goes to OUT/filter-<key>/"),
        config: str = typer.Option(None, "--config", help="YAML/JSON file with FilterConfig overrides"),
        no_prefect: bool = typer.Option(False, "--no-prefect", help="run the stage directly, without Prefect"),
        ray_address: str = typer.Option(None, "--ray-address", help="join this Ray cluster (default: local)"),
        force: bool = typer.Option(False, "--force", help="recompute even when a version with the same inputs, config and code exists"),
    ) -> None:
        """Keep en/zh documents that pass Gopher, C4 and FineWeb rules; drops go to dropped/ with a reason."""
        from storage import DatasetError, open_dataset
        from tasks.config import parse
        from tasks.filter import FilterConfig, run_filter

        try:
            cfg = parse(FilterConfig, config)
            if no_prefect:
                uri = run_filter(input_uri, out, cfg, ray_address=ray_address, force=force)
            else:
                from flows.filter import filter_flow

                uri = filter_flow(input_uri, out, cfg, ray_address, force=force)
        except (DatasetError, ValueError, FileNotFoundError) as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from e
        c = open_dataset(uri).manifest.counts
        typer.echo(f"{uri}\n  input {c.input}, kept {c.kept}, dropped {c.dropped_total}, quarantined {c.quarantined}")
        for reason, n in sorted(c.dropped.items(), key=lambda kv: -kv[1]):
            typer.echo(f"    {reason}: {n}")
