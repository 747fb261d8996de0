"""curate-nightly end to end (issue #14 item 2): a real ``prefect server start`` on loopback, the
``curate-nightly`` deployment of prefect.yaml on a process work pool and worker, three nights.

Each night a new dump of the demo crawl (40 pages + corrupt lines) is dropped into the watch folder
(copied under a dot name, then renamed: the flow skips dot names) and a run is created from the
deployment with no parameters, as its cron schedule would. Cross-night duplicates are planted on top
of the crawl's own (re-crawls, copies of earlier dumps' pages): copies of documents an earlier night
kept. Checked per night: only the new dump is processed (earlier nights' versions untouched, the
index gains one segment), every planted and every cross-dump exact duplicate is removed pointing at
an earlier night's document, and every record is accounted for (input = kept + dropped by reason +
quarantined, by row ids). Then reruns: with nothing new, and after losing the last night from the
state file (a crash after its dedup committed): both leave every file, LATEST and the index as they were.
"""

from __future__ import annotations

import gzip
import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from flows.serve import PrefectServer, PrefectWorker, deploy_project, ensure_work_pool, load_deployment_specs
from storage import open_dataset
from tests.flows.run_artifacts_of import artifacts_of
from tests.flows.run_artifacts_of import wait_final

pytestmark = pytest.mark.slow

POOL = "nightly-pool"
DUMPS = ["dump-00", "dump-01", "dump-02"]




