"""The dedup phases over partitioned, checksummed files; each phase restartable on its own.

    signatures (per doc shard) -> candidates (per band/key partition) -> verify (per doc shard)
    -> components (rounds x partitions) -> finalize (per partition) -> survivors (per group of doc shards)
    -> filter (per input shard; writes kept/dropped shards and the new index rows)

A *doc shard* is an input shard (new documents) or a ``docs`` file of a segment of the dedup
index (documents kept by earlier runs, :mod:`dedup.index`). Index documents never go through
the signature phase: the candidates unit of partition ``p`` reads partition ``p`` of every
segment and keeps only the rows whose band / exact / URL key also occurs among the new
documents, so a night's work and writes are O(new documents), not O(history). Pairs between two
index documents are dropped (the index is already deduplicated). After filter, the ``segment``
phase writes this run's segment (band and key rows of the kept documents, by partition).
Every document has a global ``doc_index``; its *node key* (int64) orders survivors:

    bit 62: 1 for new documents, 0 for index documents (already-kept documents always win)
    bits 40-61: rank under the survivor policy (0 for "first"; shorter / lower quality = larger)
    bits 0-39: doc_index (input order: inputs in the order given, shards in manifest order)

so the smallest node key of a component is its survivor, deterministically.

Run with ``run_phases(ctx, map_units)``: ``map_units(fn, units) -> results in unit order`` runs a
phase's units; the stage driver (``tasks/dedup.py``) passes the Ray executor's, and the default
runs them one after another in this process (this package never imports Ray). DeepSeek's Table 1
(removal when deduplicating the first 1, 2, 4 ... dumps together) is computed once from the
clusters (:func:`removal_by_dumps`): a cluster counts in prefix k with its members from the
first k dumps, one of which survives.
"""

from __future__ import annotations

import json
import logging
import resource
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dedup.components import propagate_round
from dedup.exact import group_edges, text_hashes, url_hashes
from dedup.hashing import hash_strings, partition_of
from dedup.index import DOC_BITS, segment_store
from dedup.intermediates import PhaseStore
from dedup.lsh import KEY_SALT, band_rows, bucket_pairs
from dedup.minhash import MinhashConfig, band_hashes, compute_signatures
from dedup.normalize import fold
from dedup.shingles import jaccard_bottom_k_pairs, jaccard_pairs, shingle_sets
from storage import DROPPED_SCHEMA, ShardInfo, open_dataset, write_shard
from storage.schema import conform_documents

log = logging.getLogger(__name__)

UnitFn = Callable[[dict[str, Any]], dict[str, Any]]
MapUnits = Callable[[UnitFn, Sequence[dict[str, Any]]], list[dict[str, Any]]]

RANK_BITS = 22
DOC_MASK = (1 << DOC_BITS) - 1
RANK_MAX = (1 << RANK_BITS) - 1
NEW_FLAG = 1 << 62
KIND_EXACT, KIND_URL, KIND_NEAR = 0, 1, 2
NODE_PART_SALT = 3
INDEX_SRC = "__index__"

# ----------------------------------------------------------------------------- context helpers


def _cfg(ctx: dict[str, Any]) -> MinhashConfig:
    return MinhashConfig(**ctx["minhash"])


def _store(ctx: dict[str, Any], phase: str) -> PhaseStore:
    return PhaseStore(ctx["work"], phase)


def _inputs(ctx: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in ctx["shards"] if s["kind"] == "input"]


def _index_docs(ctx: dict[str, Any], s: dict[str, Any], columns: list[str] | None = None) -> pa.Table:
    """The docs files of an index doc shard (sha256-checked), concatenated in doc-index order."""
    store = segment_store(ctx["index_root"], s["segment"])
    tables = [store.read_table(ShardInfo.from_dict(d), columns) for d in s["infos"]]
    return tables[0] if len(tables) == 1 else pa.concat_tables(tables)


def doc_index_of(nodes: np.ndarray) -> np.ndarray:
    return np.asarray(nodes, dtype=np.int64) & DOC_MASK


def shard_of(ctx: dict[str, Any], nodes: np.ndarray) -> np.ndarray:
    """Doc-shard unit number holding each node (doc shards cover disjoint doc_index ranges)."""
    los = np.array([s["lo"] for s in ctx["shards"]], dtype=np.int64)
    return np.searchsorted(los, doc_index_of(nodes), side="right") - 1


def node_keys(doc_index: np.ndarray, lengths: np.ndarray, quality: np.ndarray, policy: str, new: bool) -> np.ndarray:
    if policy == "longest":
        rank = RANK_MAX - np.minimum(lengths, RANK_MAX)
    elif policy == "quality":
        rank = np.round((1.0 - np.clip(np.nan_to_num(quality, nan=0.0), 0.0, 1.0)) * RANK_MAX).astype(np.int64)
    else:
        rank = np.zeros(len(doc_index), dtype=np.int64)
    keys = (rank.astype(np.int64) << DOC_BITS) | np.asarray(doc_index, dtype=np.int64)
    return keys | NEW_FLAG if new else keys


def _quality(metadata: list[str | None]) -> np.ndarray:
    out = np.zeros(len(metadata), dtype=np.float64)
    for i, m in enumerate(metadata):
        if m:
            try:
                q = json.loads(m).get("quality_score")
                out[i] = float(q) if q is not None else 0.0
            except (ValueError, AttributeError, TypeError):
                pass
    return out


