"""``longterm demo``: the whole pipeline on the built-in demo crawl, on a CPU (what ``make demo`` runs).

    longterm demo                      # runs/demo: crawl, curated datasets, tokens, checkpoints, eval
    longterm demo --docs 5000 --out runs/demo-5k
    longterm demo --no-server          # Prefect's ephemeral mode instead of a local server

It generates the demo crawl (once), starts a local Prefect server on 127.0.0.1 (its database under
``runs/serve/prefect``, the same one ``longterm serve`` uses, so the run stays visible there), runs the
``data-to-model`` flow against it, and prints where everything is. On a terminal it then keeps the
Prefect UI and the data-quality dashboard up until Ctrl-C.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        out: Path = typer.Option(Path("runs/demo"), "--out", help="run folder"),
        docs: int = typer.Option(2000, "--docs", help="pages in the generated demo crawl"),
        dumps: int = typer.Option(3, "--dumps", help="crawl dumps"),
        until: str = typer.Option("eval", "--until", help="stop after this stage"),
        server: bool = typer.Option(True, "--server/--no-server", help="run against a local Prefect server on loopback"),
        port: int = typer.Option(4200, "--port", help="Prefect UI/API port (0: any free port)"),
        dashboard_port: int = typer.Option(8765, "--dashboard-port", help="dashboard port (0: any free port)"),
        wait: bool | None = typer.Option(None, "--wait/--no-wait", help="keep the UI and dashboard up until Ctrl-C (default: on a terminal)"),
        force: list[str] = typer.Option([], "--force", help="recompute this stage even when its output exists (repeatable), e.g. --force filter"),
    ) -> None:
        """Generate the demo crawl and run ingest -> ... -> eval on it, end to end."""
        from tasks.demo_crawl import generate_demo_crawl

        crawl = out / "crawl"
        if not (crawl / "ground_truth.jsonl").is_file():
            typer.echo(f"generating the demo crawl ({docs} pages, {dumps} dumps) in {crawl} ...")
            generate_demo_crawl(str(crawl), num_docs=docs, num_dumps=dumps, seed=0)
        else:
            typer.echo(f"demo crawl: {crawl} (exists; delete it to regenerate)")

        prefect_server = None
        if server and not os.environ.get("PREFECT_API_URL"):
            from flows.serve import PrefectServer

            home = Path("runs/serve/prefect").resolve()
            prefect_server = PrefectServer(home=home, port=port)
            typer.echo(f"starting Prefect server on 127.0.0.1 (PREFECT_HOME={home}) ...")
            prefect_server.start()
            os.environ["PREFECT_API_URL"] = prefect_server.api_url
        try:
            from flows.data_to_model import data_to_model

            state = data_to_model(crawl=str(crawl), out=str(out), until=until, force=list(force), return_state=True)
            outputs = state.result()
            typer.echo("\noutputs:")
            reused = json.loads((out / "pipeline.json").read_text())["reused"]
            for stage, where in outputs.items():
                typer.echo(f"  {stage:16s} {where}{'  (reused)' if reused.get(stage) else ''}")
            if (out / "pipeline.json").is_file():
                typer.echo(f"  {'pipeline':16s} {out / 'pipeline.json'}")
            results = outputs.get("eval")
            if results and Path(results).is_file():
                typer.echo("\neval:")
                for task, metrics in json.loads(Path(results).read_text()).get("tasks", {}).items():
                    typer.echo(f"  {task:16s} " + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items() if isinstance(v, (int, float))))
            from flows.dashboard.server import DashboardServer

            board = DashboardServer(out.resolve(), port=dashboard_port).start()
            if prefect_server is not None:
                typer.echo(f"\nPrefect UI:  {prefect_server.ui_url}  (flow run {state.state_details.flow_run_id})")
            else:
                typer.echo(f"\nPrefect run: {state.state_details.flow_run_id} (ephemeral; `longterm serve` for a UI)")
            typer.echo(f"dashboard:   {board.url}")
            interactive = sys.stdin.isatty() and sys.stdout.isatty() if wait is None else wait
            if interactive:
                typer.echo("serving until Ctrl-C ...")
                try:
                    while True:
                        time.sleep(3600)
                except KeyboardInterrupt:
                    pass
            else:
                typer.echo(f"(not a terminal: stopping; reopen with `longterm serve` and `longterm dashboard {out}`)")
            board.stop()
        finally:
            if prefect_server is not None:
                try:
                    from prefect.logging.handlers import APILogWorker

                    APILogWorker.drain_all(timeout=10)  # send the run's last log lines before the server goes away
                finally:
                    prefect_server.stop()
