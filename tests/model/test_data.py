"""TokenLoader: windows, shuffling, rank sharding, bit-identical resume, resume with other ranks, bad shards."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from model.data import TokenLoader
from storage import DatasetError
from tests.tasks.tokens_fixtures import write_token_dataset

T, B = 16, 4


@pytest.fixture()
def arange_data(tmp_path: Path) -> str:
    # token i has value i % 60000: every window is identifiable by its first token
    n = 5000
    tokens = np.arange(n) % 60000
    return write_token_dataset(tmp_path / "tok", [tokens[:1234], tokens[1234:1240], tokens[1240:]],
                               val={"en": np.arange(300), "zh": np.arange(100) + 7})


def _starts(x: torch.Tensor) -> list[int]:
    return [int(v) for v in x[:, 0]]


def test_windows_are_shifted_pairs_across_shard_boundaries(arange_data: str) -> None:
    loader = TokenLoader(arange_data, seq_len=T, batch_size=B, shuffle=False)
    assert loader.num_tokens == 5000 and loader.num_windows == (5000 - 1) // T
    seen = []
    for _ in range(loader.num_windows // B):
        x, y = loader.next_batch()
        assert x.dtype == torch.long and x.shape == (B, T) and y.shape == (B, T)
        assert torch.equal(y[:, :-1], x[:, 1:])
        assert torch.equal(x, x[:, :1] + torch.arange(T))  # contiguous runs, including across shards
        seen += _starts(x)
    assert seen == [w * T for w in range(len(seen))]


def test_shuffle_is_a_seeded_permutation_per_epoch(arange_data: str) -> None:
    a = TokenLoader(arange_data, seq_len=T, batch_size=B, seed=1)
    b = TokenLoader(arange_data, seq_len=T, batch_size=B, seed=1)
    c = TokenLoader(arange_data, seq_len=T, batch_size=B, seed=2)
    epoch = [a.window_of(s) for s in range(a.num_windows)]
    assert sorted(epoch) == list(range(a.num_windows))
    assert epoch == [b.window_of(s) for s in range(b.num_windows)]
    assert epoch != [c.window_of(s) for s in range(c.num_windows)]
    assert epoch != [a.window_of(a.num_windows + s) for s in range(a.num_windows)]  # reshuffled next epoch
    assert torch.equal(a.next_batch()[0], b.next_batch()[0])


def test_ranks_partition_each_global_batch(arange_data: str) -> None:
    single = TokenLoader(arange_data, seq_len=T, batch_size=2 * B, seed=3)
    ranks = [TokenLoader(arange_data, seq_len=T, batch_size=B, seed=3, rank=r, world_size=2) for r in range(2)]
    for _ in range(5):
        whole = single.next_batch()[0]
        parts = torch.cat([r.next_batch()[0] for r in ranks])
        assert torch.equal(whole, parts)


def test_resume_is_bit_identical(arange_data: str) -> None:
    # the torchtitan test_dataset_checkpointing pattern: run, save, rebuild, load, compare the next batches
    loader = TokenLoader(arange_data, seq_len=T, batch_size=B, seed=5)
    for _ in range(40):  # > one epoch (78 windows / 4 per batch), so an epoch boundary is crossed
        loader.next_batch()
    state = json.loads(json.dumps(loader.state_dict()))  # states go through JSON checkpoints
    expected = [loader.next_batch() for _ in range(8)]
    fresh = TokenLoader(arange_data, seq_len=T, batch_size=B, seed=5)
    fresh.load_state_dict(state)
    for (x, y), (x2, y2) in zip(expected, [fresh.next_batch() for _ in range(8)]):
        assert torch.equal(x, x2) and torch.equal(y, y2)


def test_resume_with_a_different_world_size_continues_the_global_order(arange_data: str) -> None:
    ref = TokenLoader(arange_data, seq_len=T, batch_size=B, seed=9)  # 1 rank, B=4
    order = [s for _ in range(12) for s in _starts(ref.next_batch()[0])]
    first = TokenLoader(arange_data, seq_len=T, batch_size=B, seed=9)
    got = [s for _ in range(4) for s in _starts(first.next_batch()[0])]
    state = first.state_dict()
    ranks = [TokenLoader(arange_data, seq_len=T, batch_size=2, seed=9, rank=r, world_size=4) for r in range(4)]
    for r in ranks:
        r.load_state_dict(state)
    for _ in range(4):  # 4 ranks x 2 rows = 8 samples per step: 16 + 32 = 48 samples in all
        got += [s for r in ranks for s in _starts(r.next_batch()[0])]
    assert got == order


def test_validation_by_language_and_finite_pass(arange_data: str) -> None:
    zh = TokenLoader(arange_data, split="val", lang="zh", seq_len=T, batch_size=B, shuffle=False, infinite=False)
    assert zh.num_tokens == 100
    rows = [x for x, _ in zh]
    assert sum(len(x) for x in rows) == zh.num_windows == 6 and int(rows[0][0, 0]) == 7
    both = TokenLoader(arange_data, split="val", seq_len=T, batch_size=B, infinite=False)
    assert both.num_tokens == 400
    with pytest.raises(DatasetError, match=r"no shards for split 'val' and lang 'fr' \(languages here: \['en', 'zh'\]\)"):
        TokenLoader(arange_data, split="val", lang="fr", seq_len=T)


def test_state_of_another_loader_is_refused(arange_data: str) -> None:
    state = TokenLoader(arange_data, seq_len=T, batch_size=B, seed=1).state_dict()
    other = TokenLoader(arange_data, seq_len=T + 1, batch_size=B, seed=1)
    with pytest.raises(ValueError, match="seq_len is 16 in the state but 17 here"):
        other.load_state_dict(state)


def test_uint32_shards_and_zero_copy(tmp_path: Path) -> None:
    big = np.array([70000, 1, 99999, 2] * 40, dtype=np.uint32)
    uri = write_token_dataset(tmp_path / "u32", [big], dtype="uint32", vocab_size=100_000)
    loader = TokenLoader(uri, seq_len=8, batch_size=2, shuffle=False)
    assert loader.segments[0].dtype == np.uint32 and not loader.segments[0].flags.owndata
    x, _ = loader.next_batch()
    assert x[0].tolist() == big[:8].tolist()


def test_truncated_shard_is_refused(arange_data: str) -> None:
    shard = Path(arange_data) / "train" / "part-00002.arrow"
    shard.write_bytes(shard.read_bytes()[:-100])
    with pytest.raises(DatasetError, match=r"train/part-00002.arrow: file has \d+ bytes but the manifest says \d+ \(truncated"):
        TokenLoader(arange_data, seq_len=T)
    # without the size check the Arrow reader itself refuses the damaged file, naming it
    with pytest.raises(DatasetError, match=r"part-00002.arrow: not a readable Arrow IPC file"):
        TokenLoader(arange_data, seq_len=T, verify="none")


def test_manifest_that_does_not_match_its_shards_is_refused(arange_data: str) -> None:
    manifest_path = Path(arange_data) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    for shard in manifest["shards"]:
        if shard["path"] == "train/part-00001.arrow":
            shard["rows"] += 3
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(DatasetError, match=r"train/part-00001.arrow: holds 6 tokens but the manifest says 9"):
        TokenLoader(arange_data, seq_len=T)


def _flip_a_byte(shard: Path) -> None:
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))


def test_a_flipped_byte_is_refused_by_default_naming_the_shard(arange_data: str) -> None:
    TokenLoader(arange_data, seq_len=T)  # hashed and cached (path, size, mtime) in this process
    _flip_a_byte(Path(arange_data) / "train" / "part-00000.arrow")
    with pytest.raises(DatasetError, match=r"/train/part-00000.arrow: sha256 differs from the manifest .*corrupted"):
        TokenLoader(arange_data, seq_len=T)  # the default verifies; the rewrite invalidated the cache entry
    TokenLoader(arange_data, seq_len=T, verify="size")  # same size: only the digest sees it


def test_segments_restart_after_each_eos() -> None:
    from model.data import segments_from_eos

    x = torch.tensor([[5, 6, 2, 7, 2, 2, 8, 9], [2, 1, 1, 1, 1, 1, 1, 2]])
    seg, pos = segments_from_eos(x, eos_id=2)
    assert seg.tolist() == [[0, 0, 0, 1, 1, 2, 3, 3], [0, 1, 1, 1, 1, 1, 1, 1]]
    assert pos.tolist() == [[0, 1, 2, 0, 1, 0, 0, 1], [0, 0, 1, 2, 3, 4, 5, 6]]
