"""Fail-fast parameter validation: missing datasets, unknown config keys, wrong kinds."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pyarrow as pa
import pytest

from flows.smoke import smoke_flow
from flows.validation import (
    ParameterError,
    parse_config,
    require_dataset,
    require_datasets,
    require_output,
    require_path,
)
from storage import Counts, DatasetWriter, write_shard
from tasks.smoke import SmokeConfig, run_smoke


@dataclasses.dataclass
class Inner:
    threshold: float = 0.5
    langs: list[str] = dataclasses.field(default_factory=lambda: ["en", "zh"])


@dataclasses.dataclass
class Outer:
    name: str = "x"
    workers: int = 2
    inner: Inner = dataclasses.field(default_factory=Inner)
    limit: int | None = None


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> str:
    return run_smoke(str(tmp_path_factory.mktemp("docs") / "smoke"), SmokeConfig(docs=6))


@pytest.fixture(scope="module")
def tokens(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = str(tmp_path_factory.mktemp("tok") / "tokens")
    w = DatasetWriter(root, kind="tokens", stage="tokenize", config={})
    shard = write_shard(w.location, "train", 0, pa.table({"tokens": pa.array([1, 2, 3], pa.uint16())}), fmt="arrow")
    w.commit([shard], Counts(input=1, kept=1))
    return root


def test_require_dataset_resolves_latest(documents: str) -> None:
    root = str(Path(documents).parent)
    assert require_dataset("input_uri", root, kind="documents") == documents


def test_missing_dataset_names_the_parameter(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match=r"parameter 'input_uri': .*no such dataset") as e:
        require_dataset("input_uri", str(tmp_path / "nope"))
    assert e.value.parameter == "input_uri"
    with pytest.raises(ParameterError, match="parameter 'input_uri': a dataset URI is required"):
        require_dataset("input_uri", "")


def test_wrong_kind_names_the_parameter(tokens: str, documents: str) -> None:
    with pytest.raises(ParameterError, match=r"parameter 'input_uri': .*'tokens' dataset.*'documents' dataset is needed"):
        require_dataset("input_uri", tokens, kind="documents")
    with pytest.raises(ParameterError, match=r"parameter 'inputs\[1\]'"):
        require_datasets("inputs", [documents, tokens], kind="documents")


def test_incomplete_dataset_is_refused(tmp_path: Path) -> None:
    (tmp_path / "half" / "data").mkdir(parents=True)
    with pytest.raises(ParameterError, match=r"parameter 'data': .*incomplete"):
        require_dataset("data", str(tmp_path / "half"))


def test_unknown_config_key_is_refused_with_a_hint() -> None:
    with pytest.raises(ParameterError, match=r"parameter 'config': unknown key 'workerz' \(did you mean 'workers'\?\)"):
        parse_config("config", Outer, {"workerz": 3})
    with pytest.raises(ParameterError, match=r"parameter 'config': unknown key 'inner.treshold' \(did you mean 'inner.threshold'\?\)"):
        parse_config("config", Outer, {"inner": {"treshold": 0.1}})


def test_config_values_are_type_checked() -> None:
    with pytest.raises(ParameterError, match=r"parameter 'config': 'workers' should be a valid integer, got '2' \(str\)"):
        parse_config("config", Outer, {"workers": "2"})
    with pytest.raises(ParameterError, match=r"'limit' should be a valid integer, got 1.5"):
        parse_config("config", Outer, {"limit": 1.5})
    cfg = parse_config("config", Outer, {"workers": 4, "inner": {"threshold": 1}, "limit": None})
    assert cfg == Outer(workers=4, inner=Inner(threshold=1), limit=None)


def test_config_from_none_instance_and_file(tmp_path: Path) -> None:
    assert parse_config("config", Outer, None) == Outer()
    assert parse_config("config", Outer, Outer(name="y")).name == "y"
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({"name": "from-file"}))
    assert parse_config("config", Outer, str(path)).name == "from-file"
    yml = tmp_path / "cfg.yaml"
    yml.write_text("name: yaml\nbogus: 1\n")
    with pytest.raises(ParameterError, match=r"parameter 'config': .*cfg.yaml: unknown key 'bogus'"):
        parse_config("config", Outer, str(yml))
    with pytest.raises(ParameterError, match="does not exist"):
        parse_config("config", Outer, str(tmp_path / "missing.json"))


def test_fixed_fields_are_laid_over_a_mapping_a_file_or_an_instance(tmp_path: Path) -> None:
    """A training flow's own paths (``fixed``) win over whatever the config holds; the rest is kept."""
    fixed = {"name": "run-7"}
    assert parse_config("config", Outer, {"workers": 3, "name": "mine"}, fixed) == Outer(workers=3, name="run-7")
    assert parse_config("config", Outer, Outer(workers=5), fixed) == Outer(workers=5, name="run-7")
    yml = tmp_path / "cfg.yaml"
    yml.write_text("workers: 6\n")
    assert parse_config("config", Outer, str(yml), fixed) == Outer(workers=6, name="run-7")
    assert parse_config("config", Outer, None, fixed) == Outer(name="run-7")
    with pytest.raises(ParameterError, match=r"parameter 'config': unknown key 'workerz'"):
        parse_config("config", Outer, {"workerz": 1}, fixed)


def test_set_overrides_go_through_the_config_parser() -> None:
    import typer

    from flows.commands._align_command import apply_overrides

    cfg = apply_overrides(Outer(), ["workers=16", "name=42", "limit=3"])
    assert cfg == Outer(workers=16, name="42", limit=3)
    with pytest.raises(typer.BadParameter, match=r"unknown key 'workerz' \(did you mean 'workers'\?\)"):
        apply_overrides(Outer(), ["workerz=2"])
    with pytest.raises(typer.BadParameter, match=r"'workers' should be a valid integer, got 1.5 \(float\)"):
        apply_overrides(Outer(), ["workers=1.5"])


def test_config_constructor_errors_name_the_parameter() -> None:
    with pytest.raises(ParameterError, match=r"parameter 'config': invalid SmokeConfig: docs must be at least 1"):
        parse_config("config", SmokeConfig, {"docs": 0})


def test_paths_and_outputs(tmp_path: Path) -> None:
    f = tmp_path / "file.txt"
    f.write_text("x")
    assert require_path("watch", str(tmp_path), is_dir=True) == str(tmp_path.resolve())
    with pytest.raises(ParameterError, match="parameter 'watch': .*is a file, a folder is needed"):
        require_path("watch", str(f), is_dir=True)
    with pytest.raises(ParameterError, match="parameter 'watch': .*no such file or folder"):
        require_path("watch", str(tmp_path / "nope"))
    with pytest.raises(ParameterError, match="parameter 'out': .*existing file"):
        require_output("out", str(f))
    assert require_output("out", "s3://bucket/out") == "s3://bucket/out"


def test_parameter_error_survives_pickling() -> None:
    import pickle

    e = pickle.loads(pickle.dumps(ParameterError("config", "unknown key 'x'")))
    assert (e.parameter, str(e)) == ("config", "parameter 'config': unknown key 'x'")


def test_flow_fails_before_any_compute(tmp_path: Path) -> None:
    out = tmp_path / "smoke"
    with pytest.raises(ParameterError, match=r"parameter 'config': unknown key 'docz'"):
        smoke_flow.fn(out=str(out), config={"docz": 3})
    assert not out.exists(), "validation must run before the stage writes anything"
