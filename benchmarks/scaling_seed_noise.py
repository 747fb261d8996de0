"""Seed noise of scaling-study runs: retrain chosen grid points with other seeds and report the spread.

    python -m benchmarks.scaling_seed_noise runs/bench/scaling-demo-small/study --seeds 1 2 3 \
        --id curated-hparam-C3.00e+11-L1d32h2-b8-lr8.00e-03 --id curated-hparam-C3.00e+11-L1d32h2-b4-lr4.00e-03

Each point is rerun exactly as the study ran it (``tasks.scaling_study.run_point``, same data, shape,
batch, lr and budget) with only the seed changed, two at a time in a process pool of one-thread workers. The relative
standard deviation of the loss tells how wide the near-optimal tolerance of the hyperparameter fit
must be: with single-seed runs whose noise is ~1%, DeepSeek's 0.25% keeps only the luckiest run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from tasks.config import parse
from tasks.scaling_study import StudyConfig, read_results, run_cfg, run_point


def _one_thread() -> None:  # as the study's Ray tasks run (1 CPU each: Ray sets OMP_NUM_THREADS=1)
    import torch

    torch.set_num_threads(1)


def _rerun(args: tuple[dict, dict, int, str]) -> dict:
    point, settings, seed, out = args
    return run_point({**point, "out": out, "seed": seed}, settings)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("study", help="a study folder (report.json + results.jsonl)")
    parser.add_argument("--id", dest="ids", action="append", required=True, help="run id of a finished grid point (repeatable)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--workers", type=int, default=2, help="parallel one-thread processes; 1 = in this process")
    args = parser.parse_args(argv)
    study = Path(args.study)
    report = json.loads((study / "report.json").read_text())
    rows = {r["id"]: r for r in read_results(study / "results.jsonl")}
    settings = run_cfg(dataclasses.replace(parse(StudyConfig, report["config"]), save_checkpoints=False))
    jobs = []
    for run_id in args.ids:
        if run_id not in rows or rows[run_id].get("status") != "ok":
            raise SystemExit(f"{run_id}: not a finished run of {study}")
        point = {k: v for k, v in rows[run_id].items() if k not in ("status", "loss", "train_loss", "error", "seconds", "skipped_steps")}
        jobs += [(point, settings, s, str(study / "seed-noise" / f"{run_id}-seed{s}")) for s in args.seeds]
    if args.workers <= 1:  # in this process (tests)
        reruns = [_rerun(job) for job in jobs]
    else:
        with ProcessPoolExecutor(args.workers, initializer=_one_thread) as pool:
            reruns = list(pool.map(_rerun, jobs))
    summary = {}
    for run_id in args.ids:
        mine = [r for r in reruns if r["id"] == run_id]
        losses = [rows[run_id]["loss"]] + [r["loss"] for r in mine if r["status"] == "ok"]
        not_ok = {f"seed {s}": f"{r['status']}: {r.get('error')}" for s, r in zip(args.seeds, mine) if r["status"] != "ok"}
        mean = statistics.fmean(losses)
        rel_std = statistics.stdev(losses) / mean if len(losses) > 1 else None
        summary[run_id] = {"losses": losses, "mean": mean, "rel_std": rel_std, "not_ok": not_ok}
        spread = f"relative std {rel_std:.2%}" if rel_std is not None else "no spread (one loss)"
        print(f"{run_id}: {len(losses)} seeds, mean {mean:.4f}, {spread}, range {min(losses):.4f}..{max(losses):.4f}"
              + (f"; not ok: {not_ok}" if not_ok else ""))
    (study / "seed-noise.json").write_text(json.dumps(summary, indent=1))
    return summary


if __name__ == "__main__":
    main()
