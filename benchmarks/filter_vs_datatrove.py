"""Filter stage vs datatrove on the same documents: throughput, agreement, accuracy.

    python -m benchmarks.filter_vs_datatrove --crawl runs/demo-crawl            # 100k-doc demo crawl
    python -m benchmarks.filter_vs_datatrove --shared ../shared/data --docs 20000  # without a crawl

Side by side in one run, on the same records:

1. ours, single process (``run_filter(executor="local")``): docs/s on one core;
2. ours on Ray with every core (``run_filter(executor="ray")``), wall clock including Ray start;
3. datatrove ``LocalPipelineExecutor`` with the FineWeb recipe (LanguageFilter on the bundled
   lid.176.ftz -> GopherRepetition -> GopherQuality -> C4(filter_no_terminal_punct=False) ->
   FineWeb -> JsonlWriter), with 1 worker and with every core.

Then: agreement with datatrove's quality decisions on English documents (same filters, same
order; datatrove applied in-process per document), accuracy against the demo crawl's ground
truth (junk recall / precision, clean-document loss, language-ID accuracy) and kept fractions
on the clean reference texts of ../shared/data, per language. ``--profile`` prints where our
time goes. Prints a markdown report (and writes it with ``--report FILE``).
"""

from __future__ import annotations

import argparse
import cProfile
import glob
import gzip
import io
import json
import os
import pstats
import shutil
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pyarrow as pa

from storage import Counts, DatasetWriter, conform_documents, open_dataset, write_shard
from tasks.filter import FilterConfig, run_filter
from tasks.ops.quality import QualityChecker, datatrove_compatible_quality

# ----------------------------------------------------------------------------- inputs


def crawl_records(crawl: Path, work: Path) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """The demo crawl through our ingest stage (JSONL + WARC, ids as ingest assigns them)."""
    from tasks.ingest import run_ingest

    uri = run_ingest([str(crawl)], str(work / "ingest"), executor="local")
    table = open_dataset(uri).read_all("data", ["id", "text", "source"])
    truth = {}
    gt = crawl / "ground_truth.jsonl"
    if gt.is_file():
        for line in gt.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            truth[row["id"]] = row
    return table.to_pylist(), truth


def shared_records(data: Path, n: int) -> list[dict[str, Any]]:
    """Real web text from ../shared/data (Common Crawl extract + reference pages), cycled to n docs."""
    from tasks.reference_texts import reference_documents

    base: list[tuple[str, str]] = []
    with gzip.open(data / "web_text_commoncrawl_dolma" / "CC-MAIN-20190717121559-20190717143559-00140.jsonl.gz", "rt") as f:
        base += [("cc", json.loads(line)["text"]) for line in f]
    for lang in ("en", "zh"):
        for name, docs in reference_documents(data, lang).items():
            base += [(name, d) for d in docs]
    return [{"id": f"s{i}", "text": base[i % len(base)][1], "source": base[i % len(base)][0]} for i in range(n)]


