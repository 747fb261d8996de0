"""The pieces every training loop shares (model/loop.py): atomic run files, the seq_len rule.

The loop itself runs in every pretrain / SFT / DPO test (tests/model/test_{pretrain,sft,dpo}.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from model.loop import resolve_seq_len, write_json


def test_write_json_replaces_by_rename_and_keeps_the_old_file_on_failure(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    write_json(path, {"step": 1})
    os.link(path, tmp_path / "reader.json")  # a reader holding the old file
    write_json(path, {"step": 2})
    assert json.loads(path.read_text()) == {"step": 2}
    assert json.loads((tmp_path / "reader.json").read_text()) == {"step": 1}  # a new file was renamed in; the old one untouched
    looped: dict = {}
    looped["self"] = looped
    with pytest.raises(ValueError, match="Circular"):
        write_json(path, looped)
    assert json.loads(path.read_text()) == {"step": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reader.json", "summary.json"]  # no temporary file left


def test_resolve_seq_len_defaults_to_the_model_and_refuses_more() -> None:
    assert resolve_seq_len(None, 128, where="x", fix="") == resolve_seq_len(0, 128, where="x", fix="") == 128
    assert resolve_seq_len(64, 128, where="x", fix="") == 64
    with pytest.raises(ValueError, match=r"ckpt: seq_len 200 exceeds the model's max_seq_len 128; use --model-arg max_seq_len=200"):
        resolve_seq_len(200, 128, where="ckpt", fix="use --model-arg max_seq_len={seq_len}")
