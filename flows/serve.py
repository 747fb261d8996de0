"""Run the Prefect control plane locally: server, process work pool, deployments, worker.

``longterm serve`` (flows/commands/serve.py) is a thin CLI over this module::

    with PrefectServer(home=Path("runs/serve/prefect"), port=4200) as server:
        ensure_work_pool(server.api_url, "longterm-process")
        deployed, skipped = deploy_project(server.api_url, "longterm-process")
        with PrefectWorker(server.api_url, "longterm-process", home=server.home):
            ...                                   # open server.ui_url

The server binds 127.0.0.1 only, keeps its SQLite database under ``home`` (PREFECT_HOME) and
has analytics off. Deployments come from ``prefect.yaml``; those whose entrypoint does not
exist yet (a stage still being written) are skipped and reported, never fatal. Shutdown
stops the worker with SIGINT *before* the server (a worker whose server is gone ignores
SIGTERM for a long time), then the server, each by its own process group.
"""

from __future__ import annotations

import ast
from abc import ABC, abstractmethod
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
PREFECT_YAML = REPO_ROOT / "prefect.yaml"
DEFAULT_POOL = "longterm-process"


# ----------------------------------------------------------------------------- prefect.yaml


@dataclass
class DeploymentSpec:
    """One entry of ``prefect.yaml``'s ``deployments`` list."""

    name: str
    entrypoint: str  # "flows/<x>.py:<flow function>"
    parameters: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    tags: list[str] = field(default_factory=list)
    schedules: list[dict[str, Any]] = field(default_factory=list)

    @property
    def path(self) -> str:
        return self.entrypoint.split(":", 1)[0]

    @property
    def function(self) -> str:
        return self.entrypoint.split(":", 1)[1]


def load_deployment_specs(path: Path = PREFECT_YAML) -> list[DeploymentSpec]:
    from tasks.config import load_mapping

    data = load_mapping(path)
    specs = []
    for d in data.get("deployments", []):
        specs.append(
            DeploymentSpec(
                name=d["name"],
                entrypoint=d["entrypoint"],
                parameters=dict(d.get("parameters") or {}),
                description=d.get("description", ""),
                tags=list(d.get("tags") or []),
                schedules=list(d.get("schedules") or []),
            )
        )
    return specs


def entrypoint_problem(spec: DeploymentSpec, root: Path = REPO_ROOT) -> str | None:
    """Why the entrypoint cannot be deployed yet (file or function missing), or None when it can.

    Parses the file instead of importing it, so checking is cheap and side-effect free.
    """
    file = root / spec.path
    if not file.is_file():
        return f"{spec.path} does not exist yet"
    tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
    names = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    if spec.function not in names:
        return f"{spec.path} defines no function {spec.function!r}"
    return None


def _schedule(d: dict[str, Any]) -> Any:
    from prefect.schedules import Cron, Interval

    common = {"active": bool(d.get("active", True)), "parameters": dict(d.get("parameters") or {})}
    if "cron" in d:
        return Cron(d["cron"], timezone=d.get("timezone", "UTC"), **common)
    if "interval" in d:
        return Interval(float(d["interval"]), timezone=d.get("timezone", "UTC"), **common)
    raise ValueError(f"prefect.yaml: schedule {d} has neither 'cron' nor 'interval'")


def deploy_project(
    api_url: str,
    pool: str = DEFAULT_POOL,
    *,
    only: list[str] | None = None,
    root: Path = REPO_ROOT,
    specs: list[DeploymentSpec] | None = None,
) -> tuple[dict[str, str], dict[str, str]]:
    """Deploy every available deployment of ``prefect.yaml`` to ``pool`` on the server at ``api_url``.

    Returns ``({name: deployment id}, {name: why skipped})``. ``only`` restricts to those names.
    """
    from prefect import flow as prefect_flow
    from prefect.settings import PREFECT_API_URL, temporary_settings

    specs = specs if specs is not None else load_deployment_specs(root / "prefect.yaml")
    if only:
        unknown = sorted(set(only) - {s.name for s in specs})
        if unknown:
            raise ValueError(f"unknown deployment(s) {unknown}; prefect.yaml has {[s.name for s in specs]}")
        specs = [s for s in specs if s.name in only]
    deployed: dict[str, str] = {}
    skipped: dict[str, str] = {}
    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        for spec in specs:
            problem = entrypoint_problem(spec, root)
            if problem:
                skipped[spec.name] = problem
                continue
            flow_obj = prefect_flow.from_source(source=str(root), entrypoint=spec.entrypoint)
            deployment_id = flow_obj.deploy(
                name=spec.name,
                work_pool_name=pool,
                parameters=spec.parameters,
                description=spec.description or None,
                tags=spec.tags,
                schedules=[_schedule(s) for s in spec.schedules] or None,
                print_next_steps=False,
                ignore_warnings=True,
            )
            deployed[spec.name] = str(deployment_id)
    return deployed, skipped


# ----------------------------------------------------------------------------- processes


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def prefect_executable() -> str:
    beside = Path(sys.executable).parent / "prefect"
    return str(beside) if beside.exists() else (shutil.which("prefect") or "prefect")


