"""tasks.config.parse: partial overrides, strict types, errors that name the key path, one file loader."""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from tasks.config import ConfigError, load_mapping, parse, to_mapping


@dataclass(frozen=True)
class Inner:
    threshold: float = 0.5
    langs: list[str] = field(default_factory=lambda: ["en", "zh"])
    pairs: list[tuple[int, float]] = field(default_factory=lambda: [(2, 0.2)])

    def __post_init__(self) -> None:
        if self.threshold < 0:
            raise ValueError(f"threshold must be >= 0, got {self.threshold}")


@dataclass
class Point:
    x: int
    y: int = 0


@dataclass
class Outer:
    name: str = "x"
    workers: int = 2
    limit: int | None = None
    flag: bool = False
    mode: Literal["fast", "exact"] = "fast"
    inner: Inner = field(default_factory=Inner)
    maybe: Inner | None = None
    per_lang: dict[str, Inner] = field(default_factory=lambda: {"en": Inner(threshold=0.6), "zh": Inner(threshold=0.4, langs=["zh"])})
    weights: dict[str, float] = field(default_factory=lambda: {"a": 1.0, "b": 2.0})
    points: list[Point] = field(default_factory=list)


@dataclass
class Needs:
    data: str
    seed: int = 0


def test_none_and_empty_give_the_defaults_and_an_instance_passes_through() -> None:
    assert parse(Outer) == parse(Outer, {}) == Outer()
    given = Outer(name="y")
    assert parse(Outer, given) is given
    assert parse(Outer, None, base=given) is given


def test_only_the_given_keys_change_and_nested_configs_merge() -> None:
    cfg = parse(Outer, {"workers": 4, "inner": {"threshold": 1}, "per_lang": {"zh": {"threshold": 0.9}, "fr": {"langs": ["fr"]}}})
    assert cfg.workers == 4 and cfg.name == "x"
    assert cfg.inner == Inner(threshold=1.0) and isinstance(cfg.inner.threshold, float)
    assert cfg.per_lang["en"] == Inner(threshold=0.6)  # untouched entry kept
    assert cfg.per_lang["zh"] == Inner(threshold=0.9, langs=["zh"])  # merged into the existing entry
    assert cfg.per_lang["fr"] == Inner(langs=["fr"])  # a new entry starts from the class defaults
    # a plain dict, a list and a scalar are values: they replace
    cfg = parse(Outer, {"weights": {"b": 3}, "inner": {"langs": ["zh"]}})
    assert cfg.weights == {"b": 3.0} and cfg.inner.langs == ["zh"]
    # overrides on another config than the defaults
    again = parse(Outer, {"inner": {"langs": ["en"]}}, base=cfg)
    assert again.inner == Inner(langs=["en"]) and again.weights == {"b": 3.0}


