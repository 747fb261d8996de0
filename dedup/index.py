"""The append-only dedup index: immutable segments (one per run) named by a small manifest.

Layout of an index root (a local or ``file://`` path; it persists across nights)::

    INDEX/MANIFEST.json                      {version, minhash, partitions, index_shingles, next_doc_index, segments}
    INDEX/LOCK                               flock'ed by the one run (or compaction) writing the index
    INDEX/segments/<name>/files/*.parquet    a segment's files (sha256-checked when read)
    INDEX/segments/<name>/segment.json       written last: its files by kind and partition

Like an LSM tree: a run reads every segment the manifest names, writes only its own segment,
then a new manifest (temp file, fsync, rename), so the bytes a night writes do not grow with the
history, and a killed night leaves the previous manifest (and every segment it names) valid.
Lookups go by partition: a segment holds, per band partition ``p``, the band keys of its kept
documents (``bands-p<p>``, sorted by band key) and, per key partition, their exact-text / URL
keys (``keys-p<p>``); the candidates unit of partition ``p`` reads partition ``p`` of every
segment. Per document (``docs-*``, by doc-index range): node key, id, text hash, URL hash, dump
and, when verification is on, the ``index_shingles`` smallest shingle hashes (a bottom-k sketch:
exact Jaccard for documents with at most that many shingles, an estimate with standard error
``sqrt(J(1-J)/k)`` above). No MinHash signatures are kept.

``compact(root)`` merges all segments into one (same lookups, fewer files).
``IndexLock``: one writer at a time; ``fcntl.flock`` is released by the kernel when the holder
dies (kill -9 included), so a crashed night never leaves a stale lock.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs

from dedup.intermediates import PhaseStore
from storage import DatasetError, ShardInfo, read_bytes, write_bytes_atomic
from storage.lock import FileLock
from storage.uri import filesystem_for, join

MANIFEST = "MANIFEST.json"
LOCK = "LOCK"
SEGMENT = "segment.json"
FORMAT = 1
DOC_BITS = 40  # node key bits 0-39: doc_index (see dedup.pipeline)
DOC_MASK = (1 << DOC_BITS) - 1
COMPACT_DOCS_PER_FILE = 250_000
INDEX_SHARD_ROWS = 20_000  # a run reads consecutive docs files of a segment as one doc shard of up to this many rows


def index_doc_shards(segment: dict[str, Any], max_rows: int = INDEX_SHARD_ROWS) -> list[dict[str, Any]]:
    """A segment's docs files as doc shards of a run: consecutive files (by doc index) grouped up to ``max_rows``.

    One shard per docs file made every per-shard cost of a night (finalize's request files, one
    survivors unit, the filter units' lookups of it) grow with the count of earlier nights' files:
    a night's duplicates point into most of them. A night's segment (one docs file per input shard)
    is then one doc shard; a file above ``max_rows`` (a compacted one) is a shard of its own."""
    out: list[dict[str, Any]] = []
    for d in sorted(segment["docs"], key=lambda d: int(d["attrs"]["lo"])):
        lo, hi = int(d["attrs"]["lo"]), int(d["attrs"]["hi"])
        last = out[-1] if out else None
        if last is not None and last["hi"] == lo and last["rows"] + int(d["rows"]) <= max_rows:
            last["infos"].append(d)
            last["hi"], last["rows"] = hi, last["rows"] + int(d["rows"])
        else:
            out.append({"kind": "index", "segment": segment["name"], "infos": [d], "lo": lo, "hi": hi, "rows": int(d["rows"])})
    return out


def empty_manifest(minhash: dict[str, Any], partitions: int, index_shingles: int) -> dict[str, Any]:
    return {"format": FORMAT, "version": 0, "minhash": minhash, "partitions": partitions, "index_shingles": index_shingles,
            "next_doc_index": 0, "segments": []}


def read_manifest(root: str) -> dict[str, Any] | None:
    try:
        data = read_bytes(join(root, MANIFEST))
    except (FileNotFoundError, OSError):
        return None
    try:
        m = json.loads(data)
    except ValueError as e:
        raise DatasetError(f"{join(root, MANIFEST)}: not valid JSON ({e}); the manifest is written atomically, so this file was edited") from e
    if m.get("format") != FORMAT:
        raise DatasetError(f"{join(root, MANIFEST)}: dedup index format {m.get('format')!r}, this code reads {FORMAT}")
    return m


def write_manifest(root: str, m: dict[str, Any]) -> None:
    write_bytes_atomic(join(root, MANIFEST), json.dumps(m, indent=1, sort_keys=True).encode())


# random 64-bit hashes and bottom-k shingle hashes: Parquet's dictionary pages and zstd made these larger
# (docs files 79 -> 57 MB, band files 43 -> 37 MB at 98k docs without the dictionary) and slower to write and read
HASH_COLUMNS = ("band_key", "text_hash", "url_hash", "key", "shingles")


def segment_store(root: str, name: str) -> PhaseStore:
    return PhaseStore(join(root, "segments"), name, durable=True, raw_columns=HASH_COLUMNS)


def write_segment(root: str, name: str, runs: list[str], bands: dict[int, ShardInfo], keys: dict[int, ShardInfo],
                  docs: list[ShardInfo]) -> dict[str, Any]:
    """Write ``segment.json`` (last) and return the segment's manifest entry."""
    los = [int(d.attrs["lo"]) for d in docs]
    his = [int(d.attrs["hi"]) for d in docs]
    seg = {
        "name": name, "runs": runs,
        "bands": {str(p): s.to_dict() for p, s in sorted(bands.items())},
        "keys": {str(p): s.to_dict() for p, s in sorted(keys.items())},
        "docs": [d.to_dict() for d in sorted(docs, key=lambda d: int(d.attrs["lo"]))],
    }
    write_bytes_atomic(join(segment_store(root, name).location, SEGMENT), json.dumps(seg, sort_keys=True).encode())
    files = [*bands.values(), *keys.values(), *docs]
    return {"name": name, "runs": runs, "rows": int(sum(d.rows for d in docs)), "bytes": int(sum(s.bytes for s in files)),
            "lo": min(los) if los else 0, "hi": max(his) if his else 0}


def load_segment(root: str, entry: dict[str, Any]) -> dict[str, Any]:
    where = join(segment_store(root, entry["name"]).location, SEGMENT)
    try:
        return json.loads(read_bytes(where))
    except (FileNotFoundError, OSError) as e:
        raise DatasetError(f"{where}: segment named by the dedup index manifest is missing; restore it or rebuild the index") from e


class IndexLock(FileLock):
    """Exclusive writer lock of an index root (``fcntl.flock`` on ``ROOT/LOCK``, storage.lock).

    Waits up to ``wait_s`` seconds for another holder, then raises LockTimeout (a DatasetError) naming it."""

    def __init__(self, root: str, wait_s: float = 600.0, purpose: str = "") -> None:
        fs, path = filesystem_for(root)
        if not isinstance(fs, pafs.LocalFileSystem):
            raise DatasetError(f"{root}: the dedup index must be on a local or file:// path (it is locked with flock)")
        super().__init__(os.path.join(path, LOCK), wait_s, purpose, what="dedup index",
                         hint="Only one night (or compaction) writes an index at a time; rerun when it is done")


def index_bytes(root: str) -> int:
    """Bytes of the segments the manifest names (what the index costs on disk)."""
    m = read_manifest(root)
    return int(sum(e["bytes"] for e in m["segments"])) if m else 0


def _concat_sorted(tables: list[pa.Table], key: str) -> pa.Table | None:
    tables = [t for t in tables if t.num_rows]
    if not tables:
        return None
    t = pa.concat_tables(tables)
    order = np.argsort(t.column(key).to_numpy(), kind="stable")
    return t.take(pa.array(order))


def _delete_unnamed_segments(root: str, keep: set[str]) -> None:
    fs, path = filesystem_for(join(root, "segments"))
    for info in fs.get_file_info(pafs.FileSelector(path, allow_not_found=True)):
        if info.type == pafs.FileType.Directory and info.base_name not in keep:
            fs.delete_dir(info.path)


def compact(root: str, wait_s: float = 600.0, docs_per_file: int = COMPACT_DOCS_PER_FILE) -> dict[str, Any]:
    """Merge every segment of the index into one; return the new manifest (unchanged if <= 1 segment).

    Under the index lock. The new segment is written beside the old ones and the manifest replaced
    atomically; only then are the old segments (and any a killed run left unnamed) deleted."""
    with IndexLock(root, wait_s, purpose="compact"):
        m = read_manifest(root)
        if m is None:
            raise DatasetError(f"{root}: no dedup index here ({MANIFEST} missing)")
        if len(m["segments"]) <= 1:
            _delete_unnamed_segments(root, {e["name"] for e in m["segments"]})
            return m
        segs = [load_segment(root, e) for e in m["segments"]]
        name = "seg-c" + hashlib.sha256("\n".join(e["name"] for e in m["segments"]).encode()).hexdigest()[:16]
        out = segment_store(root, name)
        runs = [r for e in m["segments"] for r in e["runs"]]
        bands: dict[int, ShardInfo] = {}
        keys: dict[int, ShardInfo] = {}
        for p in range(m["partitions"]):
            for kind, col, dest in (("bands", "band_key", bands), ("keys", "key", keys)):
                parts = [segment_store(root, s["name"]).read_table(ShardInfo.from_dict(s[kind][str(p)])) for s in segs if str(p) in s[kind]]
                t = _concat_sorted(parts, col)
                if t is not None:
                    dest[p] = out.write(f"{kind}-p{p:04d}", t, kind=kind, part=p)
        docs: list[ShardInfo] = []
        ordered = sorted(((int(d["attrs"]["lo"]), s["name"], d) for s in segs for d in s["docs"]), key=lambda x: x[0])
        pending: list[pa.Table] = []
        lo = ordered[0][0] if ordered else 0

        def flush(hi: int) -> None:
            nonlocal pending, lo
            if pending:
                docs.append(out.write(f"docs-{len(docs):05d}", pa.concat_tables(pending), lo=lo, hi=hi))
                pending, lo = [], hi

        for d_lo, seg_name, d in ordered:
            if pending and sum(t.num_rows for t in pending) >= docs_per_file:
                flush(d_lo)
            t = segment_store(root, seg_name).read_table(ShardInfo.from_dict(d))
            pending.append(t)
        flush(max(e["hi"] for e in m["segments"]))
        entry = write_segment(root, name, runs, bands, keys, docs)
        new = {**m, "version": m["version"] + 1, "segments": [entry]}
        write_manifest(root, new)
        _delete_unnamed_segments(root, {name})
        return new
