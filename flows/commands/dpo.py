"""``longterm dpo``: Direct Preference Optimization through Prefect (or directly with ``--no-prefect``).

    longterm dpo --init runs/sft --data ../shared/data/pref_hh_rlhf/harmless-base_test.jsonl.gz --tokenizer runs/tokenizer --out runs/dpo
    longterm dpo --init runs/sft --data prefs.jsonl --tokenizer runs/tokenizer --out runs/dpo --beta 0.1 --set grad_accum=16
"""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("dpo")
    def dpo(
        init: str = typer.Option(..., "--init", help="SFT checkpoint or run dir (policy start and reference)"),
        data: str = typer.Option(..., "--data", help="preference JSONL {prompt|messages, chosen, rejected} or HH-RLHF"),
        tokenizer: str = typer.Option("", "--tokenizer", help="tokenizer directory (default: the one the checkpoint was trained with)"),
        out: str = typer.Option(..., "--out", help="run directory; rerun to resume"),
        beta: float = typer.Option(0.1, "--beta"),
        lr: float = typer.Option(5e-6, "--lr"),
        epochs: float = typer.Option(1.0, "--epochs"),
        max_steps: int = typer.Option(0, "--max-steps"),
        nproc: int = typer.Option(1, "--nproc"),
        overrides: list[str] = typer.Option([], "--set", help="any DPOConfig field: --set batch_size=4 (repeatable)"),
        no_prefect: bool = typer.Option(False, "--no-prefect"),
    ) -> None:
        """Preference-tune a chat model with the sigmoid DPO loss (reference log-probs precomputed)."""
        from flows.commands._align_command import apply_overrides, run_stage
        from model.dpo import DPOConfig
        from tasks.dpo import run_dpo

        cfg = apply_overrides(DPOConfig(init=init, data=data, tokenizer=tokenizer, out=out, beta=beta, lr=lr, epochs=epochs,
                                        max_steps=max_steps), overrides)

        def flow_call():
            from flows.align import dpo_flow

            return dpo_flow(cfg.init, cfg.out, cfg.data, cfg.tokenizer, cfg, nproc, return_state=True)

        typer.echo(run_stage(lambda: run_dpo(cfg, nproc=nproc), flow_call, no_prefect))
