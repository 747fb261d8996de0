"""``longterm tokenize IN --tokenizer DIR --out DIR``: documents -> memory-mappable token shards.

    longterm tokenize runs/remix --tokenizer runs/tokenizer --out runs/tokens
    longterm tokenize runs/remix --tokenizer runs/tokenizer --out runs/tokens --val-fraction 0.05 --no-prefect
"""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("tokenize")
    def tokenize(
        input_uri: str = typer.Argument(..., help="documents dataset"),
        tokenizer: str = typer.Option(..., "--tokenizer", help="tokenizer directory (longterm train-tokenizer --out)"),
        out: str = typer.Option(..., "--out", help="output root; the version goes to OUT/tokenize-<key>/"),
        val_fraction: float = typer.Option(0.01, "--val-fraction", help="share of documents (by id hash) in validation"),
        split_seed: int = typer.Option(0, "--split-seed", help="seed of the train/validation hash split"),
        ray_address: str = typer.Option(None, "--ray-address", help="join this Ray cluster (default: RAY_ADDRESS or a new local one)"),
        no_prefect: bool = typer.Option(False, "--no-prefect", help="run directly, without a Prefect flow run"),
        force: bool = typer.Option(False, "--force", help="recompute even when a version with the same inputs, config and code exists"),
    ) -> None:
        """Tokenize documents into Arrow IPC token shards (train, per-language val) with EOS after each document."""
        from flows.commands._stage_command import run_and_report
        from tasks.ops.tokenize import TokenizeConfig
        from tasks.tokenize import run_tokenize

        cfg = TokenizeConfig(val_fraction=val_fraction, split_seed=split_seed)

        def flow_call():
            from flows.tokenize import tokenize_flow

            return tokenize_flow(input_uri, tokenizer, out, cfg, ray_address, force=force, return_state=True)

        run_and_report(lambda: run_tokenize(input_uri, tokenizer, out, cfg, executor="ray", ray_address=ray_address, force=force),
                       flow_call, no_prefect)
