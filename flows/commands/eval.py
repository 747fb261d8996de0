"""``longterm eval CKPT --tasks ...``: the bilingual eval suite through Prefect (or ``--no-prefect``).

    longterm eval runs/sft --tasks mmlu,gsm8k,humaneval --out runs/eval --limit 20
    longterm eval runs/sft --tasks "bpb=runs/tokens,mc:ceval=ceval_val.jsonl" --out runs/eval
    longterm eval runs/sft --tasks mmlu --system-prompt "You are a helpful assistant." --out runs/eval

Task specs and metrics: ``model/evaluate.py``.
"""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("eval")
    def eval_(
        checkpoint: str = typer.Argument(..., help="checkpoint or run dir"),
        tasks: str = typer.Option(..., "--tasks", help="comma-separated: bpb=URI, mmlu[=DIR], hellaswag=FILE, mc:NAME=FILE, gsm8k[=FILE], humaneval[=FILE]"),
        out: str = typer.Option(..., "--out", help="directory for results.json and samples/"),
        tokenizer: str = typer.Option("", "--tokenizer", help="default: the tokenizer recorded in the checkpoint"),
        data_root: str = typer.Option("../shared/data", "--data-root", help="where default task files live"),
        limit: int = typer.Option(0, "--limit", help="items per task (per subject for MMLU); 0 = all"),
        batch_size: int = typer.Option(8, "--batch-size"),
        chat: bool = typer.Option(False, "--chat", help="wrap prompts in the chat template"),
        system_prompt: str = typer.Option("", "--system-prompt", help="evaluate chat without and with this system message"),
        allow_weak_sandbox: bool = typer.Option(False, "--allow-weak-sandbox",
                                                help="run HumanEval code even where the network namespace, Landlock or seccomp is unavailable (results record the layers in effect)"),
        overrides: list[str] = typer.Option([], "--set", help="any EvalConfig field, e.g. --set mmlu_fewshot=0"),
        no_prefect: bool = typer.Option(False, "--no-prefect"),
    ) -> None:
        """Evaluate a checkpoint: bits per byte, multiple choice, GSM8K, HumanEval (sandboxed)."""
        from flows.commands._align_command import apply_overrides, run_stage
        from model.evaluate import EvalConfig
        from tasks.evaluate import run_eval

        cfg = apply_overrides(EvalConfig(checkpoint=checkpoint, tasks=[tasks], out=out, tokenizer=tokenizer, data_root=data_root,
                                         limit=limit, batch_size=batch_size, chat=chat, system_prompt=system_prompt,
                                         allow_weak_sandbox=allow_weak_sandbox), overrides)

        def flow_call():
            from flows.align import eval_flow

            return eval_flow(cfg.checkpoint, cfg.out, ",".join(cfg.tasks), cfg.tokenizer, cfg, return_state=True)

        doc = run_stage(lambda: run_eval(cfg), flow_call, no_prefect)
        for row in doc["table"]:
            typer.echo("  ".join(f"{k}={v}" for k, v in row.items()))
        typer.echo(f"{out}/results.json")
