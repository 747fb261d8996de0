"""The real-text scaling study's data (benchmarks/scaling_real.py) on a small crawl: no recombined text, one
validation set shared by both variants, and no copy of a validation page in either training split."""

from __future__ import annotations

from pathlib import Path

from benchmarks.scaling_real import build_documents, build_tokens
from model.tokenizer import Tokenizer
from storage import open_dataset


def test_both_variants_share_a_clean_val_set_none_of_them_trains_on(tmp_path: Path) -> None:
    docs = build_documents(tmp_path, docs=800, en_share=0.22, seed=0)
    assert docs["summary"]["recombined_pages"] == {"en": 0, "zh": 0}
    tokens = build_tokens(tmp_path, docs, vocab_size=2304, character_coverage=0.98, val_fraction=0.1)
    tok = Tokenizer.load(tokens["tokenizer"])
    cur, raw = (open_dataset(tokens["variants"][v]["uri"]) for v in ("curated", "raw"))
    val = cur.read_all("val").column("tokens").to_numpy()
    assert len(val) == tokens["val_tokens"] > 1000 and (raw.read_all("val").column("tokens").to_numpy() == val).all()
    for ds, v in ((cur, "curated"), (raw, "raw")):
        m = ds.manifest
        assert m.counts.input == m.counts.kept + sum(m.counts.dropped.values())  # nothing lost: the val clusters are counted
        assert m.counts.dropped["val_cluster"] > 0 and m.stats["tokens"]["train"] == tokens["variants"][v]["train_tokens"]
        train = tok.decode(ds.read_all("train").column("tokens").to_numpy().tolist())
        # raw holds exact copies of some validation pages in the crawl: none of them is left in training
        leaked = [p for p in _val_paragraphs(docs, tokens) if p in train]
        assert leaked == [], leaked[:2]


def _val_paragraphs(docs: dict, tokens: dict) -> list[str]:
    """The longest paragraph of every validation page (as ingest read it)."""
    from benchmarks.scaling_real import _in_val, ground_truth_roots

    _, gt = ground_truth_roots(Path(docs["crawl"]))
    val_ids = {i for i, r in gt.items() if r["kind"] == "clean" and _in_val(i, 0.1)}
    t = open_dataset(docs["raw"]).read_all("data").select(["id", "text"])
    pages = [x for i, x in zip(t.column("id").to_pylist(), t.column("text").to_pylist()) if i in val_ids]
    assert len(pages) == tokens["val_docs"]
    return [max(p.split("\n\n")[1:] or [p], key=len) for p in pages]
