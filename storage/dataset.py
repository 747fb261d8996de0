"""Write and read versioned, checksummed datasets.

Layout of a stage output given ``--out ROOT``::

    ROOT/LATEST                       text file: name of the newest complete version
    ROOT/LATEST.pending               only while publishing: the version about to become LATEST
    ROOT/<stage>-<key>/manifest.json  written last; its presence means "complete"
    ROOT/<stage>-<key>-f<time>/       a version recomputed on request (``force=True``, ``--force``)
    ROOT/<stage>-<key>/data/part-00000.parquet
    ROOT/<stage>-<key>/dropped/part-00000.parquet
    ROOT/<stage>-<key>/quarantine/part-00000.parquet

``key`` is :func:`content_key` of the stage name, its resolved config, the digests of its
input manifests and the digest of the code that computes the stage (``code_digest``, given
by the caller: storage imports nothing from the repo; ``tasks/code_digest.py`` computes it),
so rerunning a stage on the same inputs with the same config and code finds a complete
version and does nothing, while a changed config or a code change writes a new version
beside the old one. ``force=True`` recomputes anyway into a fresh ``<stage>-<key>-f<time>``
directory, which LATEST and later reruns of that key then use (the old one stays intact).

Publishing: shards are written under temporary names (fsynced) and renamed; then
``LATEST.pending`` names the version, ``manifest.json`` is written (also through a temporary
name), ``LATEST`` is pointed at the version and ``LATEST.pending`` removed. A killed writer
therefore leaves at most a version without ``manifest.json``, which readers refuse (and
LATEST still names the previous version); killed between ``manifest.json`` and ``LATEST``,
``LATEST.pending`` names a complete version, which readers take as the root's newest version,
and a rerun (:meth:`DatasetWriter.reuse`) re-points ``LATEST`` at it.

The manifest's ``run`` section (units computed / skipped, CPU seconds) and its timestamps say
how the version was made, not what it is: they are left out of the manifest digest, so a
resumed run publishes the same digest as a clean one.

Usage (driver)::

    w = DatasetWriter("out/filtered", kind="documents", stage="filter", config=cfg, inputs=[...])
    if w.reuse():                                         # complete already: LATEST re-pointed here
        return w.location
    info = write_shard(w.location, "data", 0, table)      # also callable inside Ray workers
    w.commit([info, ...], counts)

Usage (reader)::

    ds = open_dataset("out/filtered")          # resolves LATEST, checks the manifest
    for batch in ds.iter_batches("data"):      # every shard's sha256 is checked as it is read
        ...
"""

from __future__ import annotations

import datetime as _dt
import errno
import hashlib
import io
import json
import logging
import os
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from storage.errors import DatasetError
from storage.manifest import Counts, InputRef, Manifest, ShardInfo
from storage.uri import filesystem_for, join
from storage.version import code_version, package_version

MANIFEST = "manifest.json"
LATEST = "LATEST"
PENDING = "LATEST.pending"
FORCED_MARK = "-f"  # <stage>-<key>-f<UTC time><random>: a version recomputed with force=True

