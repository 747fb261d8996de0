"""``longterm scaling-study``: fit scaling laws from a grid of small pretrain runs (YAML or JSON config of
``tasks.scaling_study.StudyConfig``).

    longterm scaling-study --config configs/scaling_study_micro.yaml
    longterm scaling-study --config configs/scaling_study_micro.yaml --no-prefect --out runs/study2
"""

from __future__ import annotations

import json
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("scaling-study")
    def scaling_study(
        config: str = typer.Option(..., "--config", help="YAML/JSON StudyConfig (see configs/scaling_study_micro.yaml)"),
        out: str = typer.Option(None, "--out", help="override the config's output directory"),
        executor: str = typer.Option("ray", "--executor", help="ray (parallel runs) or local (one after another, in-process)"),
        install_laws: str = typer.Option(None, "--install-laws", help="write this variant's fitted laws to configs/scaling_laws.json"),
        no_prefect: bool = typer.Option(False, "--no-prefect", help="run directly, without a Prefect flow run"),
    ) -> None:
        """Scaling-law study: batch/lr grids and IsoFLOP profiles per budget, fits, loss prediction, plots."""
        from tasks.scaling_study import load_study_config

        try:
            cfg = load_study_config(config, out=out, install_laws=install_laws)
            if no_prefect:
                from tasks.scaling_study import run_scaling_study

                run_scaling_study(cfg, executor=executor)
                report_path = str(Path(cfg.out) / "report.json")
            else:
                from flows.scaling_study import scaling_study_flow

                report_path = scaling_study_flow(cfg, executor, return_state=True).result()
        except ValueError as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from e
        report = json.loads(Path(report_path).read_text())
        for variant, c in report["comparison"].items():
            typer.echo(f"{variant}: " + ("allocation not fitted" if not c else f"a = {c['a']:.3f}, b = {c['b']:.3f}"))
        typer.echo(report_path)
