"""Checkpoints: round trip, pruning, incomplete saves, digests (a flipped byte is refused by name), and refusing arbitrary pickles."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import pytest
import torch

from model.checkpoint import (
    Checkpointer,
    CheckpointError,
    list_checkpoints,
    load_checkpoint,
    load_model,
    read_meta,
    resolve_checkpoint,
    seal,
)
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
    ckpt = tmp_path / "checkpoints" / "step-00000001"
    (ckpt / ".metadata").write_bytes(pickle.dumps(Evil()))
    with pytest.raises(CheckpointError, match=r"step-00000001/\.metadata: \d+ bytes but digests.json says"):
        load_model(tmp_path)  # the digests catch it first ...
    seal(ckpt, read_meta(ckpt))  # ... and if whoever wrote it also rewrote the digests, the unpickler refuses it
    with pytest.raises(CheckpointError, match="refusing to unpickle shutil.rmtree"):
        load_model(tmp_path)
    assert (tmp_path / "victim").is_dir()


def _flip_a_byte(f: Path) -> None:
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0x01
    f.write_bytes(bytes(data))


@pytest.mark.parametrize("victim", ["__0_0.distcp", ".metadata", "rank-00000.json", "digests.json", "meta.json"])
def test_a_flipped_byte_in_any_checkpoint_file_is_refused_by_name(tmp_path, victim: str) -> None:
    m, opt = _trained()
    ck = Checkpointer(tmp_path, async_save=victim == "__0_0.distcp")  # async saves commit the same way, off the training thread
    _save(ck, 1, m, opt)
    ck.wait()
    ckpt = tmp_path / "checkpoints" / "step-00000001"
    digests = json.loads((ckpt / "digests.json").read_text())["files"]
    assert set(digests) == {p.name for p in ckpt.iterdir()} - {"meta.json", "digests.json"}
    assert victim in digests or victim in ("meta.json", "digests.json")
    load_checkpoint(tmp_path, *_trained(seed=1))  # intact: loads
    _flip_a_byte(ckpt / victim)
    with pytest.raises(CheckpointError, match=rf"step-00000001/{victim}: .*(differs|not valid JSON).*delete .*step-00000001"):
        load_checkpoint(tmp_path, *_trained(seed=1))


def test_a_missing_or_truncated_checkpoint_file_is_refused(tmp_path) -> None:
    m, opt = _trained()
    _save(Checkpointer(tmp_path), 1, m, opt)
    ckpt = tmp_path / "checkpoints" / "step-00000001"
    (ckpt / "rank-00000.json").write_text("{}")
    with pytest.raises(CheckpointError, match=r"rank-00000.json: 2 bytes but digests.json says \d+ \(truncated"):
        load_model(tmp_path)
    (ckpt / "rank-00000.json").unlink()
    with pytest.raises(CheckpointError, match="rank-00000.json: listed in digests.json but missing"):
        load_model(tmp_path)


def test_other_shape_is_a_clear_error(tmp_path) -> None:
    m, opt = _trained()
    _save(Checkpointer(tmp_path), 1, m, opt)
    with pytest.raises(CheckpointError, match="n_layer: checkpoint 2 vs model 3"):
        load_checkpoint(tmp_path, Transformer(ModelConfig.from_preset("tiny", n_layer=3)))


VERIFY_ON_TWO_RANKS = """
import sys
import torch.distributed as dist
from model.checkpoint import CheckpointError, verify_checkpoint
dist.init_process_group("gloo")
out = open(f"{sys.argv[2]}/rank{dist.get_rank()}.txt", "w")  # one file per rank: printed lines of two ranks interleave
try:
    verify_checkpoint(sys.argv[1])
    out.write(f"rank {dist.get_rank()}: ok")
except CheckpointError as e:
    out.write(f"rank {dist.get_rank()}: refused: {e}")
out.close()
dist.destroy_process_group()
"""


def test_ranks_share_the_hashing_and_all_refuse_a_file_only_one_of_them_hashed(tmp_path) -> None:
    import os
    import subprocess
    import sys

    m, opt = _trained()
    _save(Checkpointer(tmp_path), 1, m, opt)
    ckpt = tmp_path / "checkpoints" / "step-00000001"
    files = json.loads((ckpt / "digests.json").read_text())["files"]
    second = sorted(files, key=lambda n: (-files[n]["bytes"], n))[1]  # dealt to rank 1 of 2
    script = tmp_path / "verify.py"
    script.write_text(VERIFY_ON_TWO_RANKS)
    root = Path(__file__).resolve().parents[2]

    def run() -> list[str]:
        results = tmp_path / "results"
        shutil.rmtree(results, ignore_errors=True)
        results.mkdir()
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(script), str(ckpt), str(results)]
        proc = subprocess.run(cmd, cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True, text=True, timeout=240)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return [p.read_text() for p in sorted(results.glob("rank*.txt"))] or [proc.stdout, proc.stderr[-3000:]]

    assert run() == ["rank 0: ok", "rank 1: ok"]
    _flip_a_byte(ckpt / second)
    refused = run()
    assert len(refused) == 2, refused
    assert all(f"refused: {ckpt / second}: sha256 differs from digests.json" in line for line in refused), refused


def test_quarantine_keeps_every_corrupt_copy_of_a_step(tmp_path) -> None:
    from model.checkpoint import quarantine_checkpoint

    root = tmp_path / "checkpoints"
    moved = []
    for i in range(3):  # the same step corrupted, re-saved and moved aside again within one second
        (root / "step-00000005").mkdir(parents=True)
        (root / "step-00000005" / "meta.json").write_text(str(i))
        moved.append(quarantine_checkpoint(root / "step-00000005"))
    assert len({p.name for p in moved}) == 3 and all(p.name.startswith("corrupt-step-00000005-") for p in moved)
    assert sorted((p / "meta.json").read_text() for p in moved) == ["0", "1", "2"]
    assert list_checkpoints(tmp_path) == []  # invisible to a resume
