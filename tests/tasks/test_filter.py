"""Filter stage end to end: real Ray, real fastText, conservation, funnels, versions, classifier."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from storage import Counts, DatasetWriter, conform_documents, open_dataset, write_shard
from tasks.config import parse, to_mapping
from tasks.filter import ClassifierConfig, FilterConfig, run_filter, train_quality_classifier
from tests.tasks.filter_samples import EN_CLEAN, EN_SENTENCES, FR_CLEAN, ZH_CLEAN, ZH_SENTENCES

DOCS = [
    ("en-1", EN_CLEAN, "dump-01", '{"warc": "a"}'),
    ("zh-1", ZH_CLEAN, "dump-01", None),
    ("fr-1", FR_CLEAN, "dump-01", None),
    ("en-lorem", EN_CLEAN + "\nLorem ipsum dolor sit amet, consectetur adipiscing elit.", "dump-02", None),
    ("en-js", EN_CLEAN + "\nPlease enable JavaScript to view the comments.", "dump-02", "not json"),
    ("zh-dup", "\n".join([ZH_SENTENCES[0]] * 8 + ZH_SENTENCES[1:3]), "dump-02", None),
    ("empty", "", "dump-02", None),
    ("emoji", "😀🎉🔥👍", "dump-02", None),
    ("punct", "!!! ??? ...", "dump-02", None),
    ("long-line", (EN_CLEAN.replace("\n", " ") + " ") * 2000, "dump-02", None),
    ("mixed", EN_SENTENCES[0] + " " + ZH_SENTENCES[0], "dump-02", None),
]


def make_documents(root: Path, docs=DOCS, shards: int = 2) -> str:
    table = conform_documents(
        pa.table(
            {
                "id": [d[0] for d in docs],
                "text": [d[1] for d in docs],
                "url": [f"https://example.com/{d[0]}" for d in docs],
                "source": [d[2] for d in docs],
                "metadata": [d[3] for d in docs],
            }
        )
    )
    w = DatasetWriter(str(root), kind="documents", stage="ingest", config={"test": True})
    step = -(-table.num_rows // shards)
    infos = [write_shard(w.location, "data", i, table.slice(i * step, step)) for i in range(shards)]
    w.commit(infos, Counts(input=table.num_rows, kept=table.num_rows))
    return w.location


def test_filter_on_ray_conserves_and_explains_every_document(ray_cluster, tmp_path: Path) -> None:
    src = make_documents(tmp_path / "in")
    uri = run_filter(src, str(tmp_path / "out"), FilterConfig(), executor="ray")
    ds = open_dataset(uri)
    m = ds.manifest
    assert m.counts.input == len(DOCS) and m.counts.is_conserved()

    kept = ds.read_all("data").to_pylist()
    dropped = {r["id"]: r for r in ds.read_all("dropped").to_pylist()}
    kept_ids = {r["id"] for r in kept}
    assert {"en-1", "zh-1", "en-js"} <= kept_ids
    assert kept_ids | set(dropped) == {d[0] for d in DOCS} and not kept_ids & set(dropped)
    assert dropped["fr-1"]["reason"] == "lang_unsupported" and dropped["fr-1"]["lang"] == "fr"
    assert dropped["en-lorem"]["reason"] == "c4_lorem_ipsum"
    assert dropped["zh-dup"]["reason"].startswith("gopher_rep_")
    assert dropped["long-line"]["reason"].startswith("gopher_rep_")  # 2 MB line of one paragraph repeated
    for bad in ("empty", "emoji", "punct"):
        assert dropped[bad]["reason"] == "lang_no_text"
    assert dropped["en-lorem"]["text"] == DOCS[3][1] and dropped["en-lorem"]["detail"]
    by_id = {r["id"]: r for r in kept}
    assert by_id["en-1"]["lang"] == "en" and by_id["zh-1"]["lang"] == "zh"
    assert all(r["lang_score"] >= 0.5 for r in kept)
    # C4 line removal is applied and recorded, metadata kept (or wrapped when it was not JSON)
    assert "JavaScript" not in by_id["en-js"]["text"]
    assert json.loads(by_id["en-js"]["metadata"]) == {"metadata_raw": "not json", "c4_removed_lines": 1}
    assert by_id["en-1"]["metadata"] == '{"warc": "a"}'

    by_lang, by_source = m.stats["by_lang"], m.stats["by_source"]
    assert by_lang["zh"]["kept"] >= 1 and by_lang["fr"]["dropped"] == {"lang_unsupported": 1}
    assert sum(f["input"] for f in by_lang.values()) == len(DOCS)
    assert by_source["dump-01"]["input"] == 3 and by_source["dump-02"]["input"] == len(DOCS) - 3
    for f in list(by_lang.values()) + list(by_source.values()):
        assert f["input"] == f["kept"] + sum(f["dropped"].values()) + f["quarantined"]

    # content addressed: same input + config -> same version, no rework; new config -> new version
    assert run_filter(src, str(tmp_path / "out"), FilterConfig(), executor="ray") == uri
    other = run_filter(src, str(tmp_path / "out"), parse(FilterConfig, {"langid": {"keep": ["en"]}}), executor="local")
    assert other != uri
    zh = open_dataset(other).manifest.stats["by_lang"]["zh"]
    assert zh["kept"] == 0 and zh["dropped"] == {"lang_unsupported": zh["input"]}


def test_config_from_partial_mapping_and_file(tmp_path: Path) -> None:
    path = tmp_path / "filter.yaml"
    path.write_text(
        "langid:\n  keep: [zh]\n  thresholds: {zh: 0.8}\n"
        "quality:\n  languages:\n    zh:\n      c4: {min_num_sentences: 1}\n      fineweb: null\n"
    )
    cfg = parse(FilterConfig, path)
    assert cfg.langid.keep == ["zh"] and cfg.langid.threshold("zh") == 0.8 and cfg.langid.threshold("en") == 0.65
    zh = cfg.quality.for_language("zh")
    assert zh.c4.min_num_sentences == 1 and zh.fineweb is None and zh.tokenizer == "cjk_chars"
    assert cfg.quality.for_language("en").c4.min_num_sentences == 5
    assert parse(FilterConfig, to_mapping(cfg)) == cfg
    with pytest.raises(ValueError, match=r"unknown key 'langid.keeep' \(did you mean 'langid.keep'\?\)"):
        parse(FilterConfig, {"langid": {"keeep": ["en"]}})
    with pytest.raises(ValueError, match=r"'classifier.threshold' should be a valid number, got '0.5' \(str\)"):
        parse(FilterConfig, {"classifier": {"threshold": "0.5"}})


def test_quality_classifier_scores_and_threshold(tmp_path: Path) -> None:
    # positives: English prose; negatives: Chinese prose -> the Chinese page passes every
    # heuristic but the classifier scores it low, which exercises quality_classifier_low
    pos = [" ".join(EN_SENTENCES[i:] + EN_SENTENCES[:i]) for i in range(len(EN_SENTENCES))] * 10
    neg = ["".join(ZH_SENTENCES[i:] + ZH_SENTENCES[:i]) for i in range(len(ZH_SENTENCES))] * 10
    model = train_quality_classifier(pos, neg, str(tmp_path / "qc.bin"))
    assert Path(model).stat().st_size < 20_000_000
    src = make_documents(tmp_path / "in", DOCS[:2], shards=1)
    cfg = FilterConfig(classifier=ClassifierConfig(model_path=model, threshold=0.5))
    ds = open_dataset(run_filter(src, str(tmp_path / "out"), cfg, executor="local"))
    (kept,) = ds.read_all("data").to_pylist()
    assert kept["id"] == "en-1" and json.loads(kept["metadata"])["quality_score"] > 0.5
    (dropped,) = ds.read_all("dropped").to_pylist()
    assert dropped["id"] == "zh-1" and dropped["reason"] == "quality_classifier_low"
    assert ds.manifest.config["classifier"]["model_sha256"]
