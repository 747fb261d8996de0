"""``longterm dedup IN... --out DIR [--config FILE] [--index INDEX] [--no-prefect]``."""

from __future__ import annotations

import json

import typer


def register(app: typer.Typer) -> None:
    @app.command("dedup")
    def dedup(
        inputs: list[str] = typer.Argument(..., help="document datasets (e.g. one per dump), deduplicated together"),
        out: str = typer.Option(..., "--out", help="output root: OUT/dedup-<key>/"),
        config: str | None = typer.Option(None, "--config", help="JSON or YAML file with DedupConfig fields"),
        index: str | None = typer.Option(None, "--index", help="append-only dedup index to deduplicate against and append to "
                                         "(default: a fresh one at OUT/index/dedup-<key>)"),
        executor: str = typer.Option("ray", "--executor", help="ray | local"),
        no_prefect: bool = typer.Option(False, "--no-prefect", help="call the stage directly, without a Prefect flow run"),
        force: bool = typer.Option(False, "--force", help="recompute even when a version with the same inputs, config and code exists"),
    ) -> None:
        """Exact, URL and MinHash near-duplicate removal across all inputs (and an earlier index)."""
        from storage import DatasetError, open_dataset
        from tasks.config import parse
        from tasks.dedup import DedupConfig, run_dedup

        try:
            cfg = parse(DedupConfig, config)
            if no_prefect:
                uri = run_dedup(inputs, out, cfg, index=index, executor=executor, force=force)
            else:
                from flows.deduplicate import dedup_flow

                uri = dedup_flow(inputs, out, cfg, index=index, executor=executor, force=force)
        except (DatasetError, ValueError) as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from e
        m = open_dataset(uri).manifest
        typer.echo(uri)
        typer.echo(f"  counts {json.dumps(m.counts.to_dict())}")
        for r in m.stats.get("dedup_by_dumps", []):
            typer.echo(f"  across {r['dumps']} dump(s): {r['removed']:,} of {r['documents']:,} removed ({r['removed_pct']}%)")
        typer.echo(f"  index {m.stats.get('index')}")