LOCKS = {".curate-nightly.lock", "dedup-index/LOCK"}  # rewritten by each holder; not outputs


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` but the locks: (size, mtime_ns); a rewrite in place or a new file changes it."""
    files = {str(p.relative_to(root)): p for p in sorted(root.rglob("*")) if p.is_file()}
    return {k: (p.stat().st_size, p.stat().st_mtime_ns) for k, p in files.items() if k not in LOCKS}


def _rows(uri: str, part: str, columns: list[str]) -> list[dict[str, Any]]:
    ds = open_dataset(uri)
    return ds.read_all(part, columns=columns).to_pylist() if ds.shards(part) else []


def _plant(dump_dir: Path, night: int, earlier_kept: list[dict[str, Any]]) -> dict[str, str]:
    """Copies of documents earlier nights kept, with new ids and URLs: {planted id: original id}.

    Two exact copies and one near copy (one word changed near the end of a long document)."""
    by_length = sorted(earlier_kept, key=lambda r: -len(r["text"]))
    planted, lines = {}, []
    for i, orig in enumerate(by_length[:3]):
        text = orig["text"]
        if i == 2:
            cut = len(text) - len(text) // 10
            text = text[:cut] + " also " + text[cut:]
        pid = f"planted-{night}-{i}"
        lines.append(json.dumps({"id": pid, "url": f"https://mirror.example.net/{night}/{i}", "text": text}, ensure_ascii=False))
        planted[pid] = orig["id"]
    with gzip.open(dump_dir / "planted.jsonl.gz", "wt", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return planted


def _night_rows(entry: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    return {
        "quarantine": _rows(entry["ingest"], "quarantine", ["source_file", "line"]),
        "ingest_dropped": _rows(entry["ingest"], "dropped", ["id", "reason"]),
        "filter_dropped": _rows(entry["filter"], "dropped", ["id", "reason"]),
        "dedup_dropped": _rows(entry["dedup"], "dropped", ["id", "reason", "duplicate_of"]),
        "kept": _rows(entry["dedup"], "data", ["id", "text"]),
    }


def _check_conservation(entry: dict[str, str], records: list[dict[str, Any]], watch: Path) -> dict[str, list[dict[str, Any]]]:
    """input = kept + dropped (by reason, each stage) + quarantined, from the manifests and record by record.

    ``records``: the dump's ground truth rows ({id, file, line}); a quarantined line has no id, it is
    matched by file and line."""
    ing, fil, ded = (open_dataset(entry[s]).manifest.counts for s in ("ingest", "filter", "dedup"))
    for s in ("ingest", "filter", "dedup"):
        open_dataset(entry[s]).verify()
    assert ing.input == len(records), (ing, len(records))
    assert fil.input == ing.kept and ded.input == fil.kept, (ing, fil, ded)
    assert ing.quarantined + ing.dropped_total + fil.dropped_total + ded.dropped_total + ded.kept == len(records)
    rows = _night_rows(entry)
    for part, counts in (("ingest_dropped", ing), ("filter_dropped", fil), ("dedup_dropped", ded)):
        by_reason: dict[str, int] = {}
        for r in rows[part]:
            by_reason[r["reason"]] = by_reason.get(r["reason"], 0) + 1
        assert by_reason == {k: v for k, v in counts.dropped.items() if v}, (part, by_reason, counts.dropped)
    out_ids = [r["id"] for part in ("ingest_dropped", "filter_dropped", "dedup_dropped", "kept") for r in rows[part]]
    quarantined = {(str(Path(r["source_file"]).relative_to(watch)), r["line"]) for r in rows["quarantine"]}
    assert len(out_ids) == len(set(out_ids)) and len(quarantined) == len(rows["quarantine"]) == ing.quarantined
    assert len(out_ids) + len(quarantined) == len(records)
    lost = [r for r in records if r["id"] not in set(out_ids) and (r["file"], r["line"]) not in quarantined]
    assert not lost, lost[:3]
    return rows


@pytest.fixture(scope="module")
def crawl(tmp_path_factory) -> Path:
    from tasks.demo_crawl import generate_demo_crawl

    out = tmp_path_factory.mktemp("nightly") / "crawl"
    generate_demo_crawl(str(out), num_docs=120, num_dumps=3, seed=5)
    return out


def test_curate_nightly_deployment_three_nights_then_reruns(prefect_server: PrefectServer, crawl: Path, tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.settings import PREFECT_API_URL, temporary_settings

    watch, out = tmp_path / "incoming", tmp_path / "curated"
    watch.mkdir()
    truth = [json.loads(line) for line in (crawl / "ground_truth.jsonl").read_text().splitlines()]

    # the operator points the deployment at the watch folder in prefect.yaml; the schedule runs it with those parameters
    spec = next(s for s in load_deployment_specs() if s.name == "curate-nightly")
    assert spec.schedules and spec.schedules[0]["cron"] == "0 2 * * *"
    # executor local: a dump of 45 records needs no Ray cluster (a fresh one per run costs ~30 s on 2 loaded cores)
    spec.parameters = {"watch": str(watch), "out": str(out), "executor": "local"}
    ensure_work_pool(prefect_server.api_url, POOL)
    deployed, skipped = deploy_project(prefect_server.api_url, POOL, only=["curate-nightly"], specs=[spec])
    assert list(deployed) == ["curate-nightly"] and not skipped

    with temporary_settings(updates={PREFECT_API_URL: prefect_server.api_url}), get_client(sync_client=True) as client, \
            PrefectWorker(prefect_server.api_url, POOL, home=prefect_server.home, poll_seconds=1) as worker:
        dep = client.read_deployment(deployed["curate-nightly"])
        assert [s.schedule.cron for s in dep.schedules] == ["0 2 * * *"]

        last_runs: list[Any] = []

        def night(runs: int = 1) -> Any:
            """``runs`` runs created at once (a manual run beside the scheduled one); all must complete."""
            t0 = time.monotonic()
            created = [client.create_flow_run_from_deployment(dep.id) for _ in range(runs)]  # no parameters, as the schedule
            for run in created:
                final = wait_final(client, timeout=300.0, flow_run_id=run.id)
                print(f"curate-nightly run {run.name}: {final.state.name} after {time.monotonic() - t0:.1f} s")
                assert final.state.is_completed(), f"{final.state}; worker log: {worker.log_path.read_text()[-4000:]}"
            last_runs.append(created[-1].id)
            return json.loads((out / "curated.json").read_text())

        kept_by_night: list[dict[str, str]] = []  # night -> {kept id: text}
        done: dict[str, dict[str, str]] = {}
        for k, name in enumerate(DUMPS):
            planted = _plant(crawl / name, k, [{"id": i, "text": t} for n in kept_by_night for i, t in n.items()]) if k else {}
            staging = watch / f".{name}.partial"
            shutil.copytree(crawl / name, staging)
            staging.rename(watch / name)  # the dump appears whole
            before = _tree(out) if out.exists() else {}

            state = night(runs=2 if k == len(DUMPS) - 1 else 1)  # the last night: two runs at once, one curates it
            assert list(state["dumps"]) == DUMPS[: k + 1]
            entry = state["dumps"][name]
            # only the new dump: earlier nights' entries and files are as they were
            assert {n: state["dumps"][n] for n in done} == done
            after = _tree(out)
            changed = {p for p in before if after.get(p) != before[p]}
            assert changed <= {"curated.json", "dedup-index/MANIFEST.json"}, sorted(changed)
            for stage in ("ingest", "filter", "dedup"):
                assert sorted(p.name for p in (out / stage).iterdir()) == DUMPS[: k + 1]
                assert open_dataset(str(out / stage / name)).uri == entry[stage]
            ingest = open_dataset(entry["ingest"]).manifest
            assert set(ingest.stats["by_source"]) == {name}, ingest.stats["by_source"]
            dedup = open_dataset(entry["dedup"]).manifest
            assert dedup.run["index"]["segments_read"] == k
            assert dedup.run["index"]["docs_read"] == sum(len(n) for n in kept_by_night)
            index = json.loads((out / "dedup-index" / "MANIFEST.json").read_text())
            assert len(index["segments"]) == k + 1 and all(len(s["runs"]) == 1 for s in index["segments"])
            assert index["version"] == k + 1, "one index commit per night"
            assert [p.name for p in (out / "dedup" / name).iterdir() if p.name.startswith("dedup-")] == [Path(entry["dedup"]).name]

            records = [r for r in truth if r["dump"] == name] + [{"id": i, "file": None, "line": None} for i in planted]
            rows = _check_conservation(entry, records, watch)
            c = entry["counts"]  # what the flow recorded for the night
            assert c["input"] == len(records) and c["kept"] == len(rows["kept"])
            assert c["quarantined"] == len(rows["quarantine"])
            assert sum(c["dropped"].values()) == sum(len(rows[p]) for p in ("ingest_dropped", "filter_dropped", "dedup_dropped"))

            # cross-night duplicates: removed, pointing at a document an earlier night kept
            earlier = {i for n in kept_by_night for i in n}
            dropped = {r["id"]: r for r in rows["dedup_dropped"]}
            for pid, orig in planted.items():
                assert pid in dropped and dropped[pid]["duplicate_of"] == orig, (pid, dropped.get(pid))
            reached_dedup = {r["id"] for r in rows["dedup_dropped"] + rows["kept"]}
            cross = [r["id"] for r in records if r.get("kind") == "exact_dup" and r["cross_dump"] and r["id"] in reached_dedup]
            assert bool(cross) == (k > 0)
            for i in cross:
                assert i in dropped and dropped[i]["duplicate_of"] in earlier, (i, dropped.get(i))
            assert not {r["id"] for r in rows["kept"]} & earlier
            kept_by_night.append({r["id"]: r["text"] for r in rows["kept"]})
            done[name] = entry

        # the two runs of the last night: one curated it, the other waited for it and found nothing new
        ingest_runs = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=["ingest"])))
        assert len(ingest_runs) == len(DUMPS), [r.name for r in ingest_runs]
        table = artifacts_of(last_runs[-1])["curate-nightly-dumps"]
        assert [(r["dump"], r["input"], r["kept"]) for r in table] == [(n, e["counts"]["input"], e["counts"]["kept"]) for n, e in done.items()]
        assert all(r["input"] == r["kept"] + r["quarantined"] + r["dropped_ingest"] + r["dropped_filter"] + r["dropped_dedup"]
                   for r in table)

        # a rerun with nothing new, then one after the last night was lost from the state file
        # (a crash after its dedup committed): no new outputs, same LATEST, same index
        settled = _tree(out)
        assert night()["dumps"] == done
        assert _tree(out) == settled
        state = json.loads((out / "curated.json").read_text())
        del state["dumps"][DUMPS[-1]]
        (out / "curated.json").write_text(json.dumps(state))
        settled = {p: v for p, v in _tree(out).items() if p != "curated.json"}
        assert night()["dumps"] == done
        assert {p: v for p, v in _tree(out).items() if p != "curated.json"} == settled
    assert not worker.alive()


def test_a_failing_dump_does_not_block_the_ones_after_it(prefect_harness, crawl: Path, tmp_path: Path) -> None:
    """Before: the run stopped at the first dump a stage refused, so every later night failed on it
    again and curated nothing after it. Now it is recorded under ``failed``, the rest are curated,
    the run fails naming it, and the next run retries it."""
    from flows.curate import curate_nightly

    watch, out = tmp_path / "incoming", tmp_path / "curated"
    (watch / "a-broken").mkdir(parents=True)
    (watch / "a-broken" / "listing.txt").write_text("download failed\n")  # no file ingest reads
    shutil.copytree(crawl / "dump-00", watch / "b-good")

    run = curate_nightly(watch=str(watch), out=str(out), executor="local", return_state=True)
    assert run.is_failed() and "a-broken" in run.message and "b-good" not in run.message, run.message
    state = json.loads((out / "curated.json").read_text())
    assert list(state["dumps"]) == ["b-good"] and list(state["failed"]) == ["a-broken"], state
    assert "no files of a supported type" in state["failed"]["a-broken"]

    # the operator fixes the dump: the next run curates it and clears the failure
    shutil.copy(crawl / "dump-00" / "part-0000.jsonl.gz", watch / "a-broken" / "part-0000.jsonl.gz")
    state = curate_nightly(watch=str(watch), out=str(out), executor="local")
    assert list(state["dumps"]) == ["b-good", "a-broken"] and state["failed"] == {}
    # the same records as b-good: removed as duplicates of it, across the two nights
    assert state["dumps"]["a-broken"]["counts"]["kept"] == 0
