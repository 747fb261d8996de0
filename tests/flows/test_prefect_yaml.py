"""prefect.yaml: a deployment per flow, one process pool, parameters the flows accept."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import yaml

from flows.serve import PREFECT_YAML, REPO_ROOT, DeploymentSpec, entrypoint_problem, load_deployment_specs

EXPECTED = {
    "ingest_flow", "filter_flow", "dedup_flow", "remix_flow", "train_tokenizer_flow", "tokenize_flow",
    "pretrain_flow", "sft_flow", "dpo_flow", "eval_flow", "data_to_model", "curate_nightly", "smoke_flow",
    "scaling_study_flow",
}


def test_a_deployment_per_flow_on_the_process_pool() -> None:
    specs = load_deployment_specs()
    assert {s.function for s in specs} == EXPECTED
    assert len({s.name for s in specs}) == len(specs)
    raw = yaml.safe_load(PREFECT_YAML.read_text())
    assert {d["work_pool"]["name"] for d in raw["deployments"]} == {"longterm-process"}
    for s in specs:
        assert s.path.startswith("flows/") and s.path.endswith(".py"), s.entrypoint


def test_nightly_curate_schedule() -> None:
    nightly = next(s for s in load_deployment_specs() if s.function == "curate_nightly")
    assert nightly.schedules and nightly.schedules[0]["cron"] == "0 2 * * *"
    assert {"watch", "out"} <= set(nightly.parameters)


def test_available_flows_accept_their_deployment_parameters() -> None:
    """Each flow that exists takes the parameters prefect.yaml gives it (checked as stages land)."""
    checked = 0
    for spec in load_deployment_specs():
        if entrypoint_problem(spec) is not None:
            continue
        module = importlib.import_module(spec.path[:-3].replace("/", "."))
        flow_obj = getattr(module, spec.function)
        params = inspect.signature(flow_obj.fn).parameters
        unknown = set(spec.parameters) - set(params)
        assert not unknown, f"deployment {spec.name}: {spec.function} has no parameter(s) {sorted(unknown)}"
        checked += 1
    assert checked >= 1  # smoke at least


def test_entrypoint_problem_reports_missing_file_and_function(tmp_path: Path) -> None:
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "x.py").write_text("def other():\n    pass\n")
    assert entrypoint_problem(DeploymentSpec("a", "flows/y.py:f"), tmp_path) == "flows/y.py does not exist yet"
    assert "defines no function 'f'" in entrypoint_problem(DeploymentSpec("a", "flows/x.py:f"), tmp_path)
    assert entrypoint_problem(DeploymentSpec("s", "flows/smoke.py:smoke_flow"), REPO_ROOT) is None


_LOAD_LIKE_A_WORKER = """
import sys
from prefect.flows import load_flow_from_entrypoint
flow = load_flow_from_entrypoint(sys.argv[1])
print(flow.name)
"""


def test_every_entrypoint_loads_in_a_fresh_process_like_a_worker() -> None:
    """A worker's flow-run process loads ``flows/<x>.py:<fn>`` with Prefect's script loader, which
    registers the file under its bare stem when no module of that name is imported yet, and puts
    ``flows/`` first on sys.path. A flow file named after a top-level package then shadows it in
    that process (``flows/dedup.py`` as ``dedup`` broke a later ``import tasks.dedup`` with a
    circular import once ``longterm serve`` had deployed every flow). No stem may be a package
    name, and each entrypoint must load on its own in a fresh interpreter, as a worker loads it."""
    import subprocess
    import sys
    from concurrent.futures import ThreadPoolExecutor

    packages = {p.name for p in REPO_ROOT.iterdir() if (p / "__init__.py").is_file()}
    specs = load_deployment_specs()
    for spec in specs:
        assert Path(spec.path).stem not in packages, f"{spec.path} shadows the top-level package {Path(spec.path).stem!r}"

    def load(spec: DeploymentSpec) -> tuple[str, subprocess.CompletedProcess]:
        proc = subprocess.run(
            [sys.executable, "-c", _LOAD_LIKE_A_WORKER, spec.entrypoint],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
        )
        return spec.name, proc

    with ThreadPoolExecutor(max_workers=2) as pool:
        for name, proc in pool.map(load, specs):
            assert proc.returncode == 0, f"deployment {name} fails to load:\n{proc.stderr[-2000:]}"
            assert proc.stdout.strip(), name


def test_scaling_study_deployment_parameters_validate_as_a_typed_study_config() -> None:
    """The UI form and a worker both validate the deployment's parameters against the flow's types."""
    from flows.scaling_study import scaling_study_flow
    from tasks.scaling_study import Shape, StudyConfig

    spec = next(s for s in load_deployment_specs() if s.name == "scaling-study")
    params = scaling_study_flow.validate_parameters(spec.parameters)
    assert isinstance(params["config"], StudyConfig) and params["executor"] == "ray"
    assert params["config"].shapes[0] == Shape(1, 16, 2) and params["config"].data == {"curated": "runs/demo/tokens"}
