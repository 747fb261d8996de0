"""Config dataclasses survive the trip to command-line flags (what torchrun launches get) and back."""

from __future__ import annotations

from model.config_args import parse_config
from model.dpo import DPOConfig
from model.sft import SFTConfig
from tasks.launch import config_flags


def test_flags_round_trip() -> None:
    sft = SFTConfig(init="a", data="b", tokenizer="c", out="d", lr=3e-5, compile=True, epochs=0.5, max_steps=7)
    assert parse_config(SFTConfig, config_flags(sft), prog="x") == sft
    dpo = DPOConfig(init="a", data="b", tokenizer="c", out="d", beta=0.25, compile=False, label_smoothing=0.1)
    assert parse_config(DPOConfig, config_flags(dpo), prog="x") == dpo