def prefect_env(home: Path, api_url: str | None = None, **extra: str) -> dict[str, str]:
    """Environment of a server or worker: own PREFECT_HOME, analytics off, the repo importable."""
    env = dict(os.environ)
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_CLI_PROMPT="false",
        PYTHONPATH=os.pathsep.join([str(REPO_ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])),
    )
    env.setdefault("RAY_AUTH_MODE", "disabled")
    if api_url:
        env["PREFECT_API_URL"] = api_url
    else:
        env.pop("PREFECT_API_URL", None)
    env.update(extra)
    return env


def _default_signals() -> None:
    """In the child before exec: take SIGINT back (a shell's background job inherits it ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _stop_group(proc: subprocess.Popen, timeout: float) -> None:
    """SIGINT the process group we started, then SIGKILL it if it does not exit in time."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGINT, timeout), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


class _ManagedProcess(ABC):
    """A child process in its own session, logging to ``log_path``; stopped by its process group."""

    stop_timeout = 15.0

    def __init__(self, home: Path, log_name: str) -> None:
        self.home = Path(home).resolve()
        self.proc: subprocess.Popen | None = None
        self.log_path = self.home / log_name

    def _spawn(self, cmd: list[str], env: dict[str, str]) -> subprocess.Popen:
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                cmd, cwd=str(REPO_ROOT), env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=_default_signals,
            )
        return self.proc

    @abstractmethod
    def start(self) -> "_ManagedProcess":
        """Spawn the process (and wait until it is usable)."""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None:
            _stop_group(self.proc, timeout=self.stop_timeout)

    def __enter__(self):  # type: ignore[no-untyped-def]
        return self if self.proc is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class PrefectServer(_ManagedProcess):
    """``prefect server start`` on loopback with its own PREFECT_HOME; a context manager."""

    stop_timeout = 20.0

    def __init__(self, home: Path, host: str = "127.0.0.1", port: int = 4200, *, services: bool = True,
                 ui_api_url: str | None = None) -> None:
        super().__init__(home, "server.log")
        self.host = host
        self.any_port = not port
        self.port = port or free_port(host)
        self.services = services
        self._ui_api_url = ui_api_url

    @property
    def ui_url(self) -> str:
        # a wildcard bind is reached on loopback from this machine; pass ui_api_url for other browsers
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else "[::1]" if self.host == "::" else self.host
        return f"http://{host}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.ui_url}/api"

    @property
    def ui_api_url(self) -> str:
        """The API URL the UI's JavaScript calls (served at ``/ui-settings``): this server's own API.

        Prefect derives it from PREFECT_SERVER_API_HOST/PORT, not from ``--port``, so without it a
        server on 4300 serves a UI that talks to 4200 (issue #15)."""
        return self._ui_api_url or self.api_url

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def start(self, timeout: float = 120.0) -> "PrefectServer":
        if self.healthy():
            raise RuntimeError(f"something already answers on {self.ui_url}; choose another --port")
        deadline = time.monotonic() + timeout
        for attempt in range(3 if self.any_port else 1):
            if attempt:  # the free port we picked was taken before the server bound it: pick another
                self.port = free_port(self.host)
            cmd = [prefect_executable(), "server", "start", "--host", self.host, "--port", str(self.port), "--analytics-off"]
            if not self.services:
                cmd.append("--no-services")
            env = prefect_env(self.home, PREFECT_SERVER_API_HOST=self.host, PREFECT_SERVER_API_PORT=str(self.port),
                              PREFECT_SERVER_UI_API_URL=self.ui_api_url)
            env.pop("PREFECT_UI_API_URL", None)  # an old alias in the caller's shell must not win over the bound port
            proc = self._spawn(cmd, env)
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    break
                if self.healthy():
                    return self
                time.sleep(0.5)
            if proc.poll() is None:
                break  # still starting at the deadline
        else:
            raise RuntimeError(f"prefect server exited with {proc.returncode}; see {self.log_path}")
        self.stop()
        raise TimeoutError(f"prefect server not healthy after {timeout:.0f} s; see {self.log_path}")


class PrefectWorker(_ManagedProcess):
    """``prefect worker start`` on a process pool; stop it (SIGINT) before the server."""

    def __init__(self, api_url: str, pool: str = DEFAULT_POOL, *, home: Path, limit: int = 2, poll_seconds: float = 2.0) -> None:
        super().__init__(home, "worker.log")
        self.api_url = api_url
        self.pool = pool
        self.limit = limit
        self.poll_seconds = poll_seconds

    def start(self) -> "PrefectWorker":
        cmd = [prefect_executable(), "worker", "start", "--pool", self.pool, "--type", "process", "--limit", str(self.limit)]
        self._spawn(cmd, prefect_env(self.home, self.api_url, PREFECT_WORKER_QUERY_SECONDS=str(self.poll_seconds)))
        return self


def ensure_work_pool(api_url: str, name: str = DEFAULT_POOL) -> None:
    """Create the process work pool unless it exists."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        with get_client(sync_client=True) as client:
            try:
                client.create_work_pool(WorkPoolCreate(name=name, type="process"))
            except ObjectAlreadyExists:
                pass
