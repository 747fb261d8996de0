"""``longterm calibrate-filters``: per-language filter thresholds from a clean sample, checked on a junk sample.

    report = run_calibration(["demo:runs/demo/crawl", "reference:../shared/data"], ["demo:runs/demo/crawl"],
                             "runs/filter_calibrated.yaml")

A sample is a list of ``spec``s, each one of:

- ``demo:DIR``: a demo crawl (``longterm demo-data``); its ground truth picks the en/zh ``clean`` JSONL pages
  for a clean sample and the ``junk`` JSONL pages for a junk sample;
- ``reference:DIR``: the real reference documents of ``../shared/data`` (``tasks/reference_texts.py``),
  clean only;
- a JSONL(.gz) file with ``text`` and ``lang`` per line.

Clean and junk documents are each split in two by a hash of their text: thresholds are fitted on one half
and the keep / drop rates are reported on the other (``holdout``), for the defaults and the calibrated config.
The config file holds only the changed values (a ``FilterConfig`` override for ``--config``).
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import yaml

from tasks.config import parse
from tasks.filter import FilterConfig
from tasks.ops.filter_calibration import CalibrationConfig, calibrate, evaluate

SAMPLE_SCHEMA = pa.schema([("text", pa.string()), ("lang", pa.string()), ("origin", pa.string())])


def _demo_rows(crawl: Path, kind: str) -> list[dict]:
    truth = crawl / "ground_truth.jsonl"
    if not truth.is_file():
        raise FileNotFoundError(f"{crawl} is not a demo crawl (no ground_truth.jsonl); write one with `longterm demo-data`")
    want: dict[str, dict[int, str]] = {}
    for line in truth.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["kind"] == kind and row["format"] == "jsonl" and row["lang"] in ("en", "zh"):
            origin = (row.get("source") or row.get("junk_type") or kind).split("/", 1)[0]
            want.setdefault(row["file"], {})[row["line"]] = f"{row['lang']}\t{origin}"
    rows = []
    for rel, lines in sorted(want.items()):
        with gzip.open(crawl / rel, "rb") as f:
            for number, raw in enumerate(f.read().split(b"\n"), start=1):
                if number in lines:
                    lang, origin = lines[number].split("\t")
                    rows.append({"text": json.loads(raw)["text"], "lang": lang, "origin": f"demo_{origin}"})
    return rows


def load_sample(specs: list[str], kind: str) -> pa.Table:
    """The documents of ``specs`` (see the module doc) as a ``text, lang, origin`` table; ``kind`` is
    ``clean`` or ``junk``."""
    rows: list[dict] = []
    for spec in specs:
        if spec.startswith("demo:"):
            rows += _demo_rows(Path(spec[5:]), kind)
        elif spec.startswith("reference:"):
            if kind != "clean":
                raise ValueError(f"{spec}: reference documents are clean text, not a junk sample")
            from tasks.reference_texts import reference_documents

            data = Path(spec[len("reference:"):])
            if not data.is_dir():
                raise FileNotFoundError(f"{spec}: {data} is not a directory")
            for lang in ("en", "zh"):
                for name, docs in reference_documents(data, lang).items():
                    rows += [{"text": t, "lang": lang, "origin": name} for t in docs]
        else:
            path = Path(spec)
            opener = gzip.open if path.suffix == ".gz" else open
            with opener(path, "rt", encoding="utf-8") as f:
                for number, line in enumerate(f, start=1):
                    if line.strip():
                        row = json.loads(line)
                        if not isinstance(row.get("text"), str) or not isinstance(row.get("lang"), str):
                            raise ValueError(f"{path}:{number}: need a string 'text' and 'lang'")
                        rows.append({"text": row["text"], "lang": row["lang"], "origin": path.name})
    if not rows:
        raise ValueError(f"the {kind} sample {specs} holds no documents")
    return pa.Table.from_pylist(rows, schema=SAMPLE_SCHEMA)


def split_halves(table: pa.Table) -> tuple[pa.Table, pa.Table]:
    """(fit, holdout) by the parity of sha1(text): the same document always lands on the same side."""
    side = [hashlib.sha1(t.encode("utf-8")).digest()[0] & 1 for t in table.column("text").to_pylist()]
    mask = pa.array([s == 0 for s in side])
    return table.filter(mask), table.filter(pc.invert(mask))


def run_calibration(clean_specs: list[str], junk_specs: list[str], out: str, base: str | None = None,
                    calibration: CalibrationConfig | None = None, holdout: bool = True) -> dict[str, Any]:
    """Write the calibrated overrides to ``out`` (YAML) and return the report (also ``out`` + ``.report.json``)."""
    calibration = calibration or CalibrationConfig()
    base_cfg = parse(FilterConfig, base)
    clean, junk = load_sample(clean_specs, "clean"), load_sample(junk_specs, "junk")
    fit, test = split_halves(clean) if holdout else (clean, clean)
    junk_fit, junk_test = split_halves(junk) if holdout else (junk, junk)
    overrides, fitted = calibrate(fit, junk_fit, base_cfg, calibration)
    tuned = parse(FilterConfig, overrides, base=base_cfg)
    report = {
        "clean": clean_specs, "junk": junk_specs, "holdout": holdout, "calibration": calibration.__dict__,
        "fit_documents": fit.num_rows, "eval_documents": test.num_rows, "junk_fit_documents": junk_fit.num_rows,
        "junk_eval_documents": junk_test.num_rows, "overrides": overrides, "fit_rates": fitted,
        "rates": evaluate(test, junk_test, {"default": base_cfg, "calibrated": tuned}),
        "by_origin": {name: _rates_by_origin(test, cfg) for name, cfg in (("default", base_cfg), ("calibrated", tuned))},
    }
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = (f"# longterm calibrate-filters: per-language thresholds fitted on {fit.num_rows} clean documents "
              f"({', '.join(clean_specs)}) and {junk_fit.num_rows} junk documents ({', '.join(junk_specs)});\n"
              f"# drop budget {calibration.drop_budget} per rule, language ID median - sigma clamped to "
              f"[{calibration.lid_min}, {calibration.lid_max}]. Use: longterm filter IN --out DIR --config {path.name}\n")
    path.write_text(header + yaml.safe_dump(overrides, allow_unicode=True, sort_keys=True), encoding="utf-8")
    Path(str(path) + ".report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return report


def _rates_by_origin(table: pa.Table, cfg: FilterConfig) -> dict[str, float]:
    from tasks.ops.filter_calibration import decide
    from tasks.ops.langid import LanguageIdentifier

    texts, langs, origins = (table.column(c).to_pylist() for c in ("text", "lang", "origin"))
    kept: dict[str, list[int]] = {}
    for (reason, detected), lang, origin in zip(decide(texts, LanguageIdentifier(cfg.langid), cfg.quality), langs, origins):
        kept.setdefault(f"{lang}/{origin}", []).append(int(reason is None and detected == lang))
    return {k: round(sum(v) / len(v), 4) for k, v in sorted(kept.items())}


def format_report(report: dict[str, Any]) -> str:
    """The keep / drop table per language (default -> calibrated) and the drops per filter."""
    rates = report["rates"]
    lines = ["| lang | clean docs | clean kept (default -> calibrated) | junk docs | junk dropped (default -> calibrated) |",
             "|---|---|---|---|---|"]
    for lang in sorted(set(rates["default"]) | set(rates["calibrated"])):
        d, c = rates["default"].get(lang, {}), rates["calibrated"].get(lang, {})

        def pct(row: dict, key: str) -> str:
            return "-" if row.get(key) is None else f"{row[key]:.3f}"

        lines.append(f"| {lang} | {d.get('clean', 0)} | {pct(d, 'clean_kept_rate')} -> {pct(c, 'clean_kept_rate')} | "
                     f"{d.get('junk', 0)} | {pct(d, 'junk_dropped_rate')} -> {pct(c, 'junk_dropped_rate')} |")
    lines += ["", "| lang | filter | clean dropped (default -> calibrated) | junk dropped (default -> calibrated) |",
              "|---|---|---|---|"]
    for lang in sorted(rates["default"]):
        d, c = rates["default"][lang], rates["calibrated"].get(lang, {})
        reasons = sorted((set(d["clean_drops"]) | set(c.get("clean_drops", {})) | set(d["junk_drops"])
                          | set(c.get("junk_drops", {}))) - {"kept"})
        for reason in reasons:
            lines.append(f"| {lang} | {reason} | {d['clean_drops'].get(reason, 0)} -> {c.get('clean_drops', {}).get(reason, 0)} | "
                         f"{d['junk_drops'].get(reason, 0)} -> {c.get('junk_drops', {}).get(reason, 0)} |")
    lines += ["", "clean kept by origin (default -> calibrated): " + ", ".join(
        f"{k} {v:.3f} -> {report['by_origin']['calibrated'][k]:.3f}" for k, v in report["by_origin"]["default"].items())]
    return "\n".join(lines)
