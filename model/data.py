"""TokenLoader: a resumable, rank-sharded stream of ``seq_len + 1`` windows over token shards.

Reads a dataset of kind ``tokens`` (``longterm tokenize``): uncompressed Arrow IPC files with one
flat ``tokens`` column, memory-mapped (``pa.memory_map`` + ``ipc.open_file``) and viewed as numpy
arrays without copying. Torch, numpy and storage only: runs under plain ``torchrun``.

    loader = TokenLoader("runs/tokens", split="train", seq_len=2048, batch_size=8,
                         rank=rank, world_size=world_size, seed=0)
    x, y = loader.next_batch()            # LongTensors [B, T]; y is x shifted by one token
    state = loader.state_dict()           # put it in the checkpoint
    loader.load_state_dict(state)         # the next batches are bit-identical to an uninterrupted run

Semantics (see docs/tokens.md):
- The split's shards, in manifest order, form one token stream of N tokens. Window ``w`` is
  ``stream[w*T : w*T + T + 1]`` (consecutive windows share one token), ``num_windows = (N-1) // T``.
  Windows run across document and shard boundaries; documents are separated by EOS.
- One *global sample order* depends only on (dataset, T, seed, shuffle): epoch ``e`` visits every
  window once in the order ``permutation(num_windows)`` drawn from ``numpy.random.default_rng([seed, e])``.
- A step consumes ``world_size * batch_size`` consecutive global samples; rank ``r`` takes the
  ``r``-th block of ``batch_size``. The state is one number, ``global_sample``, the same on every
  rank. Resuming with a different ``world_size`` or ``batch_size`` continues the same global order
  from that sample: the data seen over the whole run is still a prefix of the global order, with no
  sample repeated or skipped.
- ``infinite=True`` (training) runs epoch after epoch. ``infinite=False`` (evaluation) stops after
  one pass; every rank takes the same number of steps and may get fewer rows (even zero) in the last.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import torch

import storage
from storage import DatasetError, ShardInfo
from storage.uri import filesystem_for, is_remote

STATE_VERSION = 1
VERIFY_MODES = ("sha256", "size", "none")
_VERIFIED: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) -> sha256 of a shard hashed by this process


def _sha256_mapped(path: str, mapped: pa.MemoryMappedFile) -> str:
    """sha256 of a memory-mapped shard, hashed from the mapping itself (one pass over the pages, which
    training then reads from the page cache); cached per process by path, size and mtime, so the val
    loader rebuilt at every evaluation does not hash again."""
    st = os.stat(path)
    key = (path, st.st_size, st.st_mtime_ns)
    if key not in _VERIFIED:
        _VERIFIED[key] = hashlib.sha256(mapped.read_buffer()).hexdigest()  # hashlib drops the GIL on big buffers
        mapped.seek(0)
    return _VERIFIED[key]


def open_token_shard(ds: storage.Dataset, shard: ShardInfo, dtype: str, verify: str = "sha256") -> list[np.ndarray]:
    """Memory-map one shard and return its ``tokens`` chunks as zero-copy numpy arrays.

    ``verify``: ``"sha256"`` (default) checks the size and the sha256 recorded in the manifest by the
    tokenize stage, so a flipped byte is refused with a ``DatasetError`` naming the shard;
    ``"size"`` checks the file size only (free, catches truncation); ``"none"`` trusts the file.
    """
    where = f"{ds.uri}/{shard.path}"
    uri = ds.shard_uri(shard)
    if is_remote(uri):  # object stores cannot be memory-mapped: read (and check) the bytes once
        source: Any = pa.BufferReader(ds.read_shard_bytes(shard, verify=verify != "none"))
    else:
        _, path = filesystem_for(uri)
        try:
            size = os.path.getsize(path)
        except OSError as e:
            raise DatasetError(f"{where}: shard listed in the manifest is missing ({e}); rerun `longterm tokenize`") from e
        if verify != "none" and size != shard.bytes:
            raise DatasetError(
                f"{where}: file has {size} bytes but the manifest says {shard.bytes} (truncated or overwritten); "
                f"delete {ds.uri} and rerun `longterm tokenize`"
            )
        source = pa.memory_map(path, "r")
        if verify == "sha256" and (digest := _sha256_mapped(path, source)) != shard.sha256:
            raise DatasetError(
                f"{where}: sha256 differs from the manifest ({digest[:12]}... vs {shard.sha256[:12]}...): the shard was "
                f"modified or corrupted; delete {ds.uri} and rerun `longterm tokenize`"
            )
    try:
        table = ipc.open_file(source).read_all()
    except (pa.ArrowInvalid, OSError) as e:
        raise DatasetError(f"{where}: not a readable Arrow IPC file ({e}); delete {ds.uri} and rerun `longterm tokenize`") from e
    if table.column_names != ["tokens"] or str(table.schema.field("tokens").type) != dtype:
        raise DatasetError(
            f"{where}: expected one column 'tokens' of {dtype} (manifest stats), found {table.schema}; "
            f"this is not a shard of this token dataset"
        )
    if table.num_rows != shard.rows:
        raise DatasetError(
            f"{where}: holds {table.num_rows} tokens but the manifest says {shard.rows}; the manifest does not "
            f"match its shards: delete {ds.uri} and rerun `longterm tokenize`"
        )
    return [chunk.to_numpy(zero_copy_only=True) for chunk in table.column("tokens").chunks if len(chunk)]


def check_tokenizer(stats: dict[str, Any], tokenizer: Any, where: str = "token dataset") -> None:
    """Refuse a tokenizer (``model.tokenizer.Tokenizer``) other than the one the shards were made with."""
    want = (stats.get("tokenizer_digest"), stats.get("vocab_size"), stats.get("padded_vocab_size"))
    have = (tokenizer.digest, tokenizer.vocab_size, tokenizer.padded_vocab_size)
    if want != have:
        raise DatasetError(
            f"{where}: shards were tokenized with tokenizer sha256 {str(want[0])[:12]} (vocab {want[1]}, padded "
            f"{want[2]}) but the tokenizer at {getattr(tokenizer, 'location', '?')} is sha256 {have[0][:12]} "
            f"(vocab {have[1]}, padded {have[2]}); use the tokenizer named in the manifest "
            f"({stats.get('tokenizer_uri', '?')}) or retokenize"
        )


def segments_from_eos(x: torch.Tensor, eos_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Segment ids and in-segment positions of packed windows ``x`` [B, T], for block-diagonal attention.

    A new segment starts right after each EOS (the EOS belongs to the document it ends); positions
    restart at 0 in every segment. Pass them to ``Transformer.forward(x, segment_ids=..., positions=...)``.
    """
    is_start = torch.zeros_like(x, dtype=torch.bool)
    is_start[:, 1:] = x[:, :-1] == eos_id
    segment_ids = torch.cumsum(is_start.long(), dim=1)
    index = torch.arange(x.shape[1], device=x.device).expand_as(x)
    start_index = torch.cummax(torch.where(is_start, index, torch.zeros_like(index)), dim=1).values
    return segment_ids, index - start_index


