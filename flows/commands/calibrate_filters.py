"""``longterm calibrate-filters --clean SPEC... --junk SPEC... --out FILE``: per-language filter thresholds.

    longterm demo-data runs/demo-crawl
    longterm calibrate-filters --clean demo:runs/demo-crawl --clean reference:../shared/data \\
        --junk demo:runs/demo-crawl --out runs/filter_calibrated.yaml
    longterm filter runs/ingest --out runs/filter --config runs/filter_calibrated.yaml

SPEC: ``demo:DIR`` (a demo crawl: clean or junk pages by its ground truth), ``reference:DIR`` (the real
clean texts of ../shared/data) or a JSONL(.gz) file with ``text`` and ``lang``. Writes FILE (the changed
thresholds, a ``FilterConfig`` override) and FILE.report.json; prints the keep / drop table, measured on
the half of each sample the thresholds were not fitted on (tasks/filter_calibration.py).
"""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("calibrate-filters")
    def calibrate_filters_command(
        clean: list[str] = typer.Option(..., "--clean", help="clean sample: demo:DIR, reference:DIR or a JSONL(.gz) file (repeatable)"),
        junk: list[str] = typer.Option(..., "--junk", help="junk sample: demo:DIR or a JSONL(.gz) file (repeatable)"),
        out: str = typer.Option(..., "--out", help="filter config (YAML) to write; the report goes to OUT.report.json"),
        base: str = typer.Option(None, "--base", help="FilterConfig overrides (YAML/JSON) to start from; default: the defaults"),
        drop_budget: float = typer.Option(0.005, "--drop-budget", help="share of a language's clean documents each rule may drop"),
        junk_target: float = typer.Option(0.95, "--junk-target", help="share of a language's junk that must stay dropped"),
        holdout: bool = typer.Option(True, "--holdout/--no-holdout", help="fit on half of each sample, report on the other half"),
        lid_tighten: bool = typer.Option(False, "--lid-tighten", help="apply the language-ID median - sigma even where it is stricter"),
    ) -> None:
        """Fit per-language filter thresholds on a clean sample (FineWeb-2 style), checked on a junk sample."""
        from tasks.filter_calibration import format_report, run_calibration
        from tasks.ops.filter_calibration import CalibrationConfig

        try:
            report = run_calibration(list(clean), list(junk), out, base=base, holdout=holdout,
                                     calibration=CalibrationConfig(drop_budget=drop_budget, junk_target=junk_target,
                                                                             lid_tighten=lid_tighten))
        except (ValueError, FileNotFoundError) as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from e
        typer.echo(f"{out}: fitted on {report['fit_documents']} clean / {report['junk_fit_documents']} junk documents; "
                   f"measured on {report['eval_documents']} clean / {report['junk_eval_documents']} junk")
        typer.echo(format_report(report))
