"""The dashboard over a real run folder: collection, every chart, the HTTP routes."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from flows.dashboard import charts
from flows.dashboard.collect import dropped_examples, find_runs, length_samples
from flows.dashboard.page import run_page
from flows.dashboard.server import DashboardServer
from tests.flows.dashboard.fake_run import build_run


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    build_run(root / "demo")
    other = root / "other"
    build_run(other)
    return root


def _charts(html: str) -> dict[str, int]:
    return {m.group(1): int(m.group(2)) for m in re.finditer(r'<svg class="chart" data-chart="([^"]+)" data-marks="(\d+)"', html)}


def test_find_runs_groups_stages_in_pipeline_order(runs_root: Path) -> None:
    runs = find_runs(runs_root)
    assert [r.name for r in runs] == ["demo", "other"]
    demo = runs[0]
    assert [s.name for s in demo.stages] == ["ingest", "filter", "dedup", "remix", "tokenizer", "tokenize", "pretrain", "eval"]
    filt = next(s for s in demo.stages if s.name == "filter")
    assert filt.versions == 2 and filt.manifest.config == {"min_chars": 100}, "LATEST version shown, older counted"
    pre = next(s for s in demo.stages if s.name == "pretrain")
    assert len(pre.metrics) == 20, "the half-written last line is skipped"


def test_samples_read_the_shards(runs_root: Path) -> None:
    filt = next(s for s in find_runs(runs_root)[0].stages if s.name == "filter")
    lengths = length_samples(filt)
    assert set(lengths) == {"en", "zh", "dropped"}
    assert min(lengths["en"] + lengths["zh"]) >= 100 and max(lengths["dropped"]) < 100
    examples = dropped_examples(filt, per_reason=2)
    assert set(examples) == {"gopher_short_doc", "lang_other"}
    assert all(len(v) <= 2 for v in examples.values())


def test_run_page_draws_every_chart(runs_root: Path) -> None:
    html = run_page(find_runs(runs_root)[0])
    drawn = _charts(html)
    expected = {"funnel-ingest", "funnel-filter", "funnel-dedup", "lengths-filter", "dedup-rate-dedup", "clusters-dedup",
                "mixture-domain-remix", "mixture-lang-remix", "compression-tokenizer", "loss-pretrain", "lr-pretrain",
                "throughput-pretrain", "eval-eval"}
    assert expected <= set(drawn), expected - set(drawn)
    assert all(drawn[name] > 0 for name in expected), {k: v for k, v in drawn.items() if v == 0}
    assert drawn["dedup-rate-dedup"] == 3 and drawn["clusters-dedup"] == 2 and drawn["eval-eval"] == 2
    # funnel of filter: all + 2 langs + 3 sources, kept and two drop reasons
    assert "dropped: gopher_short_doc" in html and "dropped: lang_other" in html
    assert "duplicate of doc-" in html, "dedup drops show what they duplicate"
    assert "hellaswag_tiny" in html and "0.33" in html
    assert "2 versions (showing LATEST, beside the previous one)" in html
    assert "<script" not in html and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', ""), \
        "nothing is loaded from outside"


def test_text_is_escaped(tmp_path: Path) -> None:
    from tests.flows.dashboard.fake_run import _drop, _doc, documents_stage

    evil = _doc(1, "en", 10, "dump-00")
    evil["text"] = "<script>alert(1)</script> and more text here"
    documents_stage(tmp_path / "r" / "filter", "filter", [_doc(2, "en", 30, "dump-00")], [_drop(evil, "bad_<b>")])
    html = run_page(find_runs(tmp_path)[0])
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "bad_&lt;b&gt;" in html


def test_empty_charts_say_no_data() -> None:
    assert "no data" in charts.vbar("x", "t", [], [])
    assert "no data" in charts.line_chart("x", "t", {"loss": []})
    assert "no data" in charts.histogram("x", "t", {"en": [0, 0]})


def test_http_routes(runs_root: Path) -> None:
    server = DashboardServer(runs_root, port=0).start()
    try:
        def get(path: str) -> tuple[int, str]:
            try:
                with urllib.request.urlopen(server.url + path, timeout=10) as r:
                    return r.status, r.read().decode()
            except urllib.error.HTTPError as e:
                return e.code, e.read().decode()

        status, index = get("/")
        assert status == 200 and 'href="/run?name=demo"' in index and 'href="/run?name=other"' in index
        status, page = get("/run?name=demo")
        assert status == 200 and len(_charts(page)) >= 13
        m = re.search(r'href="(/manifest\?path=[^"]+)"', page)
        status, manifest = get(m.group(1).replace("&amp;", "&"))
        assert status == 200 and "&quot;kind&quot;: &quot;documents&quot;" in manifest
        assert get("/manifest?path=/etc")[0] == 404, "only manifests under the served folder"
        assert get("/run?name=nope")[0] == 404
        assert get("/healthz") == (200, "ok")
    finally:
        server.stop()


def test_a_versioned_output_inside_a_stage_root_belongs_to_the_run(tmp_path: Path) -> None:
    """dedup writes OUT/dedup-<key>/ and its index OUT/index/dedup_index-<key>/ (itself versioned):
    the index is a stage of the same run, not a run named "dedup"."""
    import pyarrow as pa

    from storage import Counts, DatasetWriter, write_shard

    build_run(tmp_path / "demo")
    w = DatasetWriter(str(tmp_path / "demo" / "dedup" / "index"), kind="dedup_index", stage="dedup_index", config={"bands": 16})
    info = write_shard(w.location, "data", 0, pa.table({"band": [0], "bucket": ["ab"], "id": ["x"]}))
    w.commit([info], Counts(input=1, kept=1), {})
    runs = find_runs(tmp_path)
    assert [r.name for r in runs] == ["demo"]
    names = [s.name for s in runs[0].stages]
    assert names.index("dedup_index") == names.index("dedup") + 1


def test_two_versions_of_a_stage_are_shown_side_by_side_with_their_difference(runs_root: Path) -> None:
    """fake_run writes filter twice (min_chars 0, then 100): the page shows both funnels, the changed key, the deltas."""
    filt = next(s for s in find_runs(runs_root)[0].stages if s.name == "filter")
    assert filt.previous is not None and filt.previous.location != filt.location
    assert filt.manifest.config["min_chars"] == 100 and filt.previous.manifest.config["min_chars"] == 0
    html = run_page(find_runs(runs_root)[0])
    drawn = _charts(html)
    assert drawn["compare-previous-filter"] > 0 and drawn["compare-latest-filter"] > 0
    assert "Versions side by side" in html and "<td class=\"l\">min_chars</td><td class=\"\">0</td><td class=\"\">100</td>" in html
    kept_now, kept_before = filt.manifest.counts.kept, filt.previous.manifest.counts.kept
    assert f"<td class=\"l\">all: kept</td><td class=\"\">{kept_before}</td><td class=\"\">{kept_now}</td>" \
           f"<td class=\"\">{kept_now - kept_before:+d}</td>" in html
    assert "compare-previous-ingest" not in drawn, "a stage with one version has no comparison"
