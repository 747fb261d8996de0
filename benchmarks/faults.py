"""Fault injection: hostile input, kill -9 at chosen moments, flipped bytes, a killed Ray worker.

    python -m benchmarks.faults                         # everything; report in runs/faults/report.json
    python -m benchmarks.faults --only inputs,corrupt   # some parts: inputs, kills, corrupt, ray
    python -m benchmarks.faults --stages filter --moments before_latest

Parts (each row of the report says what was done and what came of it):

* ``inputs``: every hostile-input kind of tests/tasks/test_hostile_input.py plus the kinds below
  (truncated gzip/zstd, wrong schema, empty and giant documents, odd file names...). Each kind is
  an input tree holding known good records beside the bad thing; ingest runs in-process and the
  row counts good records in / kept / lost / duplicated, quarantine entries and drops, and whether
  the outcome is the expected one ("contained"). Then every kind side by side in one tree through
  ``longterm ingest --no-prefect`` (Ray).
* ``kills``: ``longterm <stage> ... --no-prefect`` in a subprocess for ingest, filter, dedup and
  tokenize, killed with SIGKILL at a share of a clean run's wall time, when the first output file
  appears, and between ``manifest.json`` and ``LATEST`` (the process kills itself there:
  ``python -m benchmarks.faults cli --die-at before_latest -- ARGS``); then what a reader sees
  (nothing / the previous version / a complete version, never a partial one), which of the
  driver's processes (the local Ray cluster) are still alive 5 s later, and whether a rerun of the
  same command publishes the clean run's manifest digest. ``pretrain`` is killed early, after a
  committed checkpoint, and between a checkpoint's data and its ``meta.json``; the resumed run's
  losses per step (1e-6) and final weights are compared with an uninterrupted run.
* ``corrupt``: one byte flipped in a document shard (then ``longterm filter``), in a token shard
  (``longterm pretrain``) and in a checkpoint (``longterm pretrain`` resuming from it): refused or
  not, exit code, whether the message names the file, whether a traceback was printed.
* ``ray``: a Ray worker (``tasks.executor`` actor) of the stage's own local cluster killed mid-stage (``longterm
  filter``): the stage's exit, its message, and whether the result is the clean digest.

Inputs are the deterministic demo crawl (``--docs``, default 300 pages in 3 dumps) and the tiny
model preset, so the full run takes minutes on two CPU cores; figures are in RELIABILITY.md.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ENV = {
    "PYTHONPATH": str(ROOT),
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "RAY_AUTH_MODE": "disabled",
    "TOKENIZERS_PARALLELISM": "false",
}
DATA_STAGES = ("ingest", "filter", "dedup", "tokenize")
DATA_MOMENTS = ("at_50pct", "first_output_file", "before_latest")
PRETRAIN_MOMENTS = ("early", "after_checkpoint", "before_ckpt_meta")
# 16 steps of 4 x 32 tokens, a checkpoint every 3 steps (async), as tests/model/test_pretrain.py
PRETRAIN_ARGS = ["--preset", "tiny", "--seq-len", "32", "--batch-size", "4", "--steps", "16", "--ckpt-every-steps", "3",
                 "--keep-last", "2", "--async-checkpoint", "on", "--log-every", "1", "--eval-every", "0",
                 "--no-progress", "--no-tensorboard"]


# ============================================================================ bad inputs


def _extra_kinds() -> list:
    """Kinds beyond tests/tasks/test_hostile_input.py (same Kind record, same checks)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import zstandard

    from tests.tasks.test_hostile_input import GOOD_IDS, PROSE, Kind, good_lines, jline, write_good

    def lines_file(root: Path, extra: list[bytes]) -> None:
        (root / "good.jsonl").write_bytes(b"\n".join(good_lines() + extra) + b"\n")

    def truncated_gzip(root: Path, outside: Path) -> None:
        write_good(root)
        data = gzip.compress(b"\n".join(good_lines("cut", 50)) + b"\n")
        (root / "cut.jsonl.gz").write_bytes(data[: len(data) // 2])

    def truncated_zstd(root: Path, outside: Path) -> None:
        write_good(root)
        data = zstandard.ZstdCompressor().compress(b"\n".join(good_lines("cut", 50)) + b"\n")
        (root / "cut.jsonl.zst").write_bytes(data[: len(data) // 2])

    def gzip_trailing_garbage(root: Path, outside: Path) -> None:
        write_good(root)
        (root / "tail.jsonl.gz").write_bytes(gzip.compress(b"\n".join(good_lines("gzt")) + b"\n") + b"garbage after the stream")

    def empty_files(root: Path, outside: Path) -> None:
        write_good(root)
        for name in ("empty.jsonl", "empty.jsonl.gz", "empty.warc.gz", "empty.html"):
            (root / name).write_bytes(b"")

    def empty_texts(root: Path, outside: Path) -> None:
        lines_file(root, [b'{"id": "e", "text": ""}', b'{"id": "w", "text": "   \\n\\t "}', b'{"id": "n", "text": null}'])

    def giant_doc(root: Path, outside: Path) -> None:  # 3 MB of text: above max_doc_bytes (1 MiB), truncated
        lines_file(root, [jline({"id": "giant", "text": ("A long line of prose about the ferry and its crossings. " * 40 + "\n") * 1400})])

    def wrong_schema_parquet(root: Path, outside: Path) -> None:
        write_good(root)
        pq.write_table(pa.table({"body": ["x", "y"], "n": [1, 2]}), root / "other.parquet")

    def parquet_text_int(root: Path, outside: Path) -> None:
        write_good(root)
        pq.write_table(pa.table({"id": ["pi-0"], "text": [123]}), root / "ints.parquet")

    def truncated_parquet(root: Path, outside: Path) -> None:
        write_good(root)
        p = root / "cut.parquet"
        pq.write_table(pa.table({"id": ["pq-0", "pq-1"], "text": PROSE[:2]}), p)
        p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])

    def missing_text_field(root: Path, outside: Path) -> None:
        lines_file(root, [b'{"id": "nt", "body": "a record with no text field"}'])

    def duplicate_json_keys(root: Path, outside: Path) -> None:
        lines_file(root, [b'{"id": "dk", "text": "the first value of the key", "text": "the second value of the key"}'])

    def directory_named_jsonl(root: Path, outside: Path) -> None:
        write_good(root / "x.jsonl")

    def non_utf8_file_name(root: Path, outside: Path) -> None:
        write_good(root)
        with open(os.fsencode(root) + b"/bad-\xff\xfe.jsonl", "wb") as f:
            f.write(b"\n".join(good_lines("name")) + b"\n")
        os.mkdir(os.fsencode(root) + b"/dir-\xe9")  # Latin-1 e-acute: not UTF-8
        with open(os.fsencode(root) + b"/dir-\xe9/in.jsonl", "wb") as f:
            f.write(b"\n".join(good_lines("dirname")) + b"\n")

    return [
        Kind("truncated_gzip", "a .jsonl.gz cut in half (no end-of-stream marker)", truncated_gzip, 5, 1, error="EOFError",
             outcome="records before the cut kept (2), the file quarantined"),
        Kind("truncated_zstd", "a .jsonl.zst cut in half", truncated_zstd, 3, 1, error="truncated",
             outcome="the file quarantined; no record before the cut kept"),
        Kind("gzip_trailing_garbage", "junk bytes after a complete gzip stream", gzip_trailing_garbage, 6, 1,
             good_ids=GOOD_IDS + ["gzt-0", "gzt-1", "gzt-2"], outcome="records kept, the tail quarantined"),
        Kind("empty_files", "0-byte .jsonl, .jsonl.gz, .warc.gz and .html files", empty_files, 3, dropped={"ingest_no_main_text": 1},
             outcome="no records; the empty page dropped ingest_no_main_text"),
        Kind("empty_texts", "records whose text is empty, whitespace or null", empty_texts, 3, 1, dropped={"ingest_empty_text": 2},
             outcome="empty/whitespace dropped ingest_empty_text, null quarantined"),
        Kind("giant_document", "one 3 MB document (max_doc_bytes 1 MiB)", giant_doc, 4, good_ids=GOOD_IDS + ["giant"],
             outcome="kept, truncated at a line break (oversize=truncate)"),
        Kind("parquet_wrong_schema", "a Parquet file without a text column", wrong_schema_parquet, 3, 1, error="no 'text' column",
             outcome="1 quarantined file"),
        Kind("parquet_text_not_string", "a Parquet file whose text column is int64", parquet_text_int, 3, 1,
             outcome="the row quarantined"),
        Kind("parquet_truncated", "a Parquet file cut in half", truncated_parquet, 3, 1, error="Parquet", outcome="1 quarantined file"),
        Kind("missing_text_field", "a JSONL record without a text field", missing_text_field, 3, 1, error="no 'text' field",
             outcome="that record quarantined"),
        Kind("duplicate_json_keys", "a record with the text key twice", duplicate_json_keys, 4, good_ids=GOOD_IDS + ["dk"],
             outcome="kept (last value wins, as json.loads)"),
        Kind("directory_named_jsonl", "a directory called x.jsonl holding good.jsonl", directory_named_jsonl, 3,
             outcome="walked as a directory"),
        Kind("non_utf8_file_name", "a file and a directory whose names are not UTF-8", non_utf8_file_name, 9,
             good_ids=GOOD_IDS + [f"{p}-{i}" for p in ("name", "dirname") for i in range(3)],
             outcome="both read; stored under their \\x-escaped names"),
    ]


def all_kinds() -> list:
    from tests.tasks.test_hostile_input import KINDS

    return list(KINDS) + _extra_kinds()


def measure_kind(kind, work: Path) -> dict[str, Any]:
    """Build the kind's tree, ingest it in-process and count what became of the good records."""
    from storage import open_dataset
    from tasks.ingest import IngestConfig, run_ingest
    from tests.tasks.test_hostile_input import assert_kind

    root, outside = work / "in", work / "outside"
    root.mkdir(parents=True)
    outside.mkdir()
    kind.build(root, outside)
    row: dict[str, Any] = {"kind": kind.name, "what": kind.what, "good_in": len(kind.good_ids)}
    t = time.perf_counter()
    try:
        uri = run_ingest([str(root)], str(work / "out"), IngestConfig(), executor="local")
    except Exception as e:  # noqa: BLE001 - the stage failing is a result: every good record lost
        row.update(good_kept=0, lost=len(kind.good_ids), duplicated=0, quarantined=None, dropped=None, contained=False,
                   error=f"stage failed: {type(e).__name__}: {str(e)[:200]}", seconds=round(time.perf_counter() - t, 2))
        return row
    ds = open_dataset(uri, kind="documents")
    ids = ds.read_all("data").column("id").to_pylist()
    seen = Counter(ids)
    rows = {"data": {r["id"]: r for r in ds.read_all("data").to_pylist()}, "ids": ids, "dropped": ds.read_all("dropped").to_pylist(),
            "quarantine": ds.read_all("quarantine").to_pylist(), "stats": ds.manifest.stats}
    c = ds.manifest.counts
    row.update(
        good_kept=sum(1 for i in kind.good_ids if seen[i] >= 1),
        lost=sum(1 for i in kind.good_ids if seen[i] == 0),
        duplicated=sum(n - 1 for n in seen.values() if n > 1),
        kept=c.kept, quarantined=c.quarantined, dropped=dict(c.dropped), conserved=c.input == c.kept + c.dropped_total + c.quarantined,
        quarantine_errors=sorted({(q["error"] or "")[:80] for q in rows["quarantine"]}),
        seconds=round(time.perf_counter() - t, 2),
    )
    try:
        assert_kind(kind, c, rows)
        row["contained"], row["error"] = True, None
    except AssertionError as e:
        row["contained"], row["error"] = False, f"not as expected: {str(e)[:200]}"
    return row


def bad_inputs(work: Path, kinds: list | None = None) -> list[dict[str, Any]]:
    rows = []
    for i, kind in enumerate(kinds if kinds is not None else all_kinds()):
        rows.append(measure_kind(kind, work / f"{i:02d}-{kind.name}"))
    return rows


def bad_inputs_one_tree(work: Path, kinds: list, skip: set[str]) -> dict[str, Any]:
    """Every kind (but ``skip``) side by side in one crawl tree through ``longterm ingest --no-prefect``."""
    from storage import open_dataset

    root, outside = work / "crawl", work / "outside"
    for kind in kinds:
        if kind.name in skip:
            continue
        (root / kind.name).mkdir(parents=True)
        (outside / kind.name).mkdir(parents=True)
        kind.build(root / kind.name, outside / kind.name)
    res = run_cli(["ingest", str(root), "--out", str(work / "out"), "--no-prefect"], work / "ingest.log", timeout=600)
    row: dict[str, Any] = {"kinds": len(kinds) - len(skip), "skipped": sorted(skip), "rc": res["rc"], "seconds": res["seconds"]}
    if res["rc"] != 0:
        row["error"] = res["tail"]
        return row
    ds = open_dataset(str(work / "out"), kind="documents")
    seen = Counter(ds.read_all("data").column("id").to_pylist())
    per_kind: dict[str, Counter] = {}
    for path, f in ds.manifest.stats["by_file"].items():
        per_kind.setdefault(Path(path).relative_to(root).parts[0], Counter())["kept"] += f["kept"]
    good = [(k.name, i) for k in kinds if k.name not in skip for i in k.good_ids]
    # ids repeat across kinds (good-0 is in every tree), so count per kind from the by-file stats
    row.update(counts=ds.manifest.counts.to_dict(), conserved=ds.manifest.counts.is_conserved(),
               kinds_with_expected_kept=sum(1 for k in kinds if k.name not in skip and per_kind.get(k.name, Counter())["kept"] == k.kept),
               good_in=len(good), kept_total=ds.manifest.counts.kept, expected_kept=sum(k.kept for k in kinds if k.name not in skip),
               distinct_ids=len(seen))
    return row


# ============================================================================ processes


def cli_argv(args: list[str], die_at: str | None = None) -> list[str]:
    """The ``longterm`` command line (through this module when it must die at an inner moment)."""
    if die_at:
        return [sys.executable, "-m", "benchmarks.faults", "cli", "--die-at", die_at, "--", *args]
    return [sys.executable, "-m", "flows.cli", *args]


def _env() -> dict[str, str]:
    env = {**os.environ, **ENV}
    env.pop("RAY_ADDRESS", None)  # every command starts its own local cluster, as a user's would
    return env


def run_cli(args: list[str], log: Path, timeout: float = 600, die_at: str | None = None) -> dict[str, Any]:
    t = time.perf_counter()
    with open(log, "wb") as f:
        p = subprocess.run(cli_argv(args, die_at), cwd=ROOT, env=_env(), stdout=f, stderr=subprocess.STDOUT, timeout=timeout)
    text = log.read_text(errors="replace")
    return {"rc": p.returncode, "seconds": round(time.perf_counter() - t, 2), "tail": text[-1500:], "log": text}


def _ppid_map() -> dict[int, int]:
    out = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = Path(f"/proc/{d}/stat").read_text()
                out[int(d)] = int(stat[stat.rindex(")") + 2 :].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    return out


def descendants(pid: int) -> set[int]:
    parents = _ppid_map()
    found, frontier = set(), {pid}
    while frontier:
        frontier = {c for c, p in parents.items() if p in frontier and c not in found}
        found |= frontier
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\x00", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return False


def _reap(pids: set[int]) -> None:
    """End processes this benchmark started (by pid) that outlived their killed driver."""
    for p in pids:
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass


@dataclass
class Killed:
    rc: int | None
    seconds: float
    killed: bool  # False: the run ended before the moment came
    survivors: list[str]  # the driver's processes still alive 5 s after its kill (command lines)
    log: str


def run_and_kill(args: list[str], log: Path, when: Callable[[float], bool] | None, die_at: str | None = None,
                 timeout: float = 600, on_poll: Callable[[set[int]], bool] | None = None) -> Killed:
    """Start ``longterm ARGS``; SIGKILL it as soon as ``when(elapsed)`` is true (or let it kill itself at
    ``die_at``); then see which of its processes survive it. ``on_poll(descendants)`` may kill a child
    and return True to stop polling (the run then goes on to its end)."""
    t = time.perf_counter()
    seen: set[int] = set()
    with open(log, "wb") as f:
        proc = subprocess.Popen(cli_argv(args, die_at), cwd=ROOT, env=_env(), stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
        killed = False
        polling = on_poll is not None
        while proc.poll() is None and time.perf_counter() - t < timeout:
            kids = descendants(proc.pid)
            seen |= kids
            if polling and on_poll(kids):
                polling = False
            if when is not None and when(time.perf_counter() - t):
                os.kill(proc.pid, signal.SIGKILL)
                killed = True
                break
            time.sleep(0.05)
        if proc.poll() is None and not killed and time.perf_counter() - t >= timeout:
            os.kill(proc.pid, signal.SIGKILL)
        rc = proc.wait()
    seconds = time.perf_counter() - t
    if rc == -signal.SIGKILL:
        killed = True
    time.sleep(5)
    survivors = {p for p in seen if _alive(p)}
    names = sorted({_cmdline(p)[:80] for p in survivors})
    _reap(survivors)
    return Killed(rc, round(seconds, 2), killed, names, log.read_text(errors="replace"))


# ============================================================================ kill -9 of data stages


def reader_view(out: Path) -> dict[str, Any]:
    """What a reader of ``out`` finds after a crash: nothing, or a complete, verified version."""
    from storage import DatasetError, open_dataset

    latest = out / "LATEST"
    view: dict[str, Any] = {"LATEST": latest.read_text().strip() if latest.exists() else None,
                            "pending": (out / "LATEST.pending").exists(),
                            "versions_without_manifest": sorted(p.name for p in out.glob("*-*") if p.is_dir() and not (p / "manifest.json").exists())}
    try:
        ds = open_dataset(str(out))
        ds.verify()
        view.update(reader="complete version", digest=ds.digest, version=Path(ds.uri).name)
    except DatasetError as e:
        view.update(reader="refused" if "no such dataset" not in str(e) else "nothing published", message=str(e)[:200])
    return view


def _first_output_file(out: Path) -> Callable[[float], bool]:
    def when(elapsed: float) -> bool:
        return any(p.is_file() for p in out.glob("*/*/*"))
    return when


def kill_data_stage(stage: str, args: list[str], out: Path, moment: str, clean: dict[str, Any], work: Path) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    full = [*args, "--out", str(out)]
    when: Callable[[float], bool] | None
    die_at = None
    if moment.startswith("at_"):
        share = int(moment[3:-3]) / 100
        when = lambda elapsed: elapsed >= share * clean["seconds"]  # noqa: E731
    elif moment == "first_output_file":
        when = _first_output_file(out)
    elif moment == "before_latest":
        when, die_at = None, "before_latest"
    else:
        raise ValueError(moment)
    k = run_and_kill(full, work / "killed.log", when, die_at=die_at)
    view = reader_view(out)
    rerun = run_cli(full, work / "rerun.log")
    after = reader_view(out)
    return {
        "stage": stage, "moment": moment, "killed": k.killed, "killed_after_s": k.seconds,
        "after_kill": view, "survivors": len(k.survivors), "survivor_cmds": k.survivors[:6],
        "rerun_rc": rerun["rc"], "rerun_seconds": rerun["seconds"], "rerun_digest": after.get("digest"),
        "clean_digest": clean["digest"], "identical": after.get("digest") == clean["digest"] and rerun["rc"] == 0,
        "latest_repaired": after.get("LATEST") == Path(clean["uri"]).name and not after["pending"],
        "partial_seen_by_reader": view.get("reader") == "refused" and "LATEST" in view.get("message", ""),
    }


# ============================================================================ the small pipeline


@dataclass
class Pipeline:
    crawl: Path
    dumps: list[str]
    clean: dict[str, dict[str, Any]]  # stage -> {uri, digest, seconds}
    tokenizer: str

    def stage_args(self, stage: str) -> list[str]:
        if stage == "ingest":
            return ["ingest", *self.dumps, "--no-prefect"]
        if stage == "filter":
            return ["filter", self.clean["ingest"]["uri"], "--no-prefect"]
        if stage == "dedup":
            return ["dedup", self.clean["filter"]["uri"], "--no-prefect"]
        if stage == "tokenize":
            return ["tokenize", self.clean["dedup"]["uri"], "--tokenizer", self.tokenizer, "--val-fraction", "0.1", "--no-prefect"]
        raise ValueError(stage)


def build_pipeline(work: Path, docs: int, dumps: int) -> Pipeline:
    """Clean runs of every stage through the CLI: the reference digests (and wall times) for the kills.

    ``work`` is kept between benchmark runs: a clean stage whose inputs, config and code are unchanged
    is then a no-op of the CLI (content-addressed), and its first wall time is read from seconds.json."""
    from storage import open_dataset
    from tasks.demo_crawl import generate_demo_crawl

    crawl = work / f"crawl-{docs}x{dumps}"
    if not (crawl / "ground_truth.jsonl").is_file():
        generate_demo_crawl(str(crawl), num_docs=docs, num_dumps=dumps, seed=0)
    p = Pipeline(crawl, sorted(str(d) for d in crawl.glob("dump-*")), {}, str(work / f"tokenizer-{docs}x{dumps}"))
    times_file = work / "seconds.json"
    times = json.loads(times_file.read_text()) if times_file.exists() else {}
    for stage in DATA_STAGES:
        if stage == "tokenize":
            res = run_cli(["train-tokenizer", p.clean["dedup"]["uri"], "--out", p.tokenizer, "--vocab-size", "2000",
                           "--character-coverage", "0.99", "--no-prefect"], work / "train-tokenizer.log")
            if res["rc"] != 0:
                raise RuntimeError(f"train-tokenizer failed:\n{res['tail']}")
        out = work / f"clean-{docs}x{dumps}" / stage
        started = time.time()
        res = run_cli([*p.stage_args(stage), "--out", str(out)], work / f"clean-{stage}.log")
        if res["rc"] != 0:
            raise RuntimeError(f"clean {stage} failed:\n{res['tail']}")
        ds = open_dataset(str(out))
        if (Path(ds.uri) / "manifest.json").stat().st_mtime >= started or ds.uri not in times:
            times[ds.uri] = res["seconds"]
            times_file.write_text(json.dumps(times, indent=1))
        p.clean[stage] = {"uri": ds.uri, "digest": ds.digest, "seconds": times[ds.uri], "counts": ds.manifest.counts.to_dict()}
        print(f"  clean {stage}: {times[ds.uri]} s, {ds.manifest.counts.kept} kept, digest {ds.digest[:12]}", flush=True)
    return p


def kills(p: Pipeline, work: Path, stages: list[str], moments: list[str]) -> list[dict[str, Any]]:
    rows = []
    for stage in stages:
        if stage == "pretrain":
            continue
        for moment in moments:
            if moment not in DATA_MOMENTS:
                continue
            d = work / f"{stage}-{moment}"
            row = kill_data_stage(stage, p.stage_args(stage), d / "out", moment, p.clean[stage], d)
            rows.append(row)
            print(f"  kill {stage:8s} {moment:18s} killed={row['killed']!s:5s} reader={row['after_kill'].get('reader'):17s} "
                  f"survivors={row['survivors']} identical={row['identical']}", flush=True)
    return rows


# ============================================================================ pretrain


def train_losses(run: Path) -> dict[int, list[float]]:
    seen: dict[int, list[float]] = {}
    path = run / "metrics.jsonl"
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            continue
        if r.get("kind") == "train":
            seen.setdefault(r["step"], []).append(r["loss"])
    return seen


def _weights(run: Path) -> dict[str, Any]:
    from model.checkpoint import load_model

    model, _ = load_model(run)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _max_weight_diff(a: dict[str, Any], b: dict[str, Any]) -> float:
    if a.keys() != b.keys():
        return float("inf")
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a)


def pretrain_args(tokens: str, out: Path) -> list[str]:
    return ["pretrain", "--no-prefect", "--data", tokens, "--out", str(out), *PRETRAIN_ARGS]


def pretrain_kills(tokens: str, work: Path, moments: list[str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from model.checkpoint import list_checkpoints

    ref_dir = work / "clean"
    work.mkdir(parents=True, exist_ok=True)
    res = run_cli(pretrain_args(tokens, ref_dir), work / "clean.log")
    if res["rc"] != 0:
        raise RuntimeError(f"clean pretrain failed:\n{res['tail']}")
    ref_losses, ref_w = train_losses(ref_dir), _weights(ref_dir)
    clean = {"seconds": res["seconds"], "steps": len(ref_losses)}
    print(f"  clean pretrain: {res['seconds']} s, {len(ref_losses)} steps", flush=True)
    rows = []
    for moment in moments:
        if moment not in PRETRAIN_MOMENTS:
            continue
        d = work / moment
        d.mkdir(parents=True)
        out = d / "run"
        die_at = None
        if moment == "early":  # about a third of the steps in, often before the first committed checkpoint
            when = lambda e, out=out: max(train_losses(out) or [0]) >= 2  # noqa: E731
        elif moment == "after_checkpoint":
            when = lambda e, out=out: max(train_losses(out) or [0]) >= 8 and bool(list_checkpoints(out))  # noqa: E731
        else:  # the step-9 checkpoint's DCP files are written, its meta.json is not
            when, die_at = None, "before_ckpt_meta"
        k = run_and_kill(pretrain_args(tokens, out), d / "killed.log", when, die_at=die_at)
        committed = [s for s, _ in list_checkpoints(out)]
        killed_at = max(train_losses(out) or [0])
        rerun = run_cli(pretrain_args(tokens, out), d / "rerun.log")
        got = train_losses(out)
        summary = json.loads((out / "summary.json").read_text()) if rerun["rc"] == 0 and (out / "summary.json").exists() else {}
        diffs = [abs(x - ref_losses[s][0]) for s, xs in got.items() for x in xs if s in ref_losses]
        max_loss_diff = max(diffs) if diffs else None
        wdiff = _max_weight_diff(ref_w, _weights(out)) if rerun["rc"] == 0 else None
        row = {
            "stage": "pretrain", "moment": moment, "killed": k.killed, "killed_at_step": killed_at, "committed_checkpoints": committed,
            "survivors": len(k.survivors), "rerun_rc": rerun["rc"], "resumed_from_step": summary.get("start_step"),
            "steps_equal": sorted(got) == sorted(ref_losses), "max_loss_diff": max_loss_diff, "max_weight_diff": wdiff,
            "identical": rerun["rc"] == 0 and sorted(got) == sorted(ref_losses) and max_loss_diff is not None and max_loss_diff <= 1e-6
            and wdiff == 0.0,
        }
        if rerun["rc"] != 0:
            row["error"] = rerun["tail"][-600:]
        rows.append(row)
        print(f"  kill pretrain {moment:18s} killed={k.killed} at step {killed_at} ckpts={committed} resumed_from={summary.get('start_step')} "
              f"max_loss_diff={max_loss_diff} max_weight_diff={wdiff} identical={row['identical']}", flush=True)
    return clean, rows


# ============================================================================ corruptions


def flip_byte(path: Path, at: float = 0.5) -> int:
    data = bytearray(path.read_bytes())
    i = int(len(data) * at)
    data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    return i


def _refusal(res: dict[str, Any], name: str, trained: bool | None = None) -> dict[str, Any]:
    log = res["log"]
    lines = [ln for ln in log.splitlines() if ln.startswith("error:") or "Error" in ln]
    return {"rc": res["rc"], "refused": res["rc"] != 0 and (trained is not True), "names_the_file": name in log,
            "traceback": "Traceback (most recent call last)" in log, "message": (lines[-1] if lines else (log.strip().splitlines() or [""])[-1])[:300],
            **({"trained_on_it": trained} if trained is not None else {})}


def corruptions(p: Pipeline, tokens_uri: str, pretrain_ref: Path | None, work: Path) -> list[dict[str, Any]]:
    from model.checkpoint import list_checkpoints
    from storage import open_dataset

    rows = []
    work.mkdir(parents=True, exist_ok=True)
    # a document shard, read by filter
    docs = work / "docs"
    shutil.copytree(Path(p.clean["ingest"]["uri"]).parent, docs, symlinks=True)
    ds = open_dataset(str(docs))
    shard = Path(ds.uri) / ds.shards("data")[0].path
    flip_byte(shard)
    res = run_cli(["filter", str(docs), "--out", str(work / "filter-out"), "--no-prefect"], work / "doc-shard.log")
    rows.append({"what": "document shard -> longterm filter", "file": shard.name, **_refusal(res, shard.name)})
    # a token shard, read by pretrain
    toks = work / "tokens"
    shutil.copytree(Path(tokens_uri).parent, toks, symlinks=True)
    tds = open_dataset(str(toks))
    tshard = Path(tds.uri) / tds.shards(tds.manifest.shards[0].section)[0].path
    flip_byte(tshard)
    out = work / "pretrain-on-bad-tokens"
    res = run_cli(pretrain_args(str(toks), out), work / "token-shard.log")
    rows.append({"what": "token shard -> longterm pretrain", "file": tshard.name,
                 **_refusal(res, tshard.name, trained=bool(train_losses(out)))})
    # a checkpoint, resumed from by pretrain (the run as if killed after the step-12 checkpoint)
    if pretrain_ref is not None:
        run = work / "ckpt-run"
        shutil.copytree(pretrain_ref, run)
        ckpts = list_checkpoints(run)
        for _, path in ckpts[1:]:
            shutil.rmtree(path)
        (run / "summary.json").unlink(missing_ok=True)
        step, ck = ckpts[0]
        lines = [ln for ln in (run / "metrics.jsonl").read_text().splitlines() if '"kind": "train"' not in ln or json.loads(ln)["step"] <= step]
        (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
        target = max(ck.glob("*.distcp"), key=lambda f: f.stat().st_size)
        flip_byte(target)
        res = run_cli(pretrain_args(tokens_uri, run), work / "ckpt.log")
        resumed = json.loads((run / "summary.json").read_text()).get("start_step") if (run / "summary.json").exists() else None
        rows.append({"what": f"checkpoint step {step} -> longterm pretrain (resume)", "file": f"{ck.name}/{target.name}",
                     **_refusal(res, target.name, trained=resumed is not None and resumed > 0)})
    for r in rows:
        print(f"  flip {r['what']:48s} refused={r['refused']!s:5s} names_file={r['names_the_file']!s:5s} traceback={r['traceback']}", flush=True)
    return rows


# ============================================================================ a Ray worker killed mid-stage


def ray_worker_kill(p: Pipeline, work: Path, stage: str = "filter") -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    out = work / "out"
    victim: dict[str, Any] = {}

    def on_poll(kids: set[int]) -> bool:
        workers = sorted(k for k in kids if _cmdline(k).startswith("ray::UnitWorker"))  # tasks.executor's actors
        if not workers:
            return False
        if "seen_at" not in victim:
            victim["seen_at"] = time.perf_counter()
            return False
        if time.perf_counter() - victim["seen_at"] < 0.5:  # let it start on a unit
            return False
        victim.update(pid=workers[0], cmd=_cmdline(workers[0])[:80])
        os.kill(workers[0], signal.SIGKILL)
        return True

    k = run_and_kill([*p.stage_args(stage), "--out", str(out)], work / "run.log", None, on_poll=on_poll)
    view = reader_view(out)
    rerun = run_cli([*p.stage_args(stage), "--out", str(out)], work / "rerun.log")
    after = reader_view(out)
    clean = p.clean[stage]["digest"]
    lines = [ln for ln in k.log.splitlines() if ln.startswith("error:")]
    return {"stage": stage, "worker_killed": "pid" in victim, "worker": victim.get("cmd"), "rc": k.rc, "message": lines[-1][:300] if lines else None,
            "traceback": "Traceback (most recent call last)" in k.log, "digest_equal": view.get("digest") == clean,
            "rerun_rc": rerun["rc"], "rerun_identical": after.get("digest") == clean, "survivors": len(k.survivors)}


# ============================================================================ die at an inner moment


def _die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def cli_dying_at(die_at: str, args: list[str]) -> None:
    """Run ``longterm ARGS`` in this process, SIGKILLing it at ``die_at``:

    ``before_latest``: the version's manifest.json is written, LATEST not yet pointed at it.
    ``before_ckpt_meta``: the step-9 checkpoint's DCP files are written, its meta.json not yet.
    """
    if die_at == "before_latest":
        from storage import dataset

        dataset.DatasetWriter._point_latest = lambda self: _die()
    elif die_at == "before_ckpt_meta":
        from model import checkpoint

        orig = checkpoint._write_json

        def write_json(path: Path, obj: Any) -> None:
            if path.name == checkpoint.META and obj.get("step", 0) >= 9:
                _die()
            orig(path, obj)

        checkpoint._write_json = write_json
    else:
        raise SystemExit(f"unknown --die-at {die_at!r}")
    from flows.cli import app

    app(args=args, prog_name="longterm")


# ============================================================================ report


def print_table(report: dict[str, Any]) -> None:
    inp = report.get("inputs")
    if inp:
        print("\nbad inputs (in-process ingest):")
        print(f"{'kind':32s} {'good in':>7s} {'kept':>5s} {'lost':>5s} {'dup':>4s} {'quar':>5s}  contained")
        for r in inp["kinds"]:
            print(f"{r['kind']:32s} {r['good_in']:7d} {r['good_kept']:5d} {r['lost']:5d} {r['duplicated']:4d} "
                  f"{r['quarantined'] if r['quarantined'] is not None else '-':>5}  {r['contained']}{'' if r['contained'] else '  ' + (r['error'] or '')[:90]}")
        s = inp["summary"]
        print(f"{s['kinds']} kinds, {s['contained']} contained; good records {s['good_in']} in, {s['lost']} lost, {s['duplicated']} duplicated")
        for key in ("one_tree", "one_tree_without_failing"):
            if inp.get(key):
                print(f"{key.replace('_', ' ')} (longterm ingest, Ray): {json.dumps(inp[key])[:400]}")
    if report.get("kills"):
        print("\nkill -9, then rerun:")
        print(f"{'stage':9s} {'moment':18s} {'killed':6s} {'reader after kill':18s} {'survivors':>9s}  identical rerun")
        for r in report["kills"]:
            reader = r.get("after_kill", {}).get("reader", f"ckpts {r.get('committed_checkpoints')}")
            print(f"{r['stage']:9s} {r['moment']:18s} {r['killed']!s:6s} {reader:18s} {r['survivors']:9d}  {r['identical']}")
    if report.get("corrupt"):
        print("\nflipped byte:")
        for r in report["corrupt"]:
            print(f"  {r['what']:48s} refused={r['refused']} names file={r['names_the_file']} traceback={r['traceback']}: {r['message'][:120]}")
    if report.get("ray"):
        print(f"\nRay worker killed mid-stage: {json.dumps(report['ray'])}")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["cli"]:
        ap = argparse.ArgumentParser(prog="python -m benchmarks.faults cli")
        ap.add_argument("--die-at", required=True)
        ap.add_argument("args", nargs=argparse.REMAINDER)
        a = ap.parse_args(argv[1:])
        cli_dying_at(a.die_at, [x for x in a.args if x != "--"] if a.args[:1] == ["--"] else a.args)
        return 0
    ap = argparse.ArgumentParser(prog="python -m benchmarks.faults", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="runs/faults", help="report directory (report.json); work files under OUT/work")
    ap.add_argument("--only", default="inputs,kills,corrupt,ray", help="parts: inputs, kills, corrupt, ray")
    ap.add_argument("--stages", default=",".join([*DATA_STAGES, "pretrain"]))
    ap.add_argument("--moments", default=",".join([*DATA_MOMENTS, *PRETRAIN_MOMENTS]))
    ap.add_argument("--docs", type=int, default=300, help="demo-crawl pages")
    ap.add_argument("--dumps", type=int, default=3)
    a = ap.parse_args(argv)
    for k, v in ENV.items():
        os.environ.setdefault(k, v)
    parts, stages, moments = set(a.only.split(",")), a.stages.split(","), a.moments.split(",")
    out = Path(a.out).resolve()
    work = out / "work"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    t0 = time.perf_counter()
    report: dict[str, Any] = {"command": "python -m benchmarks.faults " + " ".join(argv), "machine": _machine()}
    if "inputs" in parts:
        print("bad inputs ...", flush=True)
        kinds = all_kinds()
        rows = bad_inputs(work / "inputs", kinds)
        failing = {r["kind"] for r in rows if r["error"] and r["error"].startswith("stage failed")}
        report["inputs"] = {"kinds": rows, "summary": {
            "kinds": len(rows), "contained": sum(r["contained"] for r in rows), "good_in": sum(r["good_in"] for r in rows),
            "lost": sum(r["lost"] for r in rows), "duplicated": sum(r["duplicated"] for r in rows),
            "stage_failed": sorted(failing)}}
        report["inputs"]["one_tree"] = bad_inputs_one_tree(work / "one-tree", kinds, skip=set())
        if report["inputs"]["one_tree"]["rc"] != 0 and failing:  # then without the kinds that fail the stage alone
            report["inputs"]["one_tree_without_failing"] = bad_inputs_one_tree(work / "one-tree-2", kinds, skip=failing)
    pipeline = None
    if parts & {"kills", "corrupt", "ray"}:
        print("clean pipeline ...", flush=True)
        pipeline = build_pipeline(out / "pipeline", a.docs, a.dumps)
        report["clean"] = pipeline.clean
    pretrain_ref = None
    if "kills" in parts:
        print("kill -9 ...", flush=True)
        report["kills"] = kills(pipeline, work / "kills", [s for s in stages if s != "pretrain"], moments)
        if "pretrain" in stages:
            clean, rows = pretrain_kills(pipeline.clean["tokenize"]["uri"], work / "pretrain", moments)
            report["clean"]["pretrain"] = clean
            report["kills"] += rows
            pretrain_ref = work / "pretrain" / "clean"
    if "corrupt" in parts:
        print("flipped bytes ...", flush=True)
        if pretrain_ref is None:
            pretrain_ref = work / "pretrain-ref"
            run_cli(pretrain_args(pipeline.clean["tokenize"]["uri"], pretrain_ref), work / "pretrain-ref.log")
        report["corrupt"] = corruptions(pipeline, pipeline.clean["tokenize"]["uri"], pretrain_ref, work / "corrupt")
    if "ray" in parts:
        print("Ray worker kill ...", flush=True)
        report["ray"] = ray_worker_kill(pipeline, work / "ray")
    report["seconds"] = round(time.perf_counter() - t0, 1)
    (out / "report.json").write_text(json.dumps(report, indent=1, default=str))
    print_table(report)
    print(f"\nreport: {out / 'report.json'} ({report['seconds']} s)")
    return 0


def _machine() -> dict[str, Any]:
    import platform

    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "mem_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)}


if __name__ == "__main__":
    raise SystemExit(main())
