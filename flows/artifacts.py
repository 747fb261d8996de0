"""Prefect artifacts for stage outputs: funnel tables, markdown summaries, manifest links.

Every stage flow ends with ``publish_dataset_artifacts(dataset_uri, stage)``. The funnel
comes from the manifest's conservation counts; per-language and per-source breakdowns come
from ``manifest.stats["by_lang"]`` / ``stats["by_source"]`` when the stage records them, as
``{name: {"input": n, "kept": n, "dropped": {reason: n}, "quarantined": n}}``.
"""

from __future__ import annotations

import re
from typing import Any

from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact

from storage import Manifest, open_dataset


def artifact_key(*parts: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes only."""
    return re.sub(r"[^a-z0-9-]+", "-", "-".join(parts).lower()).strip("-")[:100]


def funnel_rows(manifest: Manifest) -> list[dict[str, Any]]:
    """One row for the whole stage, then one per language and per source when recorded."""
    rows: list[dict[str, Any]] = []

    def row(scope: str, name: str, c: dict[str, Any]) -> dict[str, Any]:
        dropped = c.get("dropped", {})
        return {
            "scope": scope,
            "name": name,
            "input": c.get("input", 0),
            "kept": c.get("kept", 0),
            "dropped": sum(dropped.values()),
            "quarantined": c.get("quarantined", 0),
            "dropped_by_reason": ", ".join(f"{k}={v}" for k, v in sorted(dropped.items())) or "-",
        }

    rows.append(row("all", manifest.stage, manifest.counts.to_dict()))
    for scope, key in (("lang", "by_lang"), ("source", "by_source")):
        for name, c in sorted(manifest.stats.get(key, {}).items()):
            rows.append(row(scope, str(name), c))
    return rows


def summary_markdown(uri: str, manifest: Manifest) -> str:
    c = manifest.counts
    lines = [
        f"## {manifest.stage}: {c.kept:,} kept of {c.input:,}",
        "",
        f"- dataset: `{uri}` (kind `{manifest.kind}`, key `{manifest.key}`)",
        f"- manifest digest: `{manifest.digest[:16]}`, code `{manifest.code_version}`, "
        f"code digest `{manifest.code_digest[:16] or 'none'}` (part of the key: a change to the stage's code recomputes it)",
        f"- dropped: {c.dropped_total:,} "
        + (("(" + ", ".join(f"{k} {v:,}" for k, v in sorted(c.dropped.items())) + ")") if c.dropped else ""),
        f"- quarantined: {c.quarantined:,}",
        f"- shards: {len(manifest.shards)} ({sum(s.bytes for s in manifest.shards) / 1e6:.2f} MB)",
    ]
    for inp in manifest.inputs:
        lines.append(f"- input: `{inp.uri}` (digest `{inp.digest[:16]}`)")
    return "\n".join(lines)


def publish_dataset_artifacts(dataset_uri: str, stage: str) -> dict[str, str]:
    """Publish funnel table, summary and manifest link for a published dataset; return the keys."""
    ds = open_dataset(dataset_uri)
    m = ds.manifest
    keys = {
        "funnel": artifact_key(stage, "funnel"),
        "summary": artifact_key(stage, "summary"),
        "manifest": artifact_key(stage, "manifest"),
    }
    create_table_artifact(key=keys["funnel"], table=funnel_rows(m), description=f"{stage} funnel: in, kept, dropped by reason, quarantined")
    create_markdown_artifact(key=keys["summary"], markdown=summary_markdown(ds.uri, m), description=f"{stage} summary")
    link = ds.uri if "://" in ds.uri else f"file://{ds.uri}"
    create_link_artifact(key=keys["manifest"], link=f"{link}/manifest.json", link_text=f"{stage} manifest", description="manifest.json")
    return keys