log = logging.getLogger(__name__)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def content_key(
    stage: str,
    config: dict[str, Any],
    input_digests: Sequence[str],
    version: str | None = None,
    code_digest: str = "",
) -> str:
    """Deterministic 16-hex key of (stage, config, input digests, package version, code digest).

    ``code_digest`` (a digest of the source that computes the stage) is left out of the hashed
    payload when empty, so callers that give none keep the keys they had.
    """
    fields: dict[str, Any] = {"stage": stage, "config": config, "inputs": list(input_digests), "version": version or package_version()}
    if code_digest:
        fields["code"] = code_digest
    payload = json.dumps(fields, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


# ----------------------------------------------------------------------------- low-level I/O


def write_bytes_atomic(uri: str, data: bytes) -> None:
    """Write ``data`` to a temporary file in the same directory, then rename it over ``uri``.

    Local files are fsynced before the rename and their directory after it, so after a crash
    (even a power loss) the file holds either its old or its new content, never a part.
    """
    fs, path = filesystem_for(uri)
    parent, name = path.rsplit("/", 1)
    tmp = f"{parent}/.tmp-{uuid.uuid4().hex[:12]}-{name}"
    if isinstance(fs, pafs.LocalFileSystem):
        os.makedirs(parent, exist_ok=True)
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        _fsync_dir(parent)
        return
    fs.create_dir(parent, recursive=True)
    with fs.open_output_stream(tmp) as f:
        f.write(data)
    fs.move(tmp, path)


_RENAME_EXCHANGE = 2  # linux/fs.h


def exchange_paths(a: str, b: str) -> bool:
    """Swap two existing local paths in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``): a reader sees
    either the old or the new entry at each name, never neither. Returns False, having changed nothing, where
    the C library, kernel or filesystem has no such call (the caller falls back to two renames)."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):  # not glibc >= 2.28 (or not Linux)
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd = -100
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        _fsync_dir(os.path.dirname(os.path.abspath(a)) or ".")
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):  # no RENAME_EXCHANGE here
        return False
    raise OSError(err, f"cannot exchange {a} and {b}: {os.strerror(err)}")


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on directories; the rename itself is still atomic
    finally:
        os.close(fd)


def delete_file(uri: str) -> None:
    """Remove a file if it exists."""
    fs, path = filesystem_for(uri)
    if fs.get_file_info(path).type != pafs.FileType.NotFound:
        fs.delete_file(path)


def file_sha256(uri: str) -> str:
    """sha256 of a file (local path or URI), streamed in 1 MiB blocks."""
    fs, path = filesystem_for(uri)
    h = hashlib.sha256()
    with fs.open_input_stream(path) as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_bytes(uri: str) -> bytes:
    fs, path = filesystem_for(uri)
    with fs.open_input_stream(path) as f:
        return f.read()


def exists(uri: str) -> bool:
    fs, path = filesystem_for(uri)
    return fs.get_file_info(path).type != pafs.FileType.NotFound


def table_to_bytes(table: pa.Table, fmt: str, raw_columns: Sequence[str] = ()) -> bytes:
    """Serialise a table: ``parquet`` (zstd) for documents, ``arrow`` (uncompressed IPC file) for tokens.

    ``raw_columns`` (parquet): columns of random hash values, written plain (no dictionary, no zstd, which
    only made them larger and slower to read); the other columns then get no dictionary either."""
    sink = io.BytesIO()
    if fmt == "parquet" and raw_columns:
        raw = set(raw_columns)
        compression = {c: "none" if c.split(".")[0] in raw else "zstd" for c in _leaf_paths(table.schema)}
        pq.write_table(table, sink, compression=compression, use_dictionary=False, row_group_size=min(max(table.num_rows, 1), 8192))
    elif fmt == "parquet":
        pq.write_table(table, sink, compression="zstd", row_group_size=min(max(table.num_rows, 1), 8192))
    elif fmt == "arrow":
        with ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
    else:
        raise ValueError(f"unknown shard format {fmt!r} (parquet or arrow)")
    return sink.getvalue()


def _leaf_paths(schema: pa.Schema) -> list[str]:
    """Parquet column paths of a schema's leaves (``shingles.list.element`` for a list column)."""
    out = []

    def walk(prefix: str, t: pa.DataType) -> None:
        if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
            walk(f"{prefix}.list.element", t.value_type)
        elif pa.types.is_struct(t):
            for f in t:
                walk(f"{prefix}.{f.name}", f.type)
        else:
            out.append(prefix)

    for f in schema:
        walk(f.name, f.type)
    return out


def write_shard(
    location: str,
    section: str,
    index: int,
    table: pa.Table,
    *,
    fmt: str = "parquet",
    name: str | None = None,
    attrs: dict[str, Any] | None = None,
    raw_columns: Sequence[str] = (),
) -> ShardInfo:
    """Write one shard atomically under ``location/section/`` and return its ShardInfo.

    Stateless and picklable-friendly: call it from Ray workers with the writer's ``location``.
    ``name`` overrides the default ``part-{index:05d}.{fmt}``; ``raw_columns``: see :func:`table_to_bytes`.
    """
    data = table_to_bytes(table, fmt, raw_columns)
    rel = f"{section}/{name or f'part-{index:05d}.{fmt}'}"
    write_bytes_atomic(join(location, rel), data)
    return ShardInfo(
        path=rel,
        section=section,
        rows=table.num_rows,
        bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        attrs=dict(attrs or {}),
    )


# ----------------------------------------------------------------------------- writer


class DatasetWriter:
    """Stage a new dataset version and publish it atomically (manifest last).

    ``code_digest``: digest of the code that computes the stage (part of the key, recorded in
    the manifest). ``force``: do not reuse a complete version of this key; write a fresh one
    (``<stage>-<key>-f<time>``) that LATEST and later reruns of the same key then use.
    """

    def __init__(
        self,
        root: str,
        *,
        kind: str,
        stage: str,
        config: dict[str, Any],
        inputs: Sequence[InputRef] = (),
        key: str | None = None,
        versioned: bool = True,
        code_digest: str = "",
        force: bool = False,
    ) -> None:
        self.root = root.rstrip("/")
        self.kind = kind
        self.stage = stage
        self.config = config
        self.inputs = list(inputs)
        self.code_digest = code_digest
        self.key = key or content_key(stage, config, [i.digest for i in self.inputs], code_digest=code_digest)
        self.versioned = versioned
        self.force = force
        base = f"{stage}-{self.key}"
        if not versioned:
            self.name = ""
            self.location = self.root
        else:
            if force:
                stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
                self.name = f"{base}{FORCED_MARK}{stamp}{uuid.uuid4().hex[:4]}"
            else:
                self.name = _newest_complete_of_key(self.root, base) or base
            self.location = join(self.root, self.name)
        self.created_at = _now()

    def is_complete(self) -> bool:
        """True when this exact version was already published and its manifest reads back."""
        try:
            m = Manifest.from_json(read_bytes(join(self.location, MANIFEST)).decode())
        except (FileNotFoundError, OSError, ValueError, KeyError):
            return False
        return m.key == self.key

    def reuse(self) -> bool:
        """:meth:`is_complete`, and when it is, point ``LATEST`` at this version (a rerun that
        changes nothing still repairs a LATEST left stale by a crash; one that finds LATEST right
        leaves it alone, so a rerun writes no file) and return True."""
        if not self.is_complete():
            return False
        if self.versioned and not self._latest_is_current():
            self._point_latest()
        return True

    def _latest_is_current(self) -> bool:
        """LATEST already names this version and no publish is pending: a rerun writes nothing."""
        try:
            named = read_bytes(join(self.root, LATEST)).decode().strip()
        except (FileNotFoundError, OSError):
            return False
        return named == self.name and not exists(join(self.root, PENDING))

    def write(self, section: str, index: int, table: pa.Table, **kw: Any) -> ShardInfo:
        return write_shard(self.location, section, index, table, **kw)

    def _point_latest(self) -> None:
        write_bytes_atomic(join(self.root, LATEST), f"{self.name}\n".encode())
        delete_file(join(self.root, PENDING))

    def commit(
        self,
        shards: Sequence[ShardInfo],
        counts: Counts,
        stats: dict[str, Any] | None = None,
        run: dict[str, Any] | None = None,
    ) -> Manifest:
        """Check conservation, write ``manifest.json`` last, then point ``LATEST`` at this version.

        ``stats`` describe the content (part of the digest); ``run`` describes how this run went
        (timings, units skipped on resume) and is left out of the digest.
        """
        counts.check(self.stage)
        kept_rows = sum(s.rows for s in shards if s.section == "data")
        if self.kind == "documents" and kept_rows != counts.kept:
            raise AssertionError(f"{self.stage}: data shards hold {kept_rows} rows but counts.kept is {counts.kept}")
        q_rows = sum(s.rows for s in shards if s.section == "quarantine")
        if self.kind == "documents" and q_rows != counts.quarantined:
            raise AssertionError(
                f"{self.stage}: quarantine shards hold {q_rows} rows but counts.quarantined is {counts.quarantined}"
            )
        manifest = Manifest(
            kind=self.kind,
            stage=self.stage,
            key=self.key,
            config=self.config,
            inputs=self.inputs,
            code_version=code_version(),
            code_digest=self.code_digest,
            shards=sorted(shards, key=lambda s: (s.section, s.path)),
            counts=counts,
            stats=stats or {},
            run=run or {},
            created_at=self.created_at,
            finished_at=_now(),
        )
        if self.versioned:  # names the version while manifest.json and LATEST are written
            write_bytes_atomic(join(self.root, PENDING), f"{self.name}\n".encode())
        write_bytes_atomic(join(self.location, MANIFEST), manifest.to_json().encode())
        if self.versioned:
            self._point_latest()
        return manifest


def _newest_complete_of_key(root: str, base: str) -> str | None:
    """Name of the newest complete version of one key: a forced recompute, else ``base`` itself."""
    fs, path = filesystem_for(root)
    try:
        infos = fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
    except (OSError, ValueError):
        return None
    forced = sorted(
        (i.base_name for i in infos if i.type == pafs.FileType.Directory and i.base_name.startswith(base + FORCED_MARK)),
        reverse=True,
    )
    for name in forced + [base]:
        if exists(join(root, name, MANIFEST)):
            return name
    return None


# ----------------------------------------------------------------------------- reader


def resolve_dataset_uri(uri: str) -> str:
    """Return the version directory a URI names: itself if it has a manifest, else via ``LATEST``."""
    uri = uri.rstrip("/")
    if exists(join(uri, MANIFEST)):
        return uri
    pending = _pending_complete(uri)
    if pending is not None:
        return pending
    if exists(join(uri, LATEST)):
        name = read_bytes(join(uri, LATEST)).decode().strip()
        target = join(uri, name)
        if exists(join(target, MANIFEST)):
            return target
        raise DatasetError(
            f"{uri}: LATEST points to {name!r}, which has no {MANIFEST} (incomplete or deleted); "
            f"rerun the stage that writes {uri}"
        )
    if not exists(uri):
        raise DatasetError(f"{uri}: no such dataset (path does not exist)")
    raise DatasetError(
        f"{uri}: no {MANIFEST} here, so the dataset is incomplete (a writer was killed before publishing) "
        f"or this is not a dataset directory; rerun the stage that writes it"
    )


def _pending_complete(root: str) -> str | None:
    """The version ``LATEST.pending`` names when it is complete: its writer was killed after
    ``manifest.json`` and before ``LATEST``, so it is the root's newest version."""
    marker = join(root, PENDING)
    try:
        name = read_bytes(marker).decode().strip()
    except (FileNotFoundError, OSError):
        return None
    target = join(root, name)
    if not name or not exists(join(target, MANIFEST)):
        return None  # killed before manifest.json: LATEST (the previous version) stays right
    log.warning("%s: LATEST is stale (a writer was killed before updating it); using %s, "
                "rerun the stage to re-point LATEST", root, name)
    return target


class Dataset:
    """A published dataset: its manifest plus verified access to its shards."""

    def __init__(self, uri: str, manifest: Manifest) -> None:
        self.uri = uri
        self.manifest = manifest

    @property
    def digest(self) -> str:
        return self.manifest.digest

    @property
    def kind(self) -> str:
        return self.manifest.kind

    def ref(self) -> InputRef:
        return InputRef(uri=self.uri, digest=self.digest)

    def shards(self, section: str = "data") -> list[ShardInfo]:
        return self.manifest.shards_in(section)

    def shard_uri(self, shard: ShardInfo) -> str:
        return join(self.uri, shard.path)

    def read_shard_bytes(self, shard: ShardInfo, verify: bool = True) -> bytes:
        uri = self.shard_uri(shard)
        try:
            data = read_bytes(uri)
        except (FileNotFoundError, OSError) as e:
            raise DatasetError(
                f"{self.uri}: shard {shard.path} listed in the manifest cannot be read ({e}); "
                f"the dataset is damaged: delete {self.uri} and rerun the stage that wrote it"
            ) from e
        if verify:
            if len(data) != shard.bytes:
                raise DatasetError(
                    f"{self.uri}: shard {shard.path} has {len(data)} bytes, manifest says {shard.bytes} "
                    f"(truncated or overwritten); delete {self.uri} and rerun the stage that wrote it"
                )
            digest = hashlib.sha256(data).hexdigest()
            if digest != shard.sha256:
                raise DatasetError(
                    f"{self.uri}: checksum mismatch in shard {shard.path} (sha256 {digest[:12]}..., manifest "
                    f"{shard.sha256[:12]}...); the shard was modified or corrupted: delete {self.uri} and rerun "
                    f"the stage that wrote it"
                )
        return data

    def read_shard(self, shard: ShardInfo, columns: Sequence[str] | None = None, verify: bool = True) -> pa.Table:
        data = self.read_shard_bytes(shard, verify=verify)
        buf = pa.BufferReader(data)
        if shard.path.endswith(".arrow"):
            table = ipc.open_file(buf).read_all()
            return table.select(list(columns)) if columns else table
        return pq.read_table(buf, columns=list(columns) if columns else None)

    def iter_tables(self, section: str = "data", columns: Sequence[str] | None = None) -> Iterator[pa.Table]:
        for shard in self.shards(section):
            yield self.read_shard(shard, columns=columns)

    def read_all(self, section: str = "data", columns: Sequence[str] | None = None) -> pa.Table:
        tables = list(self.iter_tables(section, columns))
        if not tables:
            from storage.schema import DOCUMENT_SCHEMA, DROPPED_SCHEMA, QUARANTINE_SCHEMA

            schema = {"data": DOCUMENT_SCHEMA, "dropped": DROPPED_SCHEMA, "quarantine": QUARANTINE_SCHEMA}.get(section)
            if schema is None:
                return pa.table({})
            empty = schema.empty_table()
            return empty.select(list(columns)) if columns else empty
        return pa.concat_tables(tables, promote_options="default")

    def verify(self) -> None:
        """Check every shard's size and sha256; raise DatasetError naming the first bad one."""
        for shard in self.manifest.shards:
            self.read_shard_bytes(shard, verify=True)

    def __repr__(self) -> str:
        c = self.manifest.counts
        return f"Dataset({self.uri!r}, kind={self.kind}, stage={self.manifest.stage}, kept={c.kept})"


def open_dataset(uri: str, *, kind: str | None = None) -> Dataset:
    """Open a published dataset (resolving ``LATEST``); refuse incomplete ones and wrong kinds."""
    location = resolve_dataset_uri(uri)
    try:
        manifest = Manifest.from_json(read_bytes(join(location, MANIFEST)).decode())
    except (ValueError, KeyError) as e:
        raise DatasetError(f"{location}/{MANIFEST} is not a valid manifest ({e}); rerun the stage that wrote it") from e
    if kind is not None and manifest.kind != kind:
        raise DatasetError(
            f"{uri}: is a {manifest.kind!r} dataset (stage {manifest.stage!r}), but a {kind!r} dataset is needed here"
        )
    return Dataset(location, manifest)
