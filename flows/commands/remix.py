"""``longterm remix IN --out DIR --config FILE``: resample documents to target domain-group proportions.

    longterm remix runs/dedup --out runs/remix --config configs/remix.yaml
    longterm remix runs/dedup --out runs/remix --config configs/remix.yaml --no-prefect
"""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("remix")
    def remix(
        input_uri: str = typer.Argument(..., help="documents dataset (e.g. the dedup output)"),
        out: str = typer.Option(..., "--out", help="output root; the version goes to OUT/remix-<key>/"),
        config: str = typer.Option(..., "--config", help="YAML/JSON remix config (targets, groups, max_repeats; docs/tokens.md)"),
        ray_address: str = typer.Option(None, "--ray-address", help="join this Ray cluster (default: RAY_ADDRESS or a new local one)"),
        no_prefect: bool = typer.Option(False, "--no-prefect", help="run directly, without a Prefect flow run"),
        force: bool = typer.Option(False, "--force", help="recompute even when a version with the same inputs, config and code exists"),
    ) -> None:
        """Label documents by language and domain group, then down/upsample to the configured shares."""
        from flows.commands._stage_command import run_and_report
        from tasks.config import parse
        from tasks.ops.remix import RemixConfig
        from tasks.remix import run_remix

        try:
            cfg = parse(RemixConfig, config)
        except ValueError as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from e

        def flow_call():
            from flows.remix import remix_flow

            return remix_flow(input_uri, out, cfg, ray_address, force=force, return_state=True)

        run_and_report(lambda: run_remix(input_uri, out, cfg, executor="ray", ray_address=ray_address, force=force), flow_call, no_prefect)
