"""``longterm plan``: DeepSeek scaling-law hyperparameters for a compute budget or a model + token budget.

    longterm plan --compute 1e21
    longterm plan --model deepseek-7b --tokens 2e12 --json
"""

from __future__ import annotations

import json

import typer


def register(app: typer.Typer) -> None:
    @app.command("plan")
    def plan(
        compute: float = typer.Option(None, "--compute", help="compute budget C in FLOPs"),
        model: str = typer.Option(None, "--model", help="model preset (with --tokens)"),
        tokens: float = typer.Option(None, "--tokens", help="training tokens D (with --model)"),
        seq_len: int = typer.Option(None, "--seq-len", help="sequence length (default: the preset's, or 4096)"),
        laws: str = typer.Option(None, "--laws", help="coefficients JSON (default configs/scaling_laws.json)"),
        as_json: bool = typer.Option(False, "--json", help="emit JSON"),
    ) -> None:
        """Optimal batch size, learning rate and model/data allocation (DeepSeek LLM scaling laws)."""
        from model.scaling import load_laws
        from model.scaling import plan as make_plan

        try:
            p = make_plan(compute=compute, model=model, tokens=tokens, seq_len=seq_len, laws=load_laws(laws))
        except ValueError as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from e
        typer.echo(json.dumps(p.to_dict(), indent=2) if as_json else p.summary())
