"""Config dataclasses survive the trip to command-line flags (what torchrun launches get) and back."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from model.dpo import DPOConfig
from model.flags import from_flags, to_flags
from model.pretrain import TrainConfig
from model.sft import SFTConfig
from tasks.launch import torchrun_command


def test_flags_round_trip() -> None:
    sft = SFTConfig(init="a", data="b", tokenizer="c", out="d", lr=3e-5, compile=True, epochs=0.5, max_steps=7)
    assert from_flags(SFTConfig, to_flags(sft), prog="x") == sft
    dpo = DPOConfig(init="a", data="b", tokenizer="c", out="d", beta=0.25, compile=False, label_smoothing=0.1)
    assert from_flags(DPOConfig, to_flags(dpo), prog="x") == dpo
    pre = TrainConfig(data="d", out="o", preset="demo", model_overrides={"n_layer": 3, "norm_eps": 1e-5}, tokens=2e6, lr=3e-4,
                      activation_checkpointing=True, progress=False, extend_from="prev")
    assert from_flags(TrainConfig, to_flags(pre), prog="x") == pre
    cmd = torchrun_command("model.pretrain", pre, 4)
    assert cmd[1:7] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=4", "-m", "model.pretrain"]
    assert "--no-progress" in cmd and cmd[cmd.index("--model-arg") + 1] == "n_layer=3"


@dataclass
class Example:
    name: str
    steps: int = 3
    rate: float | None = None
    tags: list[str] = field(default_factory=list)
    fast: bool = False


def test_flags_are_strict(capsys: pytest.CaptureFixture) -> None:
    assert from_flags(Example, ["--name", "n", "--rate", "1e-3", "--tags", "a", "--tags", "b,c", "--fast"], prog="x") == \
        Example("n", rate=1e-3, tags=["a", "b,c"], fast=True)
    for argv, message in [
        (["--name", "n", "--stepz", "4"], "unrecognized argument '--stepz'; did you mean --steps?"),
        (["--name", "n", "--ste", "4"], "unrecognized argument '--ste'"),  # no abbreviations
        (["--name", "n", "--steps", "1.5"], "invalid int value: '1.5'"),
        (["--steps", "1"], "the following arguments are required: --name"),
    ]:
        with pytest.raises(SystemExit) as e:
            from_flags(Example, argv, prog="x")
        assert e.value.code == 2 and message in capsys.readouterr().err, argv