def test_values_are_normalised_to_the_declared_types() -> None:
    cfg = parse(Outer, {"inner": {"pairs": [[3, 1], [4, 0.5]]}, "maybe": {"threshold": 2}, "points": [{"x": 1}, {"x": 2, "y": 3}]})
    assert cfg.inner.pairs == [(3, 1.0), (4, 0.5)] and all(isinstance(p, tuple) for p in cfg.inner.pairs)
    assert cfg.maybe == Inner(threshold=2.0)
    assert cfg.points == [Point(1), Point(2, 3)]
    assert parse(Outer, {"maybe": None, "limit": None}).maybe is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"workerz": 3}, r"unknown key 'workerz' \(did you mean 'workers'\?\); Outer keys: flag, inner, limit"),
        ({"inner": {"treshold": 0.1}}, r"unknown key 'inner.treshold' \(did you mean 'inner.threshold'\?\); Inner keys: langs, pairs, threshold"),
        ({"per_lang": {"zh": {"lang": ["zh"]}}}, r"unknown key 'per_lang.zh.lang' \(did you mean 'per_lang.zh.langs'\?\)"),
        ({"points": [{"x": 1}, {"x": 1, "z": 2}]}, r"unknown key 'points\[1\].z'"),
        ({"qqq": 1}, r"unknown key 'qqq'; Outer keys"),
        ({"pairs": []}, r"unknown key 'pairs' \(did you mean 'inner.pairs'\?\)"),  # one level too high
    ],
)
def test_unknown_keys_name_the_full_path_with_a_suggestion(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse(Outer, data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"workers": "2"}, r"'workers' should be a valid integer, got '2' \(str\)"),
        ({"workers": 1.5}, r"'workers' should be a valid integer, got 1.5 \(float\)"),
        ({"workers": 2.0}, r"'workers' should be a valid integer, got 2.0 \(float\)"),
        ({"flag": 1}, r"'flag' should be a valid boolean, got 1 \(int\)"),
        ({"name": 3}, r"'name' should be a valid string, got 3 \(int\)"),
        ({"limit": "none"}, r"'limit' should be a valid integer, got 'none'"),
        ({"workers": None}, r"'workers' should be a valid integer, got None"),
        ({"mode": "slow"}, r"'mode' should be 'fast' or 'exact', got 'slow'"),
        ({"inner": {"langs": "en"}}, r"'inner.langs' should be a valid array, got 'en'"),
        ({"inner": {"langs": ["en", 2]}}, r"'inner.langs\[1\]' should be a valid string, got 2 \(int\)"),
        ({"inner": {"pairs": [[1, "x"]]}}, r"'inner.pairs\[0\]\[1\]' should be a valid number, got 'x'"),
        ({"inner": 3}, r"'inner' must be a mapping of Inner keys, got 3 \(int\)"),
        ({"inner": None}, r"'inner' must be a mapping of Inner keys, got None"),
        ({"weights": {"a": "x"}}, r"'weights.a' should be a valid number, got 'x'"),
        ({"name": Path("p")}, r"'name' must be a config value \(JSON/YAML data\), got PosixPath"),
    ],
)
def test_wrong_types_name_the_path_the_expected_and_the_given(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse(Outer, data)


def test_class_checks_and_required_keys_are_reported_with_their_path() -> None:
    with pytest.raises(ConfigError, match=r"invalid Inner at 'per_lang.en': threshold must be >= 0, got -1.0") as e:
        parse(Outer, {"per_lang": {"en": {"threshold": -1}}})
    assert e.value.path == ("per_lang", "en")
    with pytest.raises(ConfigError, match=r"invalid Inner: threshold must be >= 0"):
        parse(Inner, {"threshold": -1})
    with pytest.raises(ConfigError, match=r"Needs needs 'data' \(no default\)"):
        parse(Needs, {"seed": 1})
    with pytest.raises(ConfigError, match=r"Point needs 'points\[0\].x'"):
        parse(Outer, {"points": [{"y": 1}]})
    assert parse(Needs, {"data": "d"}) == Needs("d")
    with pytest.raises(ConfigError, match="expected a mapping of Outer keys, got"):
        parse(Outer, ["workers"])  # type: ignore[arg-type]


def test_files_yaml_and_json(tmp_path: Path) -> None:
    yml = tmp_path / "c.yaml"
    yml.write_text("workers: 3\ninner:\n  threshold: 1e-3\nweights: {a: 1e12, b: -2.5E+3}\n")
    cfg = parse(Outer, yml)
    assert cfg.workers == 3 and cfg.inner.threshold == 1e-3 and cfg.weights == {"a": 1e12, "b": -2500.0}
    assert parse(Outer, str(yml)) == cfg
    js = tmp_path / "c.json"
    js.write_text('{"name": "j"}')
    assert parse(Outer, js).name == "j"
    (tmp_path / "empty.yaml").write_text("# nothing\n")
    assert parse(Outer, tmp_path / "empty.yaml") == Outer()
    (tmp_path / "bad.yaml").write_text("workerz: 3\n")
    with pytest.raises(ConfigError, match=rf"^{tmp_path}/bad.yaml: unknown key 'workerz'") as e:
        parse(Outer, tmp_path / "bad.yaml")
    assert e.value.where == str(tmp_path / "bad.yaml") and e.value.path == ("workerz",)
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(ConfigError, match="must hold a mapping of config keys, got list"):
        parse(Outer, tmp_path / "list.yaml")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ConfigError, match="does not parse"):
        load_mapping(tmp_path / "broken.json")
    with pytest.raises(ConfigError, match="does not exist"):
        parse(Outer, tmp_path / "missing.yaml")
    # YAML still reads plain words and dates as before; only dotless exponents became numbers
    (tmp_path / "w.yaml").write_text("a: e5\nb: 1e5x\nc: 10\n")
    assert load_mapping(tmp_path / "w.yaml") == {"a": "e5", "b": "1e5x", "c": 10}


def test_to_mapping_round_trips_and_errors_pickle() -> None:
    cfg = parse(Outer, {"points": [{"x": 1}], "maybe": {}})
    assert to_mapping(cfg) == dataclasses.asdict(cfg)
    assert parse(Outer, to_mapping(cfg)) == cfg
    e = pickle.loads(pickle.dumps(ConfigError("unknown key 'x'", ("x",), "f.yaml")))
    assert (str(e), e.path, e.where) == ("f.yaml: unknown key 'x'", ("x",), "f.yaml")
    with pytest.raises(TypeError):
        to_mapping({"a": 1})


def _stage_configs() -> list[object]:
    from dedup.minhash import MinhashConfig
    from tasks.dedup import DedupConfig
    from tasks.demo_crawl.generator import DemoCrawlConfig
    from tasks.filter import FilterConfig
    from tasks.ingest import IngestConfig
    from tasks.ops.remix import RemixConfig
    from tasks.ops.tokenize import TokenizeConfig
    from tasks.ops.tokenizer_training import TokenizerTrainConfig
    from tasks.scaling_study import StudyConfig
    from tasks.smoke import SmokeConfig

    return [IngestConfig(), FilterConfig(), DedupConfig(), MinhashConfig(), RemixConfig(), TokenizeConfig(), TokenizerTrainConfig(),
            SmokeConfig(), DemoCrawlConfig(), StudyConfig(data={"v": "runs/tokens"})]


@pytest.mark.parametrize("default", _stage_configs(), ids=lambda c: type(c).__name__)
def test_stage_defaults_survive_a_file_round_trip_with_the_same_content_key(default: object) -> None:
    """A stage's default config written out (a YAML file, the Prefect form) and parsed back is the same
    config and hashes to the same content key: every default already has its declared type (a float
    field defaulting to the int 3 once made the parsed config, 3.0, hash differently)."""
    import json

    from storage import content_key

    mapping = to_mapping(default)
    back = parse(type(default), json.loads(json.dumps(mapping)))
    assert back == default
    assert content_key("stage", to_mapping(back), []) == content_key("stage", mapping, [])
