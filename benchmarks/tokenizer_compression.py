"""Compression of our SentencePiece BPE vs a HF ``tokenizers`` byte-level BPE, same sample, same vocab.

    python -m benchmarks.tokenizer_compression                          # corpus from ../shared/data
    python -m benchmarks.tokenizer_compression --vocab-size 32000 --docs runs/remix

Both tokenizers are trained on exactly the same training chunks (``tasks.train_tokenizer``'s
deterministic sample, held-out documents excluded) with the same vocabulary size; bytes per
token (UTF-8 bytes of the held-out documents / tokens) is reported per language. Higher is better.
A third column trains the HF tokenizer with single-digit pre-splitting too, to separate the cost
of digit splitting from the rest.
The default corpus is built from ../shared/data: English WikiText-2 articles, Chinese 红楼梦
passages and Python code (HumanEval prompts + solutions), labelled ``en`` / ``zh`` / ``code``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import re
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pyarrow as pa

from storage import Counts, DatasetWriter, conform_documents, open_dataset, write_shard
from tasks.ops.doc_hash import doc_fraction
from tasks.ops.tokenizer_training import TokenizerTrainConfig, train_sentencepiece_bpe, training_chunks
from tasks.train_tokenizer import sample_texts, select_sample

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_corpus() -> list[dict]:
    """Documents from ../shared/data: wikitext articles (en), hongloumeng passages (zh), HumanEval (code)."""
    docs = []
    for name in ("wikitext-2_valid.txt.gz", "wikitext-2_test.txt.gz"):
        text = gzip.open(SHARED / "text_en_wikitext2" / name, "rt", encoding="utf-8").read()
        for i, article in enumerate(re.split(r"\n(?= = [^=].* = \n)", text)):
            if article.strip():
                docs.append({"id": f"{name}:{i}", "text": article.strip("\n") + "\n", "lang": "en"})
    lines = gzip.open(SHARED / "text_zh_hongloumeng" / "hongloumeng.txt.gz", "rt", encoding="utf-8").read().splitlines(True)
    for i in range(0, len(lines), 20):
        docs.append({"id": f"hlm:{i}", "text": "".join(lines[i : i + 20]), "lang": "zh"})
    for row in gzip.open(SHARED / "eval_humaneval" / "HumanEval.jsonl.gz", "rt", encoding="utf-8"):
        r = json.loads(row)
        docs.append({"id": r["task_id"], "text": r["prompt"] + r["canonical_solution"], "lang": "code"})
    return docs


def write_corpus(root: str, docs: list[dict]) -> str:
    w = DatasetWriter(root, kind="documents", stage="bench_corpus", config={"n": len(docs)})
    info = write_shard(w.location, "data", 0, conform_documents(pa.Table.from_pylist(docs)))
    w.commit([info], Counts(input=len(docs), kept=len(docs)))
    return w.location


def heldout_by_lang(uri: str, cfg: TokenizerTrainConfig) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for table in open_dataset(uri).iter_tables("data", columns=["id", "text", "lang"]):
        for doc_id, text, lang in zip(*(table.column(c).to_pylist() for c in ("id", "text", "lang"))):
            if text and doc_fraction(doc_id, cfg.seed) < cfg.heldout_fraction:
                out[lang or "unknown"].append(text)
    return dict(sorted(out.items()))


def train_hf_byte_level(chunks: list[str], vocab_size: int, split_digits: bool = False):
    """GPT-2 style byte-level BPE (optionally with single-digit pre-splitting, as DeepSeek does)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.pre_tokenizer = (
        pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level]) if split_digits else byte_level
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=["<unk>", "<s>", "</s>", "<pad>"], show_progress=False)
    tok.train_from_iterator(chunks, trainer=trainer)
    return tok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", help="documents dataset (default: built from ../shared/data)")
    ap.add_argument("--vocab-size", type=int, default=16000)
    ap.add_argument("--heldout-fraction", type=float, default=0.1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ablations", action="store_true", help="also train SentencePiece variants (one setting changed each)")
    args = ap.parse_args()
    cfg = TokenizerTrainConfig(vocab_size=args.vocab_size, heldout_fraction=args.heldout_fraction,
                               num_threads=args.threads, character_coverage=0.9995)
    with tempfile.TemporaryDirectory() as tmp:
        uri = args.docs or write_corpus(f"{tmp}/docs", shared_corpus())
        ds = open_dataset(uri, kind="documents")
        chosen, report = select_sample(ds, cfg)
        texts, by_lang = sample_texts(ds, chosen)
        chunks = list(training_chunks(texts))
        t0 = time.perf_counter()
        proto = train_sentencepiece_bpe(chunks, cfg)
        t_sp = time.perf_counter() - t0
        from model.tokenizer import Tokenizer

        sp = Tokenizer(proto)
        t0 = time.perf_counter()
        hf = train_hf_byte_level(chunks, args.vocab_size)
        t_hf = time.perf_counter() - t0
        hf_digits = train_hf_byte_level(chunks, args.vocab_size, split_digits=True)
        heldout = heldout_by_lang(uri, cfg)
        variants = ablations(chunks, cfg, heldout) if args.ablations else {}

    print(f"# tokenizer compression: vocab {args.vocab_size} (SentencePiece got {sp.vocab_size}, HF {hf.get_vocab_size()})")
    print(f"machine: {platform.machine()} {platform.processor() or ''}, python {platform.python_version()}")
    print(f"sample: {report['trained_on']} docs, {report['trained_bytes'] / 1e6:.2f} MB "
          + ", ".join(f"{k} {v['bytes'] / 1e6:.2f} MB" for k, v in sorted(by_lang.items()))
          + f"; held out: {report['heldout']} docs")
    print(f"train time: SentencePiece BPE {t_sp:.1f} s, HF byte-level BPE {t_hf:.1f} s ({args.threads} threads)")
    print()
    print("| lang | held-out docs | bytes | SentencePiece BPE (ours) | HF byte-level BPE | HF byte-level BPE + split digits | ours: round trip exact |")
    print("|---|---|---|---|---|---|---|")
    for lang, docs in heldout.items():
        n_bytes = sum(len(t.encode("utf-8")) for t in docs)
        sp_ids = sp.encode_batch(docs, num_threads=args.threads)
        hf_tokens = sum(len(e.ids) for e in hf.encode_batch(docs))
        hfd_tokens = sum(len(e.ids) for e in hf_digits.encode_batch(docs))
        exact = all(sp.decode(ids) == t for ids, t in zip(sp_ids, docs))
        sp_tokens = sum(len(i) for i in sp_ids)
        print(f"| {lang} | {len(docs)} | {n_bytes:,} | {n_bytes / sp_tokens:.3f} | {n_bytes / hf_tokens:.3f} | {n_bytes / hfd_tokens:.3f} | {exact} |")
    if variants:
        langs = list(heldout)
        print()
        print("| SentencePiece variant | " + " | ".join(f"{lang} bytes/token" for lang in langs) + " |")
        print("|---|" + "---|" * len(langs))
        for name, ratios in variants.items():
            print(f"| {name} | " + " | ".join(f"{ratios[lang]:.3f}" for lang in langs) + " |")


def ablations(chunks: list[str], cfg: TokenizerTrainConfig, heldout: dict[str, list[str]]) -> dict[str, dict[str, float]]:
    """Bytes/token per language of SentencePiece models with one trainer option changed each."""
    import io

    import sentencepiece as spm

    from tasks.ops.tokenizer_training import trainer_options

    out = {}
    for name, change in [("ours (as shipped)", {}), ("split_digits=False", {"split_digits": False}),
                         ("split_by_unicode_script=False", {"split_by_unicode_script": False}),
                         ("allow_whitespace_only_pieces=False", {"allow_whitespace_only_pieces": False}),
                         ("character_coverage=1.0", {"character_coverage": 1.0})]:
        sink = io.BytesIO()
        spm.SentencePieceTrainer.train(sentence_iterator=iter(chunks), model_writer=sink, **{**trainer_options(cfg), **change})
        sp = spm.SentencePieceProcessor(model_proto=sink.getvalue())
        out[name] = {lang: sum(len(t.encode("utf-8")) for t in docs) / sum(len(x) for x in sp.encode(docs))
                     for lang, docs in heldout.items()}
    return out


if __name__ == "__main__":
    main()