def _i64(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.uint64).view(np.int64)


def _u64(col: Any) -> np.ndarray:
    return np.asarray(col.to_numpy(zero_copy_only=False) if hasattr(col, "to_numpy") else col, dtype=np.int64).view(np.uint64)


def _fixed(col: Any, width: int, dtype: Any) -> np.ndarray:
    """A fixed-size-list column as a (rows, width) numpy matrix."""
    arr = col.combine_chunks() if hasattr(col, "combine_chunks") else col
    flat = arr.flatten().to_numpy(zero_copy_only=False) if len(arr) else np.zeros(0)
    return np.asarray(flat).astype(dtype, copy=False).reshape(len(arr), width)


def _lookup(keys: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Row of each wanted key in an unsorted unique key array (all must be present)."""
    order = np.argsort(keys, kind="stable")
    pos = order[np.searchsorted(keys[order], wanted)]
    assert np.all(keys[pos] == wanted), "lookup of a node key that is not in this doc shard"
    return pos


def _concat(store: PhaseStore, shards: list[ShardInfo], columns: list[str] | None = None) -> pa.Table | None:
    tables = [store.read_table(s, columns) for s in shards]
    tables = [t for t in tables if t.num_rows]
    return pa.concat_tables(tables) if tables else None


def _col(t: pa.Table | None, name: str) -> np.ndarray:
    if t is None:
        return np.zeros(0, np.int64)
    return t.column(name).to_numpy(zero_copy_only=False)


def _scatter(store: PhaseStore, prefix: str, table: pa.Table, dest: np.ndarray, n: int, key: str, **attrs: Any) -> list[ShardInfo]:
    """Write rows of ``table`` to ``n`` files by destination; empty files are skipped."""
    out = []
    order = np.argsort(dest, kind="stable")
    bounds = np.searchsorted(dest[order], np.arange(n + 1))
    for d in range(n):
        idx = order[bounds[d] : bounds[d + 1]]
        if len(idx):
            out.append(store.write(f"{prefix}-{key}{d}", table.take(pa.array(idx)), **{key: d}, **attrs))
    return out


def _cached(store: PhaseStore, unit: str, compute: Any) -> dict[str, Any]:
    """Skip a unit whose completion record checks out; else compute it and mark it done."""
    record = store.completed(unit)
    if record is not None:
        return {**record["result"], "skipped": True}
    shards, result = compute()
    store.mark_done(unit, shards, result)
    return {**result, "skipped": False}


# ----------------------------------------------------------------------------- phase 1: signatures


def signatures_unit(unit: dict[str, Any]) -> dict[str, Any]:
    ctx, s = unit["ctx"], unit["shard"]
    store = _store(ctx, "signatures")

    def compute() -> tuple[list[ShardInfo], dict[str, Any]]:
        cfg, P = _cfg(ctx), ctx["partitions"]
        ds = open_dataset(s["uri"])
        t = ds.read_shard(ShardInfo.from_dict(s["info"]), columns=["id", "text", "url", "source", "lang", "metadata"])
        n = t.num_rows
        texts = t.column("text").to_pylist()
        doc_index = s["lo"] + np.arange(n, dtype=np.int64)
        lengths = np.fromiter((len(x or "") for x in texts), dtype=np.int64, count=n)
        nodes = node_keys(doc_index, lengths, _quality(t.column("metadata").to_pylist()), cfg.survivor, new=True)
        folded = [fold(x) for x in texts]  # NFKC + casefold once, for the exact key and the shingles
        th, uh = text_hashes(texts, folded), url_hashes(t.column("url").to_pylist())
        values, offsets = shingle_sets(texts, t.column("lang").to_pylist(), cfg.n_grams, cfg.char_n_grams, seed=cfg.seed, folded=folded)
        sig = compute_signatures(values, offsets, cfg)
        bands = band_hashes(sig, cfg.bands, cfg.rows)
        has_sig = np.diff(offsets) > 0
        src_names = [x or "" for x in t.column("source").to_pylist()]
        src = hash_strings(src_names, count=len(src_names))
        cols = {
            "node_key": pa.array(nodes),
            "id": t.column("id"),
            "text_hash": pa.array(_i64(th)),
            "url_hash": pa.array(_i64(uh)),
            "src": pa.array(_i64(src)),
        }
        if cfg.verify_jaccard is not None:
            cols["shingles"] = pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), pa.array(values))
        sig_table = pa.table(cols)
        shards = [store.write(f"u{s['unit']:05d}-sig", sig_table, kind="sig")]
        sel = np.nonzero(has_sig)[0]
        for p, tab in band_rows(bands[sel], nodes[sel], th[sel], src[sel], P).items():
            if tab.num_rows:
                shards.append(store.write(f"u{s['unit']:05d}-bands-p{p:04d}", tab, kind="bands", part=p))
        kinds = np.concatenate([np.full(len(nodes), KIND_EXACT), np.full(len(nodes), KIND_URL)]).astype(np.int8)
        keys = np.concatenate([th, uh if ctx.get("url_dedup", True) else np.zeros_like(uh)])
        keep = keys != 0
        keyed = pa.table(
            {
                "kind": kinds[keep],
                "key": _i64(keys[keep]),
                "node": np.concatenate([nodes, nodes])[keep],
                "src": _i64(np.concatenate([src, src])[keep]),
            }
        )
        dest = partition_of(keys[keep] ^ kinds[keep].astype(np.uint64), P, KEY_SALT)
        shards += _scatter(store, f"u{s['unit']:05d}-keys", keyed, dest, P, "part", kind="keys")
        return shards, {"docs": len(nodes), "by_source": dict(Counter(src_names))}

    return _cached(store, f"u{s['unit']:05d}", compute)


# ----------------------------------------------------------------------------- phase 2: candidates


def _index_rows(ctx: dict[str, Any], kind: str, p: int, col: str, wanted: np.ndarray) -> list[pa.Table]:
    """Rows of partition ``p`` of every index segment whose ``col`` occurs in ``wanted`` (a semi-join)."""
    out = []
    if not len(wanted):
        return out
    wanted = np.unique(wanted)
    for seg in ctx["segments"]:
        info = seg[kind].get(str(p))
        if info is None:
            continue
        t = segment_store(ctx["index_root"], seg["name"]).read_table(ShardInfo.from_dict(info))
        keys = _col(t, col)
        pos = np.minimum(np.searchsorted(wanted, keys), len(wanted) - 1)
        hit = wanted[pos] == keys
        if hit.any():
            out.append(t.filter(pa.array(hit)))
    return out


def _with_new(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop pairs (a > b) between two index documents: a is new exactly when the pair touches a new doc."""
    keep = (np.asarray(a, np.int64) & NEW_FLAG) != 0
    return a[keep], b[keep]


def _cat(tables: list[pa.Table | None], columns: list[str]) -> pa.Table | None:
    tables = [t.select(columns) for t in tables if t is not None and t.num_rows]
    return pa.concat_tables(tables) if tables else None


def candidates_unit(unit: dict[str, Any]) -> dict[str, Any]:
    ctx, p = unit["ctx"], unit["part"]
    sigs, store = _store(ctx, "signatures"), _store(ctx, "candidates")
    cfg, P = _cfg(ctx), ctx["partitions"]

    def compute() -> tuple[list[ShardInfo], dict[str, Any]]:
        records = [sigs.completed(f"u{s['unit']:05d}", verify=False) for s in _inputs(ctx)]
        cols = ["band_key", "node", "text_hash"]
        new_bands = _concat(sigs, sigs.shards(records, kind="bands", part=p), cols)
        bands = _cat([new_bands, *_index_rows(ctx, "bands", p, "band_key", _col(new_bands, "band_key"))], cols)
        a, b = _with_new(*bucket_pairs(_u64(_col(bands, "band_key")), _col(bands, "node"), _u64(_col(bands, "text_hash"))))
        cols = ["kind", "key", "node"]
        new_keys = _concat(sigs, sigs.shards(records, kind="keys", part=p), cols)
        keyed = _cat([new_keys, *_index_rows(ctx, "keys", p, "key", _col(new_keys, "key"))], cols)
        ea, eb, ek = [], [], []
        for kind in (KIND_EXACT, KIND_URL):
            if keyed is None:
                break
            sel = _col(keyed, "kind") == kind
            x, y = _with_new(*group_edges(_u64(_col(keyed, "key")[sel]), _col(keyed, "node")[sel]))
            ea.append(x), eb.append(y), ek.append(np.full(len(x), kind, np.int8))
        shards: list[ShardInfo] = []
        cand_shards: list[int] = []
        if cfg.verify_jaccard is not None:
            cand = pa.table({"a": a, "b": b})
            # by the shard of a (always a new doc): verify units are the night's shards, never the history's
            shards += _scatter(store, f"p{p:04d}-cand", cand, shard_of(ctx, a), len(ctx["shards"]), "shard", kind="cand")
            cand_shards = sorted({int(x.attrs["shard"]) for x in shards})
        else:
            ea.append(a), eb.append(b), ek.append(np.full(len(a), KIND_NEAR, np.int8))
        if ea:
            shards += write_edges(store, f"p{p:04d}", np.concatenate(ea), np.concatenate(eb), np.concatenate(ek), P)
        return shards, {"candidate_pairs": int(len(a)), "exact_url_edges": int(sum(len(x) for x in ea[:2])), "cand_shards": cand_shards}

    return _cached(store, f"p{p:04d}", compute)


def write_edges(store: PhaseStore, prefix: str, a: np.ndarray, b: np.ndarray, kind: np.ndarray, P: int) -> list[ShardInfo]:
    """Both directions of every edge, scattered by the partition of the source node."""
    src = np.concatenate([a, b]).astype(np.int64)
    dst = np.concatenate([b, a]).astype(np.int64)
    k = np.concatenate([kind, kind]).astype(np.int8)
    table = pa.table({"src": src, "dst": dst, "kind": k})
    return _scatter(store, f"{prefix}-edges", table, partition_of(src.view(np.uint64), P, NODE_PART_SALT), P, "q", kind="edges")


# ----------------------------------------------------------------------------- phase 3: verify


# new doc shards per verify unit: each index shard a unit's pairs point into is loaded once per unit, so a
# night of up to 16 input shards reads each index shard's sketches once (8: the soak's 10 shards read them twice)
VERIFY_GROUP = 16


def verify_groups(shards: list[int]) -> list[list[int]]:
    """The verify units: doc shards that received candidates, ``VERIFY_GROUP`` at a time."""
    return [shards[i : i + VERIFY_GROUP] for i in range(0, len(shards), VERIFY_GROUP)]


def verify_unit(unit: dict[str, Any]) -> dict[str, Any]:
    """True Jaccard of the candidate pairs of a group of new doc shards (pairs whose ``a`` is in the group).

    The group's shingle sets are loaded once (O(group)); every other doc shard the pairs point to
    (earlier shards of the night, or index shards) is loaded once per unit, then dropped. Grouping
    matters for a night against a long history: at night 10 of the soak (10 new shards, 90 index
    shards with candidates) one unit per new shard loaded index shards 900 times."""
    ctx, group = unit["ctx"], unit["shards"]
    sigs, cands, store = _store(ctx, "signatures"), _store(ctx, "candidates"), _store(ctx, "verify")
    cfg, k = _cfg(ctx), ctx["index_shingles"]

    def load(u: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
        """Node keys and shingle sets (CSR values, offsets) of one doc shard; True for an index shard (bottom-k sets)."""
        s = ctx["shards"][u]
        if s["kind"] == "index":
            t = _index_docs(ctx, s, ["node_key", "shingles"])
        else:
            t = sigs.read_table(sigs.shards([sigs.completed(f"u{u:05d}", verify=False)], kind="sig")[0], ["node_key", "shingles"])
        col = t.column("shingles").combine_chunks()
        offsets = col.offsets.to_numpy()
        return _col(t, "node_key"), col.values.to_numpy()[offsets[0] : offsets[-1]], offsets - offsets[0], s["kind"] == "index"

    def compute() -> tuple[list[ShardInfo], dict[str, Any]]:
        records = [cands.completed(f"p{p:04d}", verify=False) for p in range(ctx["partitions"])]
        t = _cat([_concat(cands, cands.shards(records, kind="cand", shard=v)) for v in group], ["a", "b"])
        a, b = _col(t, "a"), _col(t, "b")
        if len(a):
            pairs = np.unique(np.stack([a, b], axis=1), axis=0)
            a, b = pairs[:, 0], pairs[:, 1]
        keep = np.zeros(len(a), dtype=bool)
        if len(a):
            mine = {v: load(v) for v in group}
            sa, sb = shard_of(ctx, a), shard_of(ctx, b)
            for u in np.unique(sb).tolist():
                nb, vb, ob, idx_b = mine[u] if u in mine else load(u)
                for v in np.unique(sa[sb == u]).tolist():
                    na, va, oa, idx_a = mine[v]
                    js = np.nonzero((sb == u) & (sa == v))[0]
                    ia, ib = _lookup(na, a[js]), _lookup(nb, b[js])
                    # all pairs (v, u) at once; against an index doc both sides are bottom-k sketches (exact up to k shingles)
                    if idx_a or idx_b:
                        sim = jaccard_bottom_k_pairs(va, oa, ia, vb, ob, ib, k)
                    else:
                        sim = jaccard_pairs(va, oa, ia, vb, ob, ib)
                    keep[js] = sim >= cfg.verify_jaccard
        shards = write_edges(store, f"v{group[0]:05d}", a[keep], b[keep], np.full(int(keep.sum()), KIND_NEAR, np.int8), ctx["partitions"])
        return shards, {"candidates": int(len(a)), "verified": int(keep.sum())}

    return _cached(store, f"v{group[0]:05d}", compute)


# ----------------------------------------------------------------------------- phase 4: components


def _edge_shards(ctx: dict[str, Any], q: int) -> list[tuple[PhaseStore, ShardInfo]]:
    out = []
    phases = ["candidates"] + (["verify"] if _cfg(ctx).verify_jaccard is not None else [])
    for phase in phases:
        st = _store(ctx, phase)
        units = [f"p{p:04d}" for p in range(ctx["partitions"])] if phase == "candidates" else [f"v{g[0]:05d}" for g in verify_groups(ctx["verify_shards"])]
        recs = [st.completed(u, verify=False) for u in units]
        out += [(st, sh) for sh in st.shards([r for r in recs if r], kind="edges", q=q)]
    return out


def _edges(ctx: dict[str, Any], q: int) -> pa.Table | None:
    tables = [st.read_table(sh) for st, sh in _edge_shards(ctx, q)]
    tables = [t for t in tables if t.num_rows]
    return pa.concat_tables(tables) if tables else None


def components_unit(unit: dict[str, Any]) -> dict[str, Any]:
    ctx, q, r = unit["ctx"], unit["part"], unit["round"]
    store = _store(ctx, f"components/r{r:03d}")
    P = ctx["partitions"]

    def compute() -> tuple[list[ShardInfo], dict[str, Any]]:
        edges = _edges(ctx, q)
        src, dst = _col(edges, "src"), _col(edges, "dst")
        if r == 0:
            nodes = labels = None
            mn = ml = mf = np.zeros(0, np.int64)
        else:
            prev = _store(ctx, f"components/r{r - 1:03d}")
            recs = [prev.completed(f"q{x:04d}", verify=False) for x in range(P)]
            lab = _concat(prev, prev.shards([recs[q]], kind="labels"))
            nodes, labels = _col(lab, "node"), _col(lab, "label")
            msgs = _concat(prev, prev.shards(recs, kind="msgs", to=q))
            mn, ml, mf = _col(msgs, "node"), _col(msgs, "label"), _col(msgs, "from")
        nodes, labels, on, ol, of = propagate_round(src, dst, nodes, labels, mn, ml, mf)
        shards = [store.write(f"q{q:04d}-labels", pa.table({"node": nodes, "label": labels}), kind="labels")]
        msg = pa.table({"node": on, "label": ol, "from": of})
        shards += _scatter(store, f"q{q:04d}-msgs", msg, partition_of(on.view(np.uint64), P, NODE_PART_SALT), P, "to", kind="msgs")
        return shards, {"messages": int(len(on)), "nodes": int(len(nodes))}

    return _cached(store, f"q{q:04d}", compute)


# ----------------------------------------------------------------------------- phase 5: finalize


def finalize_unit(unit: dict[str, Any]) -> dict[str, Any]:
    ctx, q = unit["ctx"], unit["part"]
    store = _store(ctx, "finalize")
    final = _store(ctx, f"components/r{ctx['final_round']:03d}")

    def compute() -> tuple[list[ShardInfo], dict[str, Any]]:
        rec = final.completed(f"q{q:04d}", verify=False)
        lab = _concat(final, final.shards([rec], kind="labels"))
        nodes, labels = _col(lab, "node"), _col(lab, "label")
        edges = _edges(ctx, q)
        kinds = np.zeros(len(nodes), dtype=np.int8)
        if edges is not None:
            idx = np.searchsorted(nodes, _col(edges, "src"))
            np.bitwise_or.at(kinds, idx, (1 << _col(edges, "kind").astype(np.int8)).astype(np.int8))
        member = labels != nodes
        nodes, labels, kinds = nodes[member], labels[member], kinds[member]
        is_new = (nodes & NEW_FLAG) != 0
        n_shards = len(ctx["shards"])
        req_shard = shard_of(ctx, nodes)
        shards = _scatter(
            store, f"q{q:04d}-final", pa.table({"node": nodes[is_new], "label": labels[is_new], "kinds": kinds[is_new]}),
            req_shard[is_new], n_shards, "shard", kind="final",
        )
        # every survivor (new doc or index doc) is looked up by the survivors unit of its doc shard's group: an
        # index shard is read once per run, not once per filter unit that has a survivor there
        ask = is_new
        req = pa.table({"label": labels[ask], "requester": req_shard[ask].astype(np.int64)})
        groups = survivor_group_count(n_shards)
        shards += _scatter(store, f"q{q:04d}-req", req, shard_of(ctx, labels[ask]) // SURVIVOR_GROUP, groups, "group", kind="req")
        return shards, {"removed_new": int(is_new.sum()), "req_groups": sorted({int(x.attrs["group"]) for x in shards if x.attrs.get("kind") == "req"})}

    return _cached(store, f"q{q:04d}", compute)


# ----------------------------------------------------------------------------- phase 6: survivors


def _survivor_rows(t: pa.Table, labels: np.ndarray, src: np.ndarray) -> pa.Table:
    """(label, survivor_id, s_text_hash, s_url_hash, s_src) of each label, looked up in doc table ``t``."""
    idx = _lookup(_col(t, "node_key"), labels)
    return pa.table(
        {
            "label": labels,
            "survivor_id": t.column("id").take(pa.array(idx)),
            "s_text_hash": _col(t, "text_hash")[idx],
            "s_url_hash": _col(t, "url_hash")[idx],
            "s_src": src[idx],
        }
    )


SURVIVOR_GROUP = 16  # doc shards per survivors unit (consecutive unit numbers)


def survivor_group_count(n_shards: int) -> int:
    return -(-n_shards // SURVIVOR_GROUP)


def survivors_unit(unit: dict[str, Any]) -> dict[str, Any]:
    """Survivor rows asked for by finalize, for the doc shards of group ``g``; one file per requesting shard.

    Grouped, since a night's removed docs point into most of the history's doc shards: one unit per doc
    shard wrote (index shards x new shards) small files, read back by the filter units."""
    ctx, g = unit["ctx"], unit["group"]
    fin, sigs, store = _store(ctx, "finalize"), _store(ctx, "signatures"), _store(ctx, "survivors")

    def compute() -> tuple[list[ShardInfo], dict[str, Any]]:
        recs = [fin.completed(f"q{q:04d}", verify=False) for q in range(ctx["partitions"])]
        req = _concat(fin, fin.shards(recs, kind="req", group=g))
        if req is None:
            return [], {}
        labels, requester = _col(req, "label"), _col(req, "requester")
        pairs = np.unique(np.stack([labels, requester], axis=1), axis=0)
        of = shard_of(ctx, pairs[:, 0])
        outs = []
        for v in np.unique(of).tolist():
            mine = pairs[of == v]
            s = ctx["shards"][v]
            if s["kind"] == "index":  # survivors kept by earlier runs: the segment's docs files
                t = _index_docs(ctx, s, ["node_key", "id", "text_hash", "url_hash"])
                outs.append((_survivor_rows(t, mine[:, 0], np.full(t.num_rows, _i64(hash_strings([INDEX_SRC]))[0], np.int64)), mine[:, 1]))
            else:
                rec = sigs.completed(f"u{v:05d}", verify=False)
                t = sigs.read_table(sigs.shards([rec], kind="sig")[0], ["node_key", "id", "text_hash", "url_hash", "src"])
                outs.append((_survivor_rows(t, mine[:, 0], _col(t, "src")), mine[:, 1]))
        out = pa.concat_tables([o for o, _ in outs])
        shards = _scatter(store, f"g{g:05d}-surv", out, np.concatenate([r for _, r in outs]), len(ctx["shards"]), "shard", kind="surv")
        return shards, {}

    return _cached(store, f"g{g:05d}", compute)


# ----------------------------------------------------------------------------- phase 7: filter


def _reasons(th: np.ndarray, uh: np.ndarray, sth: np.ndarray, suh: np.ndarray, kinds: np.ndarray, url_dedup: bool) -> list[str]:
    """exact_dup when the text equals the survivor's, url_dup when the URL does, else by the doc's own edges."""
    out = []
    for t, u, st, su, k in zip(th.tolist(), uh.tolist(), sth.tolist(), suh.tolist(), kinds.tolist()):
        if t == st:
            out.append("exact_dup")
        elif url_dedup and u != 0 and u == su:
            out.append("url_dup")
        elif k & (1 << KIND_NEAR):
            out.append("near_dup")
        elif k & (1 << KIND_URL):
            out.append("url_dup")
        else:
            out.append("exact_dup")
    return out


def filter_unit(unit: dict[str, Any]) -> dict[str, Any]:
    ctx, s = unit["ctx"], unit["shard"]
    u = s["unit"]
    sigs, fin, surv = _store(ctx, "signatures"), _store(ctx, "finalize"), _store(ctx, "survivors")
    cfg = _cfg(ctx)
    ds = open_dataset(s["uri"])
    docs = ds.read_shard(ShardInfo.from_dict(s["info"]))
    sig_t = sigs.read_table(sigs.shards([sigs.completed(f"u{u:05d}", verify=False)], kind="sig")[0])
    frecs = [fin.completed(f"q{q:04d}", verify=False) for q in range(ctx["partitions"])]
    final = _concat(fin, fin.shards(frecs, kind="final", shard=u))
    srecs = [surv.completed(f"g{x:05d}", verify=False) for x in ctx["surv_groups"]]
    survivors = _concat(surv, surv.shards([r for r in srecs if r], kind="surv", shard=u))
    nodes = _col(sig_t, "node_key")
    dropped = np.zeros(len(nodes), dtype=bool)
    shards: list[ShardInfo] = []
    reasons: list[str] = []
    members = np.zeros((0, 2), np.int64)  # (label, dump hash) of each removed doc, for Table 1
    labels = np.zeros((0, 2), np.int64)  # (label, dump hash of the survivor)
    if final is not None:
        fn, fl, fk = _col(final, "node"), _col(final, "label"), _col(final, "kinds")
        order = np.argsort(fn)
        fn, fl, fk = fn[order], fl[order], fk[order]
        rows = doc_index_of(fn) - s["lo"]  # input shard rows are doc_index - lo
        sl = _col(survivors, "label")
        so = np.argsort(sl)
        si = so[np.searchsorted(sl[so], fl)]
        sth, suh = _col(survivors, "s_text_hash")[si], _col(survivors, "s_url_hash")[si]
        th, uh = _col(sig_t, "text_hash")[rows], _col(sig_t, "url_hash")[rows]
        reason_of = _reasons(th, uh, sth, suh, fk, ctx.get("url_dedup", True))
        dup_of = survivors.column("survivor_id").take(pa.array(si)).to_pylist()
        members = np.stack([fl, _col(sig_t, "src")[rows]], axis=1)
        labels = np.unique(np.stack([fl, _col(survivors, "s_src")[si]], axis=1), axis=0)
        order_rows = np.argsort(rows)
        rows = rows[order_rows]
        reasons = [reason_of[i] for i in order_rows]
        dup_of = [dup_of[i] for i in order_rows]
        dropped[rows] = True
        d = docs.take(pa.array(rows))
        drop_table = pa.table(
            {
                "id": d.column("id"), "reason": pa.array(reasons, pa.string()), "text": d.column("text"), "url": d.column("url"),
                "source": d.column("source"), "lang": d.column("lang"), "duplicate_of": pa.array(dup_of, pa.string()),
                "detail": pa.nulls(len(rows), pa.string()),
            },
            schema=DROPPED_SCHEMA,
        )
        if drop_table.num_rows:
            shards.append(write_shard(ctx["out_location"], "dropped", u, drop_table))
    kept_idx = pa.array(np.nonzero(~dropped)[0])
    kept = conform_documents(docs.take(kept_idx))
    shards.append(write_shard(ctx["out_location"], "data", u, kept))
    # this run's segment of the dedup index: one docs file per input shard (bands and keys: phase segment)
    ks = sig_t.take(kept_idx)
    index_cols = {
        "node_key": _col(ks, "node_key") & ~np.int64(NEW_FLAG),  # already-kept docs win against the next dump
        "id": kept.column("id"),
        "text_hash": ks.column("text_hash"),
        "url_hash": ks.column("url_hash"),
        "dump": kept.column("source"),
    }
    if "shingles" in ks.column_names:  # verification against already-kept docs: a bottom-k sketch
        index_cols["shingles"] = pc.list_slice(ks.column("shingles"), 0, ctx["index_shingles"])
    seg = ctx["segment_out"]
    index_shard = segment_store(ctx["index_root"], seg).write(f"docs-u{u:05d}", pa.table(index_cols), kind="docs", lo=s["lo"], hi=s["hi"])
    langs = docs.column("lang").to_pylist()
    srcs = docs.column("source").to_pylist()
    by_lang: dict[str, dict[str, Any]] = {}
    by_source: dict[str, dict[str, Any]] = {}
    reason_at = dict(zip(rows.tolist(), reasons)) if final is not None else {}
    for i in range(docs.num_rows):
        for table, name in ((by_lang, langs[i] or "unknown"), (by_source, srcs[i] or "unknown")):
            c = table.setdefault(name, {"input": 0, "kept": 0, "dropped": {}, "quarantined": 0})
            c["input"] += 1
            if i in reason_at:
                c["dropped"][reason_at[i]] = c["dropped"].get(reason_at[i], 0) + 1
            else:
                c["kept"] += 1
    return {
        "shards": [x.to_dict() for x in shards],
        "index_shard": index_shard.to_dict(),
        "members": members.tolist(),
        "labels": labels.tolist(),
        "input": docs.num_rows,
        "kept": int(kept.num_rows),
        "dropped": dict(Counter(reasons)),
        "by_lang": by_lang,
        "by_source": by_source,
    }


# ----------------------------------------------------------------------------- phase 8: segment


def segment_unit(unit: dict[str, Any]) -> dict[str, Any]:
    """Partition ``p`` of this run's index segment: band and key rows of the kept new documents, sorted.

    Not cached: it is O(new documents) and rewrites the same bytes after a crash."""
    ctx, p = unit["ctx"], unit["part"]
    sigs, fin = _store(ctx, "signatures"), _store(ctx, "finalize")
    out = segment_store(ctx["index_root"], ctx["segment_out"])
    records = [sigs.completed(f"u{s['unit']:05d}", verify=False) for s in _inputs(ctx)]
    frecs = [fin.completed(f"q{q:04d}", verify=False) for q in range(ctx["partitions"])]
    removed = np.unique(_col(_concat(fin, fin.shards(frecs, kind="final"), ["node"]), "node"))
    result: dict[str, Any] = {}
    for kind, cols, key in (("bands", ["band_key", "node", "text_hash"], "band_key"), ("keys", ["kind", "key", "node"], "key")):
        t = _concat(sigs, sigs.shards(records, kind=kind, part=p), cols)
        if t is None:
            continue
        nodes = _col(t, "node")
        keep = ~np.isin(nodes, removed)
        t = t.filter(pa.array(keep)).set_column(cols.index("node"), "node", pa.array(nodes[keep] & ~np.int64(NEW_FLAG)))
        if t.num_rows:
            t = t.take(pa.array(np.argsort(_col(t, key), kind="stable")))
            result[kind] = out.write(f"{kind}-p{p:04d}", t, kind=kind, part=p).to_dict()
    return result


# ----------------------------------------------------------------------------- driver


def local_map(fn: UnitFn, units: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The default ``map_units``: every unit in this process, in order."""
    return [fn(dict(u)) for u in units]


def run_measured(fn: UnitFn, unit: dict[str, Any]) -> dict[str, Any]:
    """Run one unit and add its CPU seconds and the worker's peak RSS (MB) to the result."""
    cpu = time.process_time()
    result = dict(fn(unit))
    result["_cpu_s"] = time.process_time() - cpu
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result["_peak_rss_mb"] = rss / (1 << 20) if sys.platform == "darwin" else rss / 1024
    return result


class PhaseUnit:
    """One phase's unit function, measured (:func:`run_measured`); ``phase`` names the phase for whoever maps
    its units (the stage driver counts progress per phase with it)."""

    def __init__(self, phase: str, fn: UnitFn) -> None:
        self.phase, self.fn = phase, fn

    def __call__(self, unit: dict[str, Any]) -> dict[str, Any]:
        return run_measured(self.fn, unit)


def _run(phase: str, fn: UnitFn, units: list[dict[str, Any]], map_units: MapUnits, report: dict[str, Any]) -> list[dict[str, Any]]:
    results = map_units(PhaseUnit(phase, fn), units) if units else []
    done = sum(1 for r in results if r.get("skipped"))
    entry = report.setdefault(phase, {"units": 0, "skipped": 0, "cpu_s": 0.0, "peak_rss_mb": 0.0})
    entry["units"] += len(results)
    entry["skipped"] += done
    entry["cpu_s"] = round(entry["cpu_s"] + sum(r.pop("_cpu_s", 0.0) for r in results), 3)
    entry["peak_rss_mb"] = round(max([entry["peak_rss_mb"]] + [r.pop("_peak_rss_mb", 0.0) for r in results]), 1)
    log.info("dedup phase %s: %d units (%d already complete)", phase, len(results), done)
    return results


def run_graph(ctx: dict[str, Any], map_units: MapUnits, report: dict[str, Any]) -> dict[str, Any]:
    """candidates -> verify -> components (until no messages) -> finalize; returns counts."""
    P = ctx["partitions"]
    cand = _run("candidates", candidates_unit, [{"ctx": ctx, "part": p} for p in range(P)], map_units, report)
    ver = []
    # verify only the doc shards that received candidates (not every index shard of the history)
    ctx = {**ctx, "verify_shards": sorted({v for x in cand for v in x.get("cand_shards", [])})}
    if _cfg(ctx).verify_jaccard is not None:
        ver = _run("verify", verify_unit, [{"ctx": ctx, "shards": g} for g in verify_groups(ctx["verify_shards"])], map_units, report)
    r = 0
    while True:
        res = _run("components", components_unit, [{"ctx": ctx, "part": q, "round": r} for q in range(P)], map_units, report)
        if sum(x["messages"] for x in res) == 0:
            break
        r += 1
    ctx = {**ctx, "final_round": r}
    fin = _run("finalize", finalize_unit, [{"ctx": ctx, "part": q} for q in range(P)], map_units, report)
    ctx = {**ctx, "surv_groups": sorted({g for x in fin for g in x.get("req_groups", [])})}
    return {
        "ctx": ctx,
        "rounds": r + 1,
        "candidate_pairs": sum(x["candidate_pairs"] for x in cand),
        "verified_pairs": sum(x["verified"] for x in ver) if ver else (0 if _cfg(ctx).verify_jaccard is not None else None),
        "removed": sum(x["removed_new"] for x in fin),
    }


def run_phases(ctx: dict[str, Any], map_units: MapUnits = local_map) -> dict[str, Any]:
    """Run every phase; return per-unit filter results, this run's segment files and the stage statistics.

    ``ctx``: work, minhash, partitions, url_dedup, shards (index docs files + input shards, by lo),
    index_root, segments (the index segments read), segment_out (this run's segment name),
    index_shingles, out_location."""
    report: dict[str, Any] = {}
    sig = _run("signatures", signatures_unit, [{"ctx": ctx, "shard": s} for s in _inputs(ctx)], map_units, report)
    graph = run_graph(ctx, map_units, report)
    ctx = graph["ctx"]
    _run("survivors", survivors_unit, [{"ctx": ctx, "group": g} for g in ctx["surv_groups"]], map_units, report)
    filt = _run("filter", filter_unit, [{"ctx": ctx, "shard": s} for s in _inputs(ctx)], map_units, report)
    seg = _run("segment", segment_unit, [{"ctx": ctx, "part": p} for p in range(ctx["partitions"])], map_units, report)
    by_source: Counter[str] = Counter()
    for x in sig:
        by_source.update(x["by_source"])
    members = [np.asarray(x.pop("members"), np.int64).reshape(-1, 2) for x in filt]
    labels = [np.asarray(x.pop("labels"), np.int64).reshape(-1, 2) for x in filt]
    removed_of = np.concatenate([m[:, 0] for m in members]) if members else np.zeros(0, np.int64)
    sizes = Counter((np.unique(removed_of, return_counts=True)[1] + 1).tolist())  # removed docs + the survivor
    return {
        "filter": filt,
        "segment": {
            "bands": {p: ShardInfo.from_dict(x["bands"]) for p, x in enumerate(seg) if "bands" in x},
            "keys": {p: ShardInfo.from_dict(x["keys"]) for p, x in enumerate(seg) if "keys" in x},
            "docs": [ShardInfo.from_dict(x["index_shard"]) for x in filt],
        },
        "docs_by_source": dict(by_source),
        "dedup_by_dumps": removal_by_dumps(dict(by_source), np.concatenate(members), np.unique(np.concatenate(labels), axis=0)) if filt else [],
        "cluster_sizes": {str(k): v for k, v in sorted(sizes.items())},
        "rounds": graph["rounds"],
        "candidate_pairs": graph["candidate_pairs"],
        "verified_pairs": graph["verified_pairs"],
        "phases": report,
    }


def removal_by_dumps(docs_by_source: dict[str, int], members: np.ndarray, labels: np.ndarray) -> list[dict[str, Any]]:
    """DeepSeek Table 1 from the clusters, once: docs removed when deduplicating the first 1, 2, 4, ... dumps together.

    ``members``: (label, dump hash) of every removed document; ``labels``: (label, dump hash of its
    survivor). Restricted to the first k dumps (by name), a cluster keeps one of its members there
    (its earliest), so removed(k) = members in the first k dumps - clusters with a member there.
    (Rerunning the graph on the k dumps alone can split a cluster that only a later dump links;
    this counts it whole.) Documents of the index (earlier runs) are not counted."""
    dumps = sorted(d for d in docs_by_source if d != INDEX_SRC)
    rank_of = dict(zip(_i64(hash_strings(dumps, count=len(dumps))).tolist(), range(len(dumps))))
    rows = np.concatenate([members, labels]) if len(members) else np.zeros((0, 2), np.int64)
    rank = np.array([rank_of.get(h, -1) for h in rows[:, 1].tolist()], dtype=np.int64)
    sel = rank >= 0
    lab, rank = rows[sel, 0], rank[sel]
    ks = sorted({k for k in (2**i for i in range(len(dumps).bit_length())) if k <= len(dumps)} | ({len(dumps)} if dumps else set()))
    out = []
    for k in ks:
        chosen = dumps[:k]
        inside = rank < k
        removed = int(inside.sum() - len(np.unique(lab[inside])))
        n = sum(docs_by_source[d] for d in chosen)
        out.append({"dumps": k, "documents": n, "removed": removed, "removed_pct": round(100.0 * removed / n, 2) if n else 0.0, "names": chosen})
    return out