class TokenLoader:
    """Batches ``(x, y)`` of shape ``[batch_size, seq_len]`` from a token dataset; see the module docstring."""

    def __init__(
        self,
        data_uri: str,
        split: str = "train",
        seq_len: int = 2048,
        batch_size: int = 8,
        rank: int = 0,
        world_size: int = 1,
        seed: int = 0,
        lang: str | None = None,
        *,
        shuffle: bool = True,
        infinite: bool = True,
        verify: str = "sha256",
        pin_memory: bool | None = None,
        tokenizer: Any = None,
    ) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not in [0, world_size={world_size})")
        if seq_len < 1 or batch_size < 1:
            raise ValueError(f"seq_len and batch_size must be positive, got {seq_len} and {batch_size}")
        if verify not in VERIFY_MODES:
            raise ValueError(f"verify must be one of {VERIFY_MODES}, got {verify!r}")
        self.dataset = storage.open_dataset(data_uri, kind="tokens")
        self.stats = self.dataset.manifest.stats
        if tokenizer is not None:
            check_tokenizer(self.stats, tokenizer, self.dataset.uri)
        self.split, self.lang = split, lang
        self.seq_len, self.batch_size = seq_len, batch_size
        self.rank, self.world_size, self.seed = rank, world_size, seed
        self.shuffle, self.infinite = shuffle, infinite
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else pin_memory

        shards = self._select_shards()
        dtype = self.stats.get("dtype", "uint16")
        self.segments: list[np.ndarray] = []
        for shard in shards:
            self.segments.extend(open_token_shard(self.dataset, shard, dtype, verify))
        lengths = np.array([len(s) for s in self.segments], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(lengths)])  # segment k spans offsets[k]:offsets[k+1]
        self.num_tokens = int(self.offsets[-1])
        self.num_windows = (self.num_tokens - 1) // seq_len if self.num_tokens else 0
        if self.num_windows == 0:
            raise DatasetError(
                f"{self.dataset.uri}: split {split!r}{f' lang {lang!r}' if lang else ''} holds {self.num_tokens} "
                f"tokens, fewer than seq_len + 1 = {seq_len + 1}; use a shorter seq_len or more data"
            )
        # every (T+1)-long slice of a chunk, as a zero-copy strided view: row i starts at token i
        self._views = [
            np.lib.stride_tricks.sliding_window_view(seg, seq_len + 1) if len(seg) > seq_len else seg[:0].reshape(0, seq_len + 1)
            for seg in self.segments
        ]
        self.global_sample = 0
        self._perm_epoch = -1
        self._perm: np.ndarray | None = None

    def _select_shards(self) -> list[ShardInfo]:
        shards = self.dataset.shards(self.split)
        if self.lang is not None:
            shards = [s for s in shards if s.attrs.get("lang") == self.lang]
        if not shards:
            langs = sorted({str(s.attrs.get("lang")) for s in self.dataset.shards(self.split) if "lang" in s.attrs})
            sections = sorted({s.section for s in self.dataset.manifest.shards})
            raise DatasetError(
                f"{self.dataset.uri}: no shards for split {self.split!r}"
                + (f" and lang {self.lang!r} (languages here: {langs or 'none'})" if self.lang else "")
                + f"; sections present: {sections}"
            )
        return shards

    # ------------------------------------------------------------------ order

    @property
    def global_batch_size(self) -> int:
        return self.batch_size * self.world_size

    @property
    def epoch(self) -> int:
        return self.global_sample // self.num_windows

    @property
    def steps_per_epoch(self) -> int:
        return -(-self.num_windows // self.global_batch_size)

    def window_of(self, sample: int) -> int:
        """The window index that global sample ``sample`` reads."""
        epoch, pos = divmod(sample, self.num_windows)
        if not self.shuffle:
            return pos
        if epoch != self._perm_epoch:
            rng = np.random.default_rng([self.seed, epoch])
            index_dtype = np.int32 if self.num_windows < 2**31 else np.int64
            self._perm = rng.permutation(np.arange(self.num_windows, dtype=index_dtype))
            self._perm_epoch = epoch
        assert self._perm is not None
        return int(self._perm[pos])

    def windows_of(self, first: int, count: int) -> np.ndarray:
        """Window indices of global samples ``first .. first + count - 1`` (vectorised ``window_of``)."""
        samples = np.arange(first, first + count, dtype=np.int64)
        epochs, pos = np.divmod(samples, self.num_windows)
        if not self.shuffle:
            return pos
        out = np.empty(count, dtype=np.int64)
        for epoch in np.unique(epochs):
            mask = epochs == epoch
            self.window_of(int(epoch) * self.num_windows)  # makes this epoch's permutation current
            assert self._perm is not None
            out[mask] = self._perm[pos[mask]]
        return out

    def _copy_window(self, w: int, x_row: np.ndarray, y_row: np.ndarray) -> None:
        start = w * self.seq_len
        stop = start + self.seq_len + 1
        k = int(np.searchsorted(self.offsets, start, side="right")) - 1
        seg, lo = self.segments[k], start - int(self.offsets[k])
        if stop <= self.offsets[k + 1]:
            window = seg[lo : lo + self.seq_len + 1]
        else:  # crosses a chunk/shard boundary: gather the pieces
            pieces, need = [seg[lo:]], self.seq_len + 1 - (len(seg) - lo)
            while need > 0:
                k += 1
                pieces.append(self.segments[k][:need])
                need -= len(pieces[-1])
            window = np.concatenate(pieces)
        x_row[:] = window[:-1]
        y_row[:] = window[1:]

    def _fill(self, windows: np.ndarray, x_np: np.ndarray, y_np: np.ndarray) -> None:
        """Copy the given windows into the rows of x and y: one vectorised gather per shard chunk for
        windows inside a chunk, a piecewise copy for the rare window that crosses chunks."""
        starts = windows * self.seq_len
        seg_of = np.searchsorted(self.offsets, starts, side="right") - 1
        inside = starts + self.seq_len + 1 <= self.offsets[seg_of + 1]
        for k in np.unique(seg_of[inside]):
            rows = np.flatnonzero(inside & (seg_of == k))
            block = self._views[k][starts[rows] - self.offsets[k]]  # [n, T+1] gather, no index array per token
            if len(rows) == len(windows):  # the common case: the whole batch from one chunk, plain slices
                x_np[:] = block[:, :-1]
                y_np[:] = block[:, 1:]
            else:
                x_np[rows] = block[:, :-1]
                y_np[rows] = block[:, 1:]
        for row in np.flatnonzero(~inside):
            self._copy_window(int(windows[row]), x_np[row], y_np[row])

    # ------------------------------------------------------------------ batches

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next ``(x, y)`` for this rank; advances the global position by one global batch."""
        first = self.global_sample + self.rank * self.batch_size
        samples = range(first, first + self.batch_size)
        if not self.infinite:
            if self.global_sample >= self.num_windows:
                raise StopIteration
            samples = range(first, max(first, min(first + self.batch_size, self.num_windows)))
        rows = len(samples)
        x = torch.empty((rows, self.seq_len), dtype=torch.long, pin_memory=self.pin_memory)
        y = torch.empty((rows, self.seq_len), dtype=torch.long, pin_memory=self.pin_memory)
        if rows:
            self._fill(self.windows_of(samples.start, rows), x.numpy(), y.numpy())
        self.global_sample += self.global_batch_size
        return x, y

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        while True:
            try:
                yield self.next_batch()
            except StopIteration:
                return

    # ------------------------------------------------------------------ resume

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue the global order; identical on every rank."""
        return {
            "version": STATE_VERSION,
            "global_sample": self.global_sample,
            "epoch": self.epoch,
            "seed": self.seed,
            "seq_len": self.seq_len,
            "shuffle": self.shuffle,
            "split": self.split,
            "lang": self.lang,
            "num_windows": self.num_windows,
            "dataset_digest": self.dataset.digest,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from ``state``; refuses a state of another dataset, split, seq_len, seed or order."""
        mine = self.state_dict()
        for key in ("seq_len", "seed", "shuffle", "split", "lang", "num_windows", "dataset_digest"):
            if state.get(key) != mine[key]:
                raise ValueError(
                    f"loader state does not fit this loader: {key} is {state.get(key)!r} in the state but "
                    f"{mine[key]!r} here ({self.dataset.uri}); resume with the same data, split, seq_len and seed"
                )
        self.global_sample = int(state["global_sample"])

    def __repr__(self) -> str:
        return (
            f"TokenLoader({self.dataset.uri!r}, split={self.split!r}, lang={self.lang!r}, tokens={self.num_tokens:,}, "
            f"windows={self.num_windows:,}, T={self.seq_len}, B={self.batch_size}, rank={self.rank}/{self.world_size})"
        )
