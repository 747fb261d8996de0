"""The dashboard's HTTP server (stdlib ``http.server``, one thread per request).

Routes: ``/`` (run index; the run itself when there is only one), ``/run?name=REL``,
``/manifest?path=ABS`` (only inside the served folder), ``/healthz``.

    server = DashboardServer(Path("runs/demo"), port=0).start()   # background thread
    print(server.url); ...; server.stop()
"""

from __future__ import annotations

import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from flows.dashboard import page
from flows.dashboard.collect import find_runs


class _Handler(BaseHTTPRequestHandler):
    root: Path  # set on the subclass made per server

    def log_message(self, format: str, *args: object) -> None:  # quiet: the CLI prints the address
        pass

    def _send(self, status: int, body: str, ctype: str = "text/html; charset=utf-8") -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        url = urlparse(self.path)
        query = parse_qs(url.query)
        try:
            if url.path == "/healthz":
                return self._send(200, "ok", "text/plain")
            if url.path == "/favicon.ico":
                self.send_response(HTTPStatus.NO_CONTENT)
                self.end_headers()
                return None
            if url.path == "/":
                runs = find_runs(self.root)
                body = page.run_page(runs[0]) if len(runs) == 1 else page.index_page(str(self.root), runs)
                return self._send(200, body)
            if url.path == "/run":
                name = query.get("name", ["."])[0]
                for run in find_runs(self.root):
                    if run.name == name:
                        return self._send(200, page.run_page(run))
                return self._send(404, page.page("not found", f"<p>no run {page.esc(name)}</p>"))
            if url.path == "/manifest":
                target = Path(query.get("path", [""])[0]).resolve()
                if not target.is_relative_to(self.root) or not (target / "manifest.json").is_file():
                    return self._send(404, page.page("not found", "<p>no manifest there</p>"))
                data = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
                return self._send(200, page.manifest_page(str(target), data))
            return self._send(404, page.page("not found", f"<p>no page {page.esc(url.path)}</p>"))
        except Exception as e:  # one bad dataset must not take the dashboard down
            return self._send(500, page.page("error", f'<p class="err">{page.esc(type(e).__name__)}: {page.esc(e)}</p>'))


class DashboardServer:
    """Serve the dashboard of ``root`` on ``host:port`` (port 0: any free port)."""

    def __init__(self, root: Path, host: str = "127.0.0.1", port: int = 8765) -> None:
        handler = type("DashboardHandler", (_Handler,), {"root": Path(root).resolve()})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "DashboardServer":
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="dashboard", daemon=True)
        self.thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
