"""Checksummed, restartable phase outputs (the datatrove ``completions/`` idea, with sha256).

Layout under a work directory::

    WORK/<phase>/files/<name>.arrow              shards written atomically (temporary name, rename)
    WORK/<phase>/completions/<unit>.json         written last: the unit's ShardInfos (sha256) + result

A unit is complete when its completion file exists and every shard it lists is present with
the recorded size and sha256. A rerun skips complete units and recomputes the rest, so deleting
or corrupting one intermediate recomputes only the unit that wrote it. Consumers read shards
through :func:`read_table`, which checks the sha256 again.

Work files (``durable=False``, the default) are uncompressed Arrow IPC and are not fsynced: they
are rewritten by the next run whenever lost, since a rerun re-checks every unit's shards
against their sha256 (``completed``) before any later phase reads them, and a rename is atomic
against a killed process. That was 2,566 fsyncs and 1,142 zstd Parquet encodes per 30k-document
run (the stage's largest wall-clock cost on a loaded machine). The dedup index's segments
(:mod:`dedup.index`) must outlive a power loss: ``durable=True`` writes zstd Parquet, fsynced
(``storage.write_shard``), as before.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import os
import uuid

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from storage import DatasetError, ShardInfo, write_shard
from storage import read_bytes as _read  # the storage layer's atomic file I/O
from storage import write_bytes_atomic as _write_bytes_atomic
from storage.uri import filesystem_for, join


def _write_fast(uri: str, data: bytes) -> None:
    """Atomic against a killed process (temporary name + rename), not fsynced; other filesystems: storage's."""
    fs, path = filesystem_for(uri)
    if not isinstance(fs, pafs.LocalFileSystem):
        _write_bytes_atomic(uri, data)
        return
    parent, name = path.rsplit("/", 1)
    tmp = f"{parent}/.tmp-{uuid.uuid4().hex[:12]}-{name}"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
    except FileNotFoundError:
        os.makedirs(parent, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(data)
    os.replace(tmp, path)


def _ipc_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


class PhaseStore:
    """Outputs and completion markers of one phase (``durable``: fsynced zstd Parquet, else Arrow IPC)."""

    def __init__(self, work: str, phase: str, durable: bool = False, raw_columns: tuple[str, ...] = ()) -> None:
        self.work = work.rstrip("/")
        self.phase = phase
        self.location = join(self.work, phase)
        self.durable = durable
        self.raw_columns = raw_columns  # durable: hash columns written plain (storage.table_to_bytes)

    def write(self, name: str, table: pa.Table, **attrs: Any) -> ShardInfo:
        if self.durable:
            raw = [c for c in table.column_names if c in self.raw_columns]
            return write_shard(self.location, "files", 0, table, name=f"{name}.parquet", attrs=attrs, raw_columns=raw)
        data = _ipc_bytes(table)
        rel = f"files/{name}.arrow"
        _write_fast(join(self.location, rel), data)
        return ShardInfo(path=rel, section="files", rows=table.num_rows, bytes=len(data), sha256=hashlib.sha256(data).hexdigest(), attrs=dict(attrs))

    def _write_text(self, uri: str, text: str) -> None:
        (_write_bytes_atomic if self.durable else _write_fast)(uri, text.encode())

    def _marker(self, unit: str) -> str:
        return join(self.location, "completions", f"{unit}.json")

    def mark_done(self, unit: str, shards: list[ShardInfo], result: dict[str, Any] | None = None) -> dict[str, Any]:
        record = {"unit": unit, "shards": [s.to_dict() for s in shards], "result": result or {}}
        self._write_text(self._marker(unit), json.dumps(record, default=str))
        return record

    def completed(self, unit: str, verify: bool = True) -> dict[str, Any] | None:
        """The unit's completion record if it is complete and its shards check out, else None."""
        try:
            record = json.loads(_read(self._marker(unit)))
        except (FileNotFoundError, OSError, ValueError):
            return None
        if verify:
            for s in record["shards"]:
                try:
                    data = _read(join(self.location, s["path"]))
                except (FileNotFoundError, OSError):
                    return None
                if len(data) != s["bytes"] or hashlib.sha256(data).hexdigest() != s["sha256"]:
                    return None
        return record

    def shards(self, records: list[dict[str, Any]], **match: Any) -> list[ShardInfo]:
        """ShardInfos listed by completion records whose attrs match ``match``."""
        out = []
        for r in records:
            for s in r["shards"]:
                if all(s.get("attrs", {}).get(k) == v for k, v in match.items()):
                    out.append(ShardInfo.from_dict(s))
        return out

    def read_table(self, shard: ShardInfo, columns: list[str] | None = None) -> pa.Table:
        data = _read(join(self.location, shard.path))
        if len(data) != shard.bytes or hashlib.sha256(data).hexdigest() != shard.sha256:
            raise DatasetError(
                f"{self.location}/{shard.path}: intermediate checksum mismatch (corrupted after it was written); "
                f"rerun the dedup stage: the unit that wrote it is recomputed"
            )
        if shard.path.endswith(".arrow"):
            t = ipc.open_file(pa.BufferReader(data)).read_all()
            return t.select(columns) if columns is not None else t
        # ParquetFile.read, one thread: pq.read_table's dataset layer cost 0.6 ms a file (a night reads
        # hundreds of index segment files) and its decode threads more CPU than they saved on 1-2 MB files
        return pq.ParquetFile(pa.BufferReader(data)).read(columns=columns, use_threads=False)

    def clear(self) -> None:
        fs, path = filesystem_for(self.location)
        if fs.get_file_info(path).type != pafs.FileType.NotFound:
            fs.delete_dir(path)
