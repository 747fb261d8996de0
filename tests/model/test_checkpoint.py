"""Checkpoints: round trip, pruning, incomplete saves, and refusing arbitrary pickles."""

from __future__ import annotations

import pickle
import shutil

import pytest
import torch

from model.checkpoint import Checkpointer, CheckpointError, list_checkpoints, load_checkpoint, load_model, resolve_checkpoint
from model.llama import ModelConfig, Transformer


def _trained(seed: int = 0) -> tuple[Transformer, torch.optim.Optimizer]:
    torch.manual_seed(seed)
    m = Transformer(ModelConfig.from_preset("tiny"))
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
    m(torch.randint(0, 512, (2, 8)), targets=torch.randint(0, 512, (2, 8))).backward()
    opt.step()
    return m, opt


def _save(ck: Checkpointer, step: int, m, opt) -> None:
    ck.save(step, m, opt, meta={"model_config": m.cfg.to_dict(), "schedule": {"last_step": step - 1}}, rank_state={"loader": {"global_sample": step}})


def test_round_trip_pruning_and_protected_checkpoint(tmp_path) -> None:
    m, opt = _trained()
    ck = Checkpointer(tmp_path, keep_last=2, async_save=True, protect_before_step=4)
    for step in (2, 4, 6, 8, 10):
        _save(ck, step, m, opt)
    ck.wait()
    assert [s for s, _ in list_checkpoints(tmp_path)] == [4, 8, 10]
    m2, opt2 = _trained(seed=1)
    meta = load_checkpoint(tmp_path, m2, opt2)
    assert meta["step"] == 10 and meta["rank_state"]["loader"] == {"global_sample": 10}
    assert all(torch.equal(a, b) for a, b in zip(m.state_dict().values(), m2.state_dict().values()))
    s1, s2 = opt.state_dict()["state"], opt2.state_dict()["state"]
    assert all(torch.equal(s1[k]["exp_avg_sq"], s2[k]["exp_avg_sq"]) for k in s1)
    loaded, cfg = load_model(tmp_path / "checkpoints" / "step-00000004")
    assert cfg == m.cfg and not loaded.training


def test_incomplete_save_is_ignored(tmp_path) -> None:
    m, opt = _trained()
    ck = Checkpointer(tmp_path, keep_last=5)
    _save(ck, 1, m, opt)
    _save(ck, 2, m, opt)
    (tmp_path / "checkpoints" / "step-00000002" / "meta.json").unlink()  # as if killed before meta.json
    assert resolve_checkpoint(tmp_path).name == "step-00000001"
    shutil.rmtree(tmp_path / "checkpoints" / "step-00000001")
    with pytest.raises(CheckpointError, match="none with meta.json"):
        resolve_checkpoint(tmp_path)


def test_a_malicious_metadata_pickle_is_refused(tmp_path) -> None:
    m, opt = _trained()
    ck = Checkpointer(tmp_path)
    _save(ck, 1, m, opt)

    class Evil:
        def __reduce__(self):
            return (shutil.rmtree, (str(tmp_path / "victim"),))

    (tmp_path / "victim").mkdir()
    (tmp_path / "checkpoints" / "step-00000001" / ".metadata").write_bytes(pickle.dumps(Evil()))
    with pytest.raises(CheckpointError, match="refusing to unpickle shutil.rmtree"):
        load_model(tmp_path)
    assert (tmp_path / "victim").is_dir()


def test_other_shape_is_a_clear_error(tmp_path) -> None:
    m, opt = _trained()
    _save(Checkpointer(tmp_path), 1, m, opt)
    with pytest.raises(CheckpointError, match="n_layer: checkpoint 2 vs model 3"):
        load_checkpoint(tmp_path, Transformer(ModelConfig.from_preset("tiny", n_layer=3)))
