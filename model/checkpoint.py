"""Training checkpoints: sharded model + optimizer through torch.distributed.checkpoint (DCP), plus JSON
for everything else, never unpickling arbitrary objects on load.

Layout of one checkpoint (``RUN/checkpoints/step-00001000/``)::

    .metadata, __*_*.distcp   DCP: model and optimizer state (sharded under FSDP, resharded on load)
    rank-00000.json           per rank: loader state and RNG states (torch CPU/CUDA, numpy, python)
    digests.json              written by rank 0 once every other file is complete: size and sha256 of each
    meta.json                 written LAST by rank 0: step, tokens seen, model config, train config,
                              schedule state, world size, the sha256 of digests.json and of meta.json's own
                              content. A directory without it is incomplete.

Loading checks meta.json against its own digest and every file against digests.json before DCP reads
anything, and refuses a corrupt checkpoint with a ``CheckpointError`` naming the file (under torchrun
the ranks share the hashing). Checkpoints written before digests existed load unchecked.

Saves are asynchronous when asked (``dcp.async_save``: the state is staged to host memory, then written
by a background thread while training continues); ``meta.json`` goes in only once the write finished.
Loading reads DCP's pickled ``.metadata`` with an unpickler that admits DCP's own metadata classes
only, and tensors/bytes entries with ``torch.load(weights_only=True)`` (DCP's default).

    from model.checkpoint import load_model
    model, cfg = load_model("runs/pretrain-tiny")          # latest complete checkpoint of a run
"""

from __future__ import annotations

import base64
import hashlib
import json
import pickle
import random
import re
import shutil
import time
import warnings
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint import DefaultLoadPlanner, FileSystemReader
from torch.distributed.checkpoint.api import CheckpointException
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_state_dict,
    set_model_state_dict,
    set_state_dict,
)

from model.llama import ModelConfig, Transformer

warnings.filterwarnings("ignore", message="torch.distributed is disabled")  # single-process DCP is intended

FORMAT = 1
META = "meta.json"
DIGESTS = "digests.json"
STEP_DIR = re.compile(r"^step-(\d{8})$")
SHAPE_FIELDS = ("vocab_size", "n_layer", "d_model", "n_head", "n_kv_head", "ffn_hidden")


class CheckpointError(ValueError):
    """A checkpoint that is missing, incomplete, or does not fit the model it is loaded into."""


class CorruptCheckpointError(CheckpointError):
    """A checkpoint whose files do not match the digests it was sealed with (or cannot be parsed): a resume
    may fall back to the one before it (:func:`quarantine_checkpoint`)."""


# ----------------------------------------------------------------------------- safe DCP metadata


_ALLOWED_GLOBALS = {
    ("torch", "Size"),
    ("torch.serialization", "_get_layout"),
    ("pathlib", "PosixPath"),
    ("pathlib", "PurePosixPath"),
    ("pathlib", "WindowsPath"),
    ("collections", "OrderedDict"),
}


class _DCPMetadataUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module.startswith("torch.distributed.checkpoint") or (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
            return getattr(torch, name)
        raise CheckpointError(f"refusing to unpickle {module}.{name} from a checkpoint's DCP metadata (not a DCP metadata class)")


class SafeFileSystemReader(FileSystemReader):
    """FileSystemReader whose ``.metadata`` is unpickled with an allow-list of DCP classes."""

    def read_metadata(self, *args: Any, **kwargs: Any):
        path = self._get_metadata_path(kwargs.get("rank"))
        with self.fs.create_stream(path, "rb") as f:
            metadata = _DCPMetadataUnpickler(f).load()
        from torch.distributed.checkpoint.metadata import StorageMeta

        if getattr(metadata, "storage_meta", None) is None:
            metadata.storage_meta = StorageMeta()
        metadata.storage_meta.load_id = self.load_id
        return metadata


# ----------------------------------------------------------------------------- RNG as JSON


def _b64(t: torch.Tensor) -> str:
    return base64.b64encode(t.cpu().numpy().tobytes()).decode()


def _unb64(s: str) -> torch.Tensor:
    return torch.from_numpy(np.frombuffer(base64.b64decode(s), dtype=np.uint8).copy())


def rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()
    py_state = random.getstate()
    return {
        "torch_cpu": _b64(torch.get_rng_state()),
        "torch_cuda": _b64(torch.cuda.get_rng_state()) if torch.cuda.is_available() and torch.cuda.is_initialized() else None,
        "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])],
        "python": [py_state[0], list(py_state[1]), py_state[2]],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(_unb64(state["torch_cpu"]))
    if state.get("torch_cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state(_unb64(state["torch_cuda"]))
    n = state["numpy"]
    np.random.set_state((n[0], np.array(n[1], dtype=np.uint32), n[2], n[3], n[4]))
    p = state["python"]
    random.setstate((p[0], tuple(p[1]), p[2]))


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, torch.Tensor):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"{type(o).__name__} is not JSON-serialisable in a checkpoint")


def _write_json(path: Path, obj: Any) -> None:
    _write_bytes(path, json.dumps(obj, default=_json_default, indent=1).encode())


def _write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".tmp-{path.name}")
    tmp.write_bytes(data)
    tmp.replace(path)