def write_inputs(records: list[dict[str, Any]], work: Path, shards: int) -> tuple[str, str]:
    """The same records as our documents dataset and as datatrove JSONL shards."""
    table = conform_documents(
        pa.table(
            {
                "id": [r["id"] for r in records],
                "text": [r["text"] for r in records],
                "source": [r["source"] for r in records],
            }
        )
    )
    w = DatasetWriter(str(work / "docs"), kind="documents", stage="bench-input", config={"n": len(records)})
    step = -(-table.num_rows // shards)
    jsonl_dir = work / "jsonl"
    jsonl_dir.mkdir(parents=True, exist_ok=True)
    infos = []
    for i in range(shards):
        part = table.slice(i * step, step)
        infos.append(write_shard(w.location, "data", i, part))
        with gzip.open(jsonl_dir / f"part-{i:05d}.jsonl.gz", "wt", encoding="utf-8") as f:
            for rec in part.select(["id", "text"]).to_pylist():
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    w.commit(infos, Counts(input=table.num_rows, kept=table.num_rows))
    return w.location, str(jsonl_dir)


# ----------------------------------------------------------------------------- runs


def time_ours(ds_uri: str, out: Path, executor: str, profile: bool = False) -> tuple[float, str, str]:
    shutil.rmtree(out, ignore_errors=True)
    prof = cProfile.Profile() if profile else None
    t0 = time.perf_counter()
    if prof:
        prof.enable()
    uri = run_filter(ds_uri, str(out), FilterConfig(), executor=executor)
    if prof:
        prof.disable()
    seconds = time.perf_counter() - t0
    report = ""
    if prof:
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(18)
        report = s.getvalue()
    return seconds, uri, report


def time_datatrove(jsonl_dir: str, out: Path, workers: int, tasks: int) -> tuple[float, set[str]]:
    from datatrove.executor import LocalPipelineExecutor

    from benchmarks.datatrove_filters import fineweb_pipeline

    shutil.rmtree(out, ignore_errors=True)
    ex = LocalPipelineExecutor(
        pipeline=fineweb_pipeline(jsonl_dir, str(out / "kept")),
        tasks=tasks,
        workers=workers,
        logging_dir=str(out / "logs"),
        skip_completed=False,
    )
    t0 = time.perf_counter()
    ex.run()
    seconds = time.perf_counter() - t0
    kept: set[str] = set()
    for path in glob.glob(str(out / "kept" / "*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            kept.update(json.loads(line)["id"] for line in f)
    return seconds, kept


# ----------------------------------------------------------------------------- agreement, accuracy

DATATROVE_TO_OURS = {
    "dup_para_frac": "gopher_rep_dup_para_frac",
    "dup_para_char_frac": "gopher_rep_dup_para_char_frac",
    "dup_line_frac": "gopher_rep_dup_line_frac",
    "dup_line_char_frac": "gopher_rep_dup_line_char_frac",
    "gopher_enough_stop_words": "gopher_too_few_stop_words",
    "lorem_ipsum": "c4_lorem_ipsum",
    "curly_bracket": "c4_curly_brace",
    "too_few_sentences": "c4_too_few_sentences",
    "line_punct_ratio": "fineweb_line_punct_ratio",
    "short_line_ratio": "fineweb_short_line_ratio",
    "char_dup_ratio": "fineweb_char_dup_ratio",
    "list_ratio": "fineweb_list_ratio",
    "empty": "quality_empty",
}


def datatrove_reason(doc_text: str, filters: list) -> str | None:
    from datatrove.data import Document

    doc = Document(text=doc_text, id="x")
    for f in filters:
        try:
            res = f.filter(doc)
        except ZeroDivisionError:
            return "crash"
        if res is not True:
            r = res[1] if isinstance(res, tuple) else "dropped"
            if r.startswith(("top_", "duplicated_")):
                return "gopher_rep_" + r
            return DATATROVE_TO_OURS.get(r, r)
    return None


def english_agreement(ours_uri: str, sample: int) -> dict[str, Any]:
    """Our decision vs datatrove's quality filters, on documents our langid kept as English."""
    from benchmarks.datatrove_filters import quality_filters

    ds = open_dataset(ours_uri)
    kept = ds.read_all("data", ["id", "lang"]).to_pylist()
    dropped = ds.read_all("dropped", ["id", "lang", "reason", "text"]).to_pylist()
    ours: dict[str, str | None] = {r["id"]: None for r in kept if r["lang"] == "en"}
    for r in dropped:
        if r["lang"] == "en" and not r["reason"].startswith("lang_"):
            ours[r["id"]] = r["reason"]
    texts = {r["id"]: r["text"] for r in dropped if r["id"] in ours}
    missing = [i for i in ours if i not in texts]
    if missing:
        src = open_dataset(ds.manifest.inputs[0].uri).read_all("data", ["id", "text"])
        want = set(missing)
        texts.update({r["id"]: r["text"] for r in src.to_pylist() if r["id"] in want})
    ids = sorted(ours)[:sample]
    filters = quality_filters()
    compat = QualityChecker(datatrove_compatible_quality())
    same_decision = same_reason = compat_decision = compat_reason = 0
    confusion: Counter = Counter()
    for i in ids:
        theirs = datatrove_reason(texts[i], filters)
        mine = ours[i]
        if (theirs is None) == (mine is None):
            same_decision += 1
            same_reason += theirs == mine
        else:
            confusion[(mine or "kept", theirs or "kept")] += 1
        exact = compat.check(texts[i]).reason
        compat_decision += (exact is None) == (theirs is None)
        compat_reason += exact == theirs
    n = max(len(ids), 1)
    return {
        "docs": len(ids),
        "decision_agreement": same_decision / n,
        "reason_agreement": same_reason / n,
        "compat_decision_agreement": compat_decision / n,
        "compat_reason_agreement": compat_reason / n,
        "top_disagreements": confusion.most_common(8),
    }


def ground_truth_accuracy(ours_uri: str, truth: dict[str, dict[str, Any]]) -> dict[str, Any]:
    ds = open_dataset(ours_uri)
    rows = ds.read_all("data", ["id", "lang"]).to_pylist()
    outcome = {r["id"]: ("kept", r["lang"]) for r in rows}
    for r in ds.read_all("dropped", ["id", "lang", "reason"]).to_pylist():
        outcome[r["id"]] = (r["reason"], r["lang"])
    per_lang: dict[str, Counter] = defaultdict(Counter)
    junk_types: dict[str, Counter] = defaultdict(Counter)
    lang_ok = lang_n = 0
    for doc_id, (result, pred_lang) in outcome.items():
        gt = truth.get(doc_id)
        if gt is None:
            continue
        kind, lang = gt.get("kind"), gt.get("lang")
        if lang and kind in ("clean", "junk", "exact_dup", "near_dup", "other_lang"):
            lang_n += 1
            lang_ok += pred_lang == lang
        c = per_lang[lang if lang in ("en", "zh") else "other"]
        dropped = result != "kept"
        if kind == "junk":
            c["junk"] += 1
            c["junk_dropped"] += dropped
            junk_types[gt.get("junk_type") or "?"]["n"] += 1
            junk_types[gt.get("junk_type") or "?"]["dropped"] += dropped
        elif kind in ("clean", "exact_dup", "near_dup"):
            c["clean"] += 1
            c["clean_dropped"] += dropped
            if dropped:
                c["clean_dropped:" + result] += 1
        elif kind == "other_lang":
            c["other_lang"] += 1
            c["other_lang_dropped"] += dropped
    return {"per_lang": per_lang, "junk_types": junk_types, "langid_accuracy": lang_ok / max(lang_n, 1), "langid_n": lang_n}


def shared_accuracy(data: Path) -> list[tuple[str, str, int, float, float]]:
    from tasks.ops.langid import LanguageIdentifier
    from tasks.ops.quality import QualityFilter
    from tasks.reference_texts import reference_documents

    ident, qf = LanguageIdentifier(), QualityFilter()
    out = []
    for lang in ("en", "zh"):
        for name, docs in reference_documents(data, lang).items():
            dec = ident(docs)
            res = qf(docs, [lang] * len(docs))
            kept = sum(1 for r, q in zip(dec.reason, res) if r is None and q.reason is None)
            out.append((lang, name, len(docs), kept / len(docs), sum(x == lang for x in dec.lang) / len(docs)))
    return out


# ----------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--crawl", type=Path, help="demo crawl directory (longterm demo-data OUT)")
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    ap.add_argument("--docs", type=int, default=0, help="limit / size of the input (0 = whole crawl)")
    ap.add_argument("--work", type=Path, default=Path("runs/bench-filter"))
    ap.add_argument("--shards", type=int, default=8)
    ap.add_argument("--agreement-sample", type=int, default=20000)
    ap.add_argument("--skip-datatrove-1", action="store_true", help="skip the single-worker datatrove run")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--report", type=Path)
    args = ap.parse_args()
    cores = os.cpu_count() or 1

    truth: dict[str, dict[str, Any]] = {}
    shutil.rmtree(args.work, ignore_errors=True)
    if args.crawl:
        records, truth = crawl_records(args.crawl, args.work)
        if args.docs:
            records = records[: args.docs]
        what = f"demo crawl `{args.crawl}`"
    else:
        records = shared_records(args.shared, args.docs or 20000)
        what = "../shared/data web text (cycled)"
    ds_uri, jsonl_dir = write_inputs(records, args.work, args.shards)
    n = len(records)
    mb = sum(len(r["text"].encode()) for r in records) / 1e6
    print(f"input: {n} docs, {mb:.1f} MB, {what}", flush=True)

    t_local, uri, prof = time_ours(ds_uri, args.work / "ours-local", "local", args.profile)
    print(f"ours local (1 core): {t_local:.1f}s = {n / t_local:.0f} docs/s", flush=True)
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    t_ray, _, _ = time_ours(ds_uri, args.work / "ours-ray", "ray")
    print(f"ours ray ({cores} cores): {t_ray:.1f}s = {n / t_ray / cores:.0f} docs/s/core", flush=True)
    t_dt1 = None
    if not args.skip_datatrove_1:
        t_dt1, _ = time_datatrove(jsonl_dir, args.work / "dt-1", workers=1, tasks=args.shards)
        print(f"datatrove 1 worker: {t_dt1:.1f}s = {n / t_dt1:.0f} docs/s", flush=True)
    t_dtn, dt_kept = time_datatrove(jsonl_dir, args.work / "dt-n", workers=cores, tasks=args.shards)
    print(f"datatrove {cores} workers: {t_dtn:.1f}s = {n / t_dtn / cores:.0f} docs/s/core", flush=True)

    ours_ds = open_dataset(uri)
    ours_kept = set(ours_ds.read_all("data", ["id"])["id"].to_pylist())
    agree = english_agreement(uri, args.agreement_sample)
    lines = [
        f"# Filter stage vs datatrove ({time.strftime('%Y-%m-%d')})",
        "",
        f"Input: {n:,} documents ({mb:.1f} MB of text), {what}; {args.shards} shards; machine: {cores} cores.",
        "",
        "| run | wall s | docs/s | docs/s per core |",
        "|---|---|---|---|",
        f"| ours, 1 process (`executor=local`) | {t_local:.1f} | {n / t_local:,.0f} | {n / t_local:,.0f} |",
        f"| ours, Ray, {cores} cores (incl. Ray start) | {t_ray:.1f} | {n / t_ray:,.0f} | {n / t_ray / cores:,.0f} |",
    ]
    if t_dt1:
        lines.append(f"| datatrove LocalPipelineExecutor, 1 worker | {t_dt1:.1f} | {n / t_dt1:,.0f} | {n / t_dt1:,.0f} |")
    lines += [
        f"| datatrove LocalPipelineExecutor, {cores} workers | {t_dtn:.1f} | {n / t_dtn:,.0f} | {n / t_dtn / cores:,.0f} |",
        "",
        f"Speed-up per core: {(n / t_local) / (n / t_dt1):.2f}x single process" if t_dt1 else "",
        f"; {(n / t_ray) / (n / t_dtn):.2f}x with all cores (ours on Ray vs datatrove workers={cores}).",
        "",
        f"Kept: ours {len(ours_kept):,}, datatrove {len(dt_kept):,}; same keep/drop decision on "
        f"{sum(1 for r in records if (r['id'] in ours_kept) == (r['id'] in dt_kept)) / n:.1%} of all documents "
        "(Chinese differs by design: datatrove applies English rules to it).",
        "",
        f"English agreement ({agree['docs']:,} docs our langid kept as en; datatrove's four quality filters "
        f"applied in-process to the same text): with `datatrove_compatible_quality()` (the same filters) "
        f"decision {agree['compat_decision_agreement']:.2%}, reason {agree['compat_reason_agreement']:.2%}; "
        f"with our English defaults (Gopher's alpha ratio over words) decision {agree['decision_agreement']:.2%}, "
        f"reason {agree['reason_agreement']:.2%}. Top disagreements (ours, datatrove): {agree['top_disagreements']}.",
        "",
        "Drops (ours): " + ", ".join(f"{k} {v:,}" for k, v in sorted(ours_ds.manifest.counts.dropped.items(), key=lambda kv: -kv[1])),
    ]
    if truth:
        acc = ground_truth_accuracy(uri, truth)
        lines += ["", f"## Demo crawl ground truth", "", f"Language ID accuracy: {acc['langid_accuracy']:.2%} of {acc['langid_n']:,} labelled documents.", ""]
        lines += ["| lang | junk | junk recall | clean | clean kept | clean drops by reason |", "|---|---|---|---|---|---|"]
        for lang, c in sorted(acc["per_lang"].items()):
            reasons = ", ".join(f"{k.split(':', 1)[1]} {v}" for k, v in c.most_common() if k.startswith("clean_dropped:"))[:300]
            lines.append(
                f"| {lang} | {c['junk']} | {c['junk_dropped'] / max(c['junk'], 1):.1%} | {c['clean']} | "
                f"{1 - c['clean_dropped'] / max(c['clean'], 1):.1%} | {reasons or '-'} |"
            )
        total_junk_dropped = sum(c["junk_dropped"] for c in acc["per_lang"].values())
        total_dropped_en_zh = sum(c["junk_dropped"] + c["clean_dropped"] for c in acc["per_lang"].values())
        other = sum(c["other_lang"] for c in acc["per_lang"].values())
        other_dropped = sum(c["other_lang_dropped"] for c in acc["per_lang"].values())
        lines += ["", f"Other-language documents dropped: {other_dropped / max(other, 1):.1%} of {other:,}."]
        lines += ["", f"Junk-removal precision (junk among dropped junk+clean docs): {total_junk_dropped / max(total_dropped_en_zh, 1):.1%}.", ""]
        lines += ["| junk type | docs | dropped |", "|---|---|---|"]
        lines += [f"| {t} | {c['n']} | {c['dropped'] / max(c['n'], 1):.1%} |" for t, c in sorted(acc["junk_types"].items())]
    if args.shared.is_dir():
        lines += ["", "## Clean reference text (../shared/data), default filters", "", "| lang | set | docs | kept | langid correct |", "|---|---|---|---|---|"]
        lines += [f"| {lang} | {name} | {k} | {kept:.1%} | {ok:.1%} |" for lang, name, k, kept, ok in shared_accuracy(args.shared)]
    if prof:
        lines += ["", "## Profile (ours, 1 process, top by own time)", "", "```", prof.strip(), "```"]
    report = "\n".join(lines)
    print(report)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(report + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
