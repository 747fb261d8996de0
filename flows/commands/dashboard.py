"""``longterm dashboard [RUN_DIR]``: serve the data-quality dashboard of the runs under RUN_DIR."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("dashboard")
    def dashboard(
        run_dir: Path = typer.Argument(Path("runs"), help="folder holding runs (stage outputs with manifest.json)"),
        host: str = typer.Option("127.0.0.1", "--host", help="address to bind"),
        port: int = typer.Option(8765, "--port", help="port (0: any free port)"),
    ) -> None:
        """Serve funnels, mixtures, length histograms, dedup tables, curves and eval scores as a web page."""
        from flows.dashboard.server import DashboardServer

        if not run_dir.is_dir():
            typer.echo(f"error: {run_dir} is not a folder", err=True)
            raise typer.Exit(2)
        server = DashboardServer(run_dir, host=host, port=port)
        typer.echo(f"dashboard of {run_dir.resolve()}: {server.url}  (Ctrl-C to stop)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.httpd.server_close()
