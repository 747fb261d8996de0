"""benchmarks.nightly_soak: two tiny nights write soak.json with the issue's fields and remove cross-night copies."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.nightly_soak import main

FIELDS = {"night", "docs_in", "kept", "dup_within", "dup_across", "wall_s", "cpu_s", "peak_rss_mb", "index_bytes", "bytes_written"}


def test_two_nights_write_soak_json(tmp_path: Path) -> None:
    rows = main(["--nights", "2", "--docs-per-night", "200", "--out", str(tmp_path)])
    assert json.loads((tmp_path / "soak.json").read_text()) == rows
    assert [r["night"] for r in rows] == [1, 2] and all(FIELDS <= set(r) for r in rows)
    assert rows[0]["dup_across"] == 0 and rows[1]["dup_across"] >= 60  # 30% of night 2 re-crawls night 1
    assert all(r["docs_in"] == r["kept"] + r["dup_within"] + r["dup_across"] for r in rows)
    assert rows[1]["index_bytes"] > rows[0]["index_bytes"] > 0 and all(r["bytes_written"] > 0 for r in rows)


def test_peak_rss_is_the_nights_own_not_the_parents(tmp_path: Path) -> None:
    """A parent holding 1 GB must not show up in the night's peak RSS (ru_maxrss carries it over fork + exec)."""
    ballast = b"x" * (1 << 30)  # resident in this (parent) process
    rows = main(["--nights", "1", "--docs-per-night", "50", "--out", str(tmp_path)])
    assert len(ballast) and 50 < rows[0]["peak_rss_mb"] < 900
