"""``longterm sft``: supervised fine-tuning through Prefect (or directly with ``--no-prefect``).

    longterm sft --init runs/pretrain --data chat.jsonl --tokenizer runs/tokenizer --out runs/sft
    longterm sft --init runs/pretrain --data chat.jsonl --tokenizer runs/tokenizer --out runs/sft --epochs 4 --lr 1e-5 --set batch_size=16
"""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("sft")
    def sft(
        init: str = typer.Option(..., "--init", help="checkpoint or run dir to start from"),
        data: str = typer.Option(..., "--data", help="conversations JSONL (messages / ShareGPT / Alpaca / Self-Instruct)"),
        tokenizer: str = typer.Option("", "--tokenizer", help="tokenizer directory (default: the one the checkpoint was trained with)"),
        out: str = typer.Option(..., "--out", help="run directory (checkpoints/, metrics.jsonl); rerun to resume"),
        epochs: float = typer.Option(2.0, "--epochs"),
        lr: float = typer.Option(1e-5, "--lr"),
        max_steps: int = typer.Option(0, "--max-steps", help="> 0 overrides --epochs"),
        nproc: int = typer.Option(1, "--nproc", help="GPUs on this node (torchrun); 1 = in-process"),
        overrides: list[str] = typer.Option([], "--set", help="any SFTConfig field: --set batch_size=16 (repeatable)"),
        no_prefect: bool = typer.Option(False, "--no-prefect", help="run directly, without a Prefect flow run"),
    ) -> None:
        """Fine-tune on chat conversations (loss on assistant tokens, packed with segment ids)."""
        from flows.commands._align_command import apply_overrides, run_stage
        from model.sft import SFTConfig
        from tasks.sft import run_sft

        cfg = apply_overrides(SFTConfig(init=init, data=data, tokenizer=tokenizer, out=out, epochs=epochs, lr=lr, max_steps=max_steps), overrides)

        def flow_call():
            from flows.align import sft_flow

            return sft_flow(cfg.init, cfg.out, cfg.data, cfg.tokenizer, cfg, nproc, return_state=True)

        typer.echo(run_stage(lambda: run_sft(cfg, nproc=nproc), flow_call, no_prefect))