# ----------------------------------------------------------------------------- digests


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            h.update(block)
    return h.hexdigest()


def _meta_digest(meta: dict[str, Any]) -> str:
    """sha256 of meta.json's content (in its JSON form, keys sorted), leaving out this digest itself."""
    plain = json.loads(json.dumps({k: v for k, v in meta.items() if k != "meta_sha256"}, default=_json_default))
    return hashlib.sha256(json.dumps(plain, sort_keys=True).encode()).hexdigest()


def seal(path: str | Path, meta: dict[str, Any]) -> None:
    """Commit a checkpoint whose files are all written: ``digests.json`` (size and sha256 of every other
    file), then ``meta.json`` (the commit marker) carrying the sha256 of digests.json and of itself."""
    path = Path(path)
    files = {
        f.name: {"bytes": f.stat().st_size, "sha256": _sha256_file(f)}
        for f in sorted(path.iterdir())
        if f.is_file() and f.name not in (META, DIGESTS) and not f.name.startswith(".tmp-")
    }
    body = json.dumps({"algorithm": "sha256", "files": files}, indent=1).encode()
    _write_bytes(path / DIGESTS, body)
    meta = {**meta, "digests_sha256": hashlib.sha256(body).hexdigest()}
    _write_json(path / META, {**meta, "meta_sha256": _meta_digest(meta)})


def _check_file(path: Path, name: str, want: dict[str, Any]) -> str | None:
    """Why ``path/name`` does not match its digest entry, or None."""
    f = path / name
    try:
        size = f.stat().st_size
    except OSError:
        return f"{f}: listed in {DIGESTS} but missing"
    if size != want["bytes"]:
        return f"{f}: {size} bytes but {DIGESTS} says {want['bytes']} (truncated or overwritten)"
    if _sha256_file(f) != want["sha256"]:
        return f"{f}: sha256 differs from {DIGESTS} (the file was modified or corrupted)"
    return None


def verify_checkpoint(ckpt: str | Path, meta: dict[str, Any] | None = None) -> None:
    """Check every file of a checkpoint against its ``digests.json``; ``CheckpointError`` naming the
    first bad one. Collective under torch.distributed (each rank hashes a share of the files, biggest
    first, dealt round-robin; all ranks raise the same error), so call it on every rank, as DCP loads."""
    path = resolve_checkpoint(ckpt)
    meta = read_meta(path) if meta is None else meta
    if "digests_sha256" not in meta:
        return  # saved before checkpoints carried digests: nothing to check against
    hint = f"the checkpoint cannot be trusted: delete {path} to resume from the one before it"
    try:
        body = (path / DIGESTS).read_bytes()
    except OSError as e:
        raise CorruptCheckpointError(f"{path / DIGESTS}: missing ({e.strerror}); {hint}") from None
    if hashlib.sha256(body).hexdigest() != meta["digests_sha256"]:
        raise CorruptCheckpointError(f"{path / DIGESTS}: sha256 differs from the one in {META} (modified or corrupted); {hint}")
    files = json.loads(body)["files"]
    names = sorted(files, key=lambda n: (-int(files[n]["bytes"]), n))
    rank, world = (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)
    bad = next((why for n in names[rank::world] if (why := _check_file(path, n, files[n]))), None)
    if world > 1:
        found: list[str | None] = [None] * world
        dist.all_gather_object(found, bad)
        bad = next((b for b in found if b), None)
    if bad:
        raise CorruptCheckpointError(f"{bad}; {hint}")


def quarantine_checkpoint(path: str | Path) -> Path:
    """Move a corrupt checkpoint aside (``corrupt-step-<8 digits>-<unix time>``, which :func:`list_checkpoints`
    no longer sees, and nothing deletes) and return where it went. Collective under torch.distributed:
    rank 0 renames, every rank returns after it."""
    path = Path(path)
    stamp = int(time.time())
    aside = path.with_name(f"corrupt-{path.name}-{stamp}")
    n = 1
    while aside.exists():  # the same step moved aside twice within a second
        aside, n = path.with_name(f"corrupt-{path.name}-{stamp}-{n}"), n + 1
    if dist.is_initialized():
        names: list[str | None] = [str(aside)]
        dist.broadcast_object_list(names, src=0)  # one name for all ranks, rank 0's clock
        aside = Path(str(names[0]))
    if not dist.is_initialized() or dist.get_rank() == 0:
        path.rename(aside)
    if dist.is_initialized():
        dist.barrier()
    return aside


