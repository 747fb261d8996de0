"""``longterm serve``: a local Prefect server with the project's deployments and a worker.

    longterm serve                         # UI on http://127.0.0.1:4200, PREFECT_HOME=runs/serve/prefect
    longterm serve --port 4300 --only smoke --only ingest
    longterm serve --no-worker             # deploy only; start workers yourself (docker compose, other hosts)

    longterm deploy --api-url http://prefect-server:4200/api    # deployments only, against a running server

Ctrl-C (or SIGTERM) stops the worker first (SIGINT), then the server.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        run_dir: Path = typer.Option(Path("runs/serve"), "--run-dir", help="PREFECT_HOME and logs go under RUN_DIR/prefect"),
        host: str = typer.Option("127.0.0.1", "--host", help="address to bind (keep loopback unless you mean it)"),
        port: int = typer.Option(4200, "--port", help="UI/API port (0: any free port)"),
        pool: str = typer.Option("longterm-process", "--pool", help="process work pool to create and serve"),
        only: list[str] = typer.Option([], "--only", help="deploy only these deployments (repeatable)"),
        worker: bool = typer.Option(True, "--worker/--no-worker", help="start a process worker on the pool"),
        limit: int = typer.Option(2, "--limit", help="flow runs the worker runs at once"),
        dashboard: Path = typer.Option(Path("runs"), "--dashboard", help="also serve the data-quality dashboard of this folder"),
        dashboard_port: int = typer.Option(8765, "--dashboard-port", help="dashboard port (0: any free port; -1: no dashboard)"),
    ) -> None:
        """Start Prefect (server, work pool, deployments from prefect.yaml, worker) and wait for Ctrl-C."""
        from flows.serve import PrefectServer, PrefectWorker, deploy_project, ensure_work_pool

        def interrupt(signum: int, frame: object) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGINT, interrupt)  # also when started in the background (SIGINT ignored)
        signal.signal(signal.SIGTERM, interrupt)
        home = (run_dir / "prefect").resolve()
        server = PrefectServer(home=home, host=host, port=port)
        typer.echo(f"starting Prefect server (PREFECT_HOME={home}) ...")
        wk = None
        board = None
        try:
            server.start()
            ensure_work_pool(server.api_url, pool)
            deployed, skipped = deploy_project(server.api_url, pool, only=only or None)
            for name in deployed:
                typer.echo(f"  deployed   {name}")
            for name, why in skipped.items():
                typer.echo(f"  not yet    {name}: {why}")
            if worker:
                wk = PrefectWorker(server.api_url, pool, home=home, limit=limit).start()
                typer.echo(f"worker on pool {pool!r} (log {wk.log_path})")
            typer.echo(f"\nPrefect UI:  {server.ui_url}\nAPI:         {server.api_url}")
            typer.echo(f"use it from a shell:  export PREFECT_API_URL={server.api_url}")
            if dashboard_port >= 0:
                from flows.dashboard.server import DashboardServer

                dashboard.mkdir(parents=True, exist_ok=True)
                board = DashboardServer(dashboard, host=host, port=dashboard_port).start()
                typer.echo(f"dashboard:   {board.url}  (runs under {dashboard.resolve()})")
            typer.echo("Ctrl-C to stop.")
            while True:
                if wk is not None and not wk.alive():
                    typer.echo(f"worker exited; see {wk.log_path}", err=True)
                    raise typer.Exit(1)
                time.sleep(1.0)
        except KeyboardInterrupt:
            typer.echo("stopping ...")
        finally:
            if board is not None:
                board.stop()
            if wk is not None:
                wk.stop()  # before the server: a worker without its server ignores SIGTERM
            server.stop()

    @app.command("deploy")
    def deploy(
        api_url: str = typer.Option(..., "--api-url", envvar="PREFECT_API_URL", help="Prefect API of a running server"),
        pool: str = typer.Option("longterm-process", "--pool", help="process work pool to create and deploy to"),
        only: list[str] = typer.Option([], "--only", help="deploy only these deployments (repeatable)"),
    ) -> None:
        """Create the work pool and the deployments of prefect.yaml on a running server (skips stages not yet present)."""
        from flows.serve import deploy_project, ensure_work_pool

        ensure_work_pool(api_url, pool)
        deployed, skipped = deploy_project(api_url, pool, only=only or None)
        for name in deployed:
            typer.echo(f"  deployed   {name}")
        for name, why in skipped.items():
            typer.echo(f"  not yet    {name}: {why}")
