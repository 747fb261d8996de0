"""Checksummed, restartable phase outputs (the datatrove ``completions/`` idea, with sha256).

Layout under a work directory::

    WORK/<phase>/files/<name>.parquet            shards written atomically by storage.write_shard
    WORK/<phase>/completions/<unit>.json         written last: the unit's ShardInfos (sha256) + result

A unit is complete when its completion file exists and every shard it lists is present with
the recorded size and sha256. A rerun skips complete units and recomputes the rest, so deleting
or corrupting one intermediate recomputes only the unit that wrote it. Consumers read shards
through :func:`read_table`, which checks the sha256 again.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from storage import DatasetError, ShardInfo, write_shard
from storage import read_bytes as _read  # the storage layer's atomic file I/O
from storage import write_bytes_atomic as _write_bytes_atomic
from storage.uri import filesystem_for, join


def _write_text(uri: str, text: str) -> None:
    _write_bytes_atomic(uri, text.encode())


class PhaseStore:
    """Outputs and completion markers of one phase."""

    def __init__(self, work: str, phase: str) -> None:
        self.work = work.rstrip("/")
        self.phase = phase
        self.location = join(self.work, phase)

    def write(self, name: str, table: pa.Table, **attrs: Any) -> ShardInfo:
        return write_shard(self.location, "files", 0, table, name=f"{name}.parquet", attrs=attrs)

    def _marker(self, unit: str) -> str:
        return join(self.location, "completions", f"{unit}.json")

    def mark_done(self, unit: str, shards: list[ShardInfo], result: dict[str, Any] | None = None) -> dict[str, Any]:
        record = {"unit": unit, "shards": [s.to_dict() for s in shards], "result": result or {}}
        _write_text(self._marker(unit), json.dumps(record, default=str))
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
        return pq.read_table(pa.BufferReader(data), columns=columns)

    def clear(self) -> None:
        fs, path = filesystem_for(self.location)
        if fs.get_file_info(path).type != pafs.FileType.NotFound:
            fs.delete_dir(path)