# ----------------------------------------------------------------------------- finding checkpoints


def list_checkpoints(root: str | Path) -> list[tuple[int, Path]]:
    """Complete checkpoints (with meta.json) under ``root`` (a run dir or its checkpoints/ dir), by step."""
    root = Path(root)
    if (root / "checkpoints").is_dir():
        root = root / "checkpoints"
    if not root.is_dir():
        return []
    found = []
    for d in root.iterdir():
        m = STEP_DIR.match(d.name)
        if m and (d / META).is_file():
            found.append((int(m.group(1)), d))
    return sorted(found)


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint dir itself, or the latest complete one of a run dir / checkpoints dir."""
    path = Path(path)
    if (path / META).is_file():
        return path
    found = list_checkpoints(path)
    if not found:
        hint = " (it has step dirs but none with meta.json: saves were interrupted)" if any(path.glob("**/step-*")) else ""
        raise CheckpointError(f"{path}: no complete checkpoint here{hint}")
    return found[-1][1]


def read_meta(ckpt: str | Path) -> dict[str, Any]:
    """meta.json of a checkpoint, checked against its own digest (a flipped byte is refused by name)."""
    ckpt = resolve_checkpoint(ckpt)
    try:
        meta = json.loads((ckpt / META).read_bytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CorruptCheckpointError(f"{ckpt / META}: not valid JSON ({e}); the checkpoint is corrupt: delete {ckpt} to resume from the one before it") from None
    fmt = meta.get("format") if isinstance(meta, dict) else None
    if fmt != FORMAT:
        raise CheckpointError(f"{ckpt}: checkpoint format {fmt!r}, this code reads {FORMAT}")
    if "meta_sha256" in meta and _meta_digest(meta) != meta["meta_sha256"]:
        raise CorruptCheckpointError(f"{ckpt / META}: content differs from its meta_sha256 (modified or corrupted); delete {ckpt} to resume from the one before it")
    return meta


def check_shape(ckpt_cfg: dict[str, Any], cfg: ModelConfig, where: str) -> None:
    diff = {k: (ckpt_cfg.get(k), getattr(cfg, k)) for k in SHAPE_FIELDS if ckpt_cfg.get(k) != getattr(cfg, k)}
    if diff:
        detail = ", ".join(f"{k}: checkpoint {a} vs model {b}" for k, (a, b) in diff.items())
        raise CheckpointError(f"{where} was saved from a different model shape ({detail}); use the same preset/overrides or a matching checkpoint")


# ----------------------------------------------------------------------------- save


class Checkpointer:
    """Saves checkpoints of one run, every N steps / M minutes as the caller decides, keeping the last k.

    ``protect_before_step``: also keep the newest checkpoint taken before this step (the multi-step
    schedule's first decay), which continual training (``--extend-from``) restarts from."""

    def __init__(self, run_dir: str | Path, *, keep_last: int = 3, async_save: bool = False, protect_before_step: int | None = None) -> None:
        self.root = Path(run_dir) / "checkpoints"
        self.keep_last = max(1, keep_last)
        self.async_save = async_save
        self.protect_before_step = protect_before_step
        self.rank = dist.get_rank() if dist.is_initialized() else 0
        self._pending: Future | None = None
        self._committer: ThreadPoolExecutor | None = None  # async saves: digests + meta.json off the training thread
        self.last_save_time = time.monotonic()

    def save(self, step: int, model: torch.nn.Module, optimizer: torch.optim.Optimizer, *, meta: dict[str, Any], rank_state: dict[str, Any]) -> Path:
        self.wait()  # one save in flight at a time
        path = self.root / f"step-{step:08d}"
        if self.rank == 0:
            if path.exists():
                shutil.rmtree(path)  # a stale incomplete save of the same step
            path.mkdir(parents=True)
        if dist.is_initialized():
            dist.barrier()
        msd, osd = get_state_dict(model, optimizer)
        _write_json(path / f"rank-{self.rank:05d}.json", {**rank_state, "rng": rng_state()})
        full_meta = {"format": FORMAT, "step": step, "world_size": dist.get_world_size() if dist.is_initialized() else 1, "saved_at": time.time(), **meta}

        def finish(written: Future | None = None) -> None:
            if written is not None:
                written.result()
            if self.rank == 0:  # every rank's files are complete once DCP's save returned on rank 0
                seal(path, full_meta)
                self._prune()

        state = {"model": msd, "optim": osd}
        if self.async_save:
            written = dcp.async_save(state, checkpoint_id=str(path), no_dist=not dist.is_initialized())
            self._committer = self._committer or ThreadPoolExecutor(1, thread_name_prefix="checkpoint-commit")
            self._pending = self._committer.submit(finish, written)
        else:
            dcp.save(state, checkpoint_id=str(path), no_dist=not dist.is_initialized())
            finish()
        self.last_save_time = time.monotonic()
        return path

    def poll(self) -> None:
        """Finish an async save if its write has completed (cheap; call every step)."""
        if self._pending is not None and self._pending.done():
            self.wait()

    def wait(self) -> None:
        if self._pending is not None:
            fut, self._pending = self._pending, None
            fut.result()

    def _prune(self) -> None:
        complete = list_checkpoints(self.root)
        keep = {p for _, p in complete[-self.keep_last :]}
        if self.protect_before_step is not None:
            before = [p for s, p in complete if s <= self.protect_before_step]
            if before:
                keep.add(before[-1])
        for _, p in complete:
            if p not in keep:
                shutil.rmtree(p, ignore_errors=True)


# ----------------------------------------------------------------------------- load


def _dcp_load(state: dict[str, Any], path: Path, partial: bool = False) -> None:
    planner = DefaultLoadPlanner(allow_partial_load=partial)
    try:
        dcp.load(state, storage_reader=SafeFileSystemReader(str(path)), planner=planner, no_dist=not dist.is_initialized())
    except (Exception, CheckpointException) as e:  # DCP wraps rank failures in a CheckpointException (a BaseException)
        refused = re.search(r"refusing to unpickle [\w.]+", str(e))
        if refused:
            raise CheckpointError(f"{path}: {refused.group(0)} from the DCP metadata; the checkpoint is not trustworthy") from None
        raise CheckpointError(f"{path}: cannot load the model/optimizer state: {str(e).splitlines()[-1][:500]}") from e


def load_checkpoint(ckpt: str | Path, model: Transformer, optimizer: torch.optim.Optimizer | None = None) -> dict[str, Any]:
    """Load model (and optimizer) state in place; return meta.json plus this rank's ``rank_state``."""
    path = resolve_checkpoint(ckpt)
    meta = read_meta(path)
    check_shape(meta["model_config"], model.cfg, str(path))
    verify_checkpoint(path, meta)
    opts = StateDictOptions(strict=True)
    if optimizer is not None:
        msd, osd = get_state_dict(model, optimizer, options=opts)
        state = {"model": msd, "optim": osd}
        _dcp_load(state, path)
        set_state_dict(model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optim"], options=opts)
    else:
        state = {"model": get_model_state_dict(model, options=opts)}
        _dcp_load(state, path, partial=True)
        set_model_state_dict(model, state["model"], options=opts)
    rank = dist.get_rank() if dist.is_initialized() else 0
    rank_file = path / f"rank-{rank:05d}.json"
    meta["rank_state"] = json.loads(rank_file.read_text()) if rank_file.is_file() else None
    return meta


def load_latest_checkpoint(run_dir: str | Path, model: Transformer, optimizer: torch.optim.Optimizer | None = None,
                           log: Any = None) -> tuple[Path, dict[str, Any]] | None:
    """Resume a run: load its newest checkpoint that verifies; return (path, meta), or None when it has none.

    A corrupt checkpoint (:class:`CorruptCheckpointError`) is moved aside (:func:`quarantine_checkpoint`) and
    the one before it is tried; when every checkpoint is corrupt, ``CheckpointError`` lists where they went
    (a rerun then starts from step 0). Any other ``CheckpointError`` (another model shape) is raised as is."""
    own = list_checkpoints(run_dir)
    corrupt: list[str] = []
    while own:
        path = own.pop()[1]
        try:
            return path, load_checkpoint(path, model, optimizer)
        except CorruptCheckpointError as e:  # verified before any state is loaded: the model is untouched
            aside = quarantine_checkpoint(path)
            corrupt.append(str(aside))
            if log is not None:
                log.warning("%s: moved aside to %s; resuming from the checkpoint before it", e, aside)
    if corrupt:
        raise CheckpointError(f"{run_dir}: every checkpoint is corrupt (moved aside: {', '.join(corrupt)}); "
                              "rerun to start over from step 0, or restore one of them")
    return None


def load_model(ckpt_dir: str | Path, map_location: str | torch.device = "cpu") -> tuple[Transformer, ModelConfig]:
    """The model of a checkpoint (or of a run's latest checkpoint), in eval mode, fp32 weights."""
    path = resolve_checkpoint(ckpt_dir)
    cfg = ModelConfig(**read_meta(path)["model_config"])
    model = Transformer(cfg)
    load_checkpoint(path, model)
    return model.to(map_location).eval(), cfg
