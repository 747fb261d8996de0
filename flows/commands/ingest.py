"""``longterm ingest INPUT... --out DIR``: run the ingest stage (as a Prefect flow by default).

    longterm ingest runs/demo-crawl --out runs/ingest
    longterm ingest 'crawl/*.warc.gz' dump.jsonl.zst --out runs/ingest --source cc-2024-10
    longterm ingest data/ --out runs/ingest --no-prefect --config configs/ingest.yaml
"""

from __future__ import annotations

import json

import typer


def register(app: typer.Typer) -> None:
    @app.command("ingest")
    def ingest(
        inputs: list[str] = typer.Argument(..., help="files, directories (recursive) or globs: .jsonl[.gz|.zst], .json.gz, .parquet, .warc[.gz], .wet.gz, .html[.gz]"),
        out: str = typer.Option(..., "--out", help="output root; the version is written to OUT/ingest-<key>/"),
        source: str = typer.Option(None, "--source", help="source name for records without a dump/source field (default: parent directory name)"),
        ray_address: str = typer.Option(None, "--ray-address", help="join this Ray cluster (default: RAY_ADDRESS or a new local cluster)"),
        no_prefect: bool = typer.Option(False, "--no-prefect", help="run the stage directly, without a Prefect flow run"),
        config: str = typer.Option(None, "--config", help="YAML/JSON file with IngestConfig fields"),
        force: bool = typer.Option(False, "--force", help="recompute even when a version with the same inputs, config and code exists"),
    ) -> None:
        """Read raw crawl files into a normalised, checksummed documents dataset."""
        from storage import open_dataset
        from tasks.config import parse
        from tasks.ingest import IngestConfig, run_ingest

        try:
            cfg = parse(IngestConfig, config)
        except ValueError as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from e
        flow_run = None
        try:
            if no_prefect:
                uri = run_ingest(list(inputs), out, cfg, source=source, executor="ray", ray_address=ray_address, force=force)
            else:
                from flows.ingest import ingest_flow

                state = ingest_flow(list(inputs), out, source=source, config=cfg, ray_address=ray_address, force=force,
                                    return_state=True)
                uri = state.result()
                flow_run = _flow_run_label(state)
        except ValueError as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from e
        m = open_dataset(uri).manifest
        typer.echo(uri)
        typer.echo(f"counts {json.dumps(m.counts.to_dict())}")
        if flow_run:
            typer.echo(f"prefect flow run {flow_run}")


def _flow_run_label(state) -> str | None:
    flow_run_id = state.state_details.flow_run_id
    if flow_run_id is None:
        return None
    try:
        from prefect.client.orchestration import get_client

        with get_client(sync_client=True) as client:
            name = client.read_flow_run(flow_run_id).name
        return f"{name} ({flow_run_id})"
    except Exception:  # noqa: BLE001 - the label is informational only
        return str(flow_run_id)
