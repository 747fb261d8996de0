"""``longterm export-hf CKPT OUT``: a checkpoint as a Hugging Face ``LlamaForCausalLM`` + tokenizer.

    longterm export-hf runs/dpo runs/hf
    longterm export-hf runs/dpo runs/hf --tokenizer runs/tokenizer --dtype bfloat16 --no-prefect
"""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("export-hf")
    def export_hf(
        checkpoint: str = typer.Argument(..., help="checkpoint or run dir"),
        out: str = typer.Argument(..., help="export directory (replaced)"),
        tokenizer: str = typer.Option("", "--tokenizer", help="default: the tokenizer recorded in the checkpoint"),
        dtype: str = typer.Option("float32", "--dtype", help="float32, bfloat16 or float16"),
        no_prefect: bool = typer.Option(False, "--no-prefect"),
    ) -> None:
        """Write config.json, model.safetensors, generation_config.json and tokenizer files for transformers."""
        from flows.commands._align_command import run_stage
        from tasks.evaluate import run_export_hf

        def flow_call():
            from flows.align import export_hf_flow

            return export_hf_flow(checkpoint, out, tokenizer, dtype, return_state=True)

        typer.echo(run_stage(lambda: run_export_hf(checkpoint, out, tokenizer, dtype), flow_call, no_prefect))
