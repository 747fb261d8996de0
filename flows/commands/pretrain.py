"""``longterm pretrain``: train a model on a token dataset (every flag of ``python -m model.pretrain``).

    longterm pretrain --data runs/tokens --preset tiny --out runs/pretrain-tiny
    longterm pretrain --data runs/tokens --preset 1b --out runs/pretrain-1b --nproc 8
    longterm pretrain --data runs/tokens --preset tiny --out runs/ext --extend-from runs/pretrain-tiny --tokens 4e6 --no-prefect
"""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("pretrain", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
    def pretrain(
        ctx: typer.Context,
        nproc: int = typer.Option(1, "--nproc", help="processes (GPUs); > 1 launches torchrun with FSDP2"),
        no_prefect: bool = typer.Option(False, "--no-prefect", help="run directly, without a Prefect flow run"),
    ) -> None:
        """Pretrain (DeepSeek recipe: scaling-law batch/lr, multi-step schedule). Training flags are those of
        `python -m model.pretrain --help`: --data, --preset, --out, --tokens, --steps, --batch-size, --lr, ..."""
        from model.flags import from_flags
        from model.pretrain import TrainConfig
        from tasks.pretrain import run_pretrain

        cfg = from_flags(TrainConfig, ctx.args, prog="longterm pretrain")
        try:
            if no_prefect:
                ckpt = run_pretrain(cfg, nproc=nproc)
            else:
                from flows.pretrain import pretrain_flow

                ckpt = pretrain_flow(cfg.data, cfg.out, cfg.preset, cfg, nproc, return_state=True).result()
        except (ValueError, MemoryError, FloatingPointError) as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from e
        typer.echo(ckpt)
