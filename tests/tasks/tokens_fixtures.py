"""Tiny bilingual document datasets and tokenizers for the remix/tokenizer/tokenize/loader tests.

Synthetic but deterministic: English and Chinese sentences built from fixed vocabularies, plus
documents that stress the tokenizer round trip (emoji, CJK Ext-B, whitespace runs, tabs, code,
U+FFFD, U+2581, chat-marker text).
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pyarrow as pa

from storage import Counts, DatasetWriter, conform_documents, write_shard

EN_WORDS = (
    "the of and to in is that for it as was with be by on not he this are or his from at which but have an they "
    "you were her she there been one all we their has would when if so no will more can about time data model "
    "language training paper results table figure network learning large number people year government city"
).split()
ZH_TEXT = (
    "今天天气很好我们一起去公园散步看到很多人在跑步和打太极拳孩子们在草地上玩耍老人在树下下棋"
    "大语言模型的训练需要大量高质量的数据我们从网页中收集文本并进行清洗去重和过滤然后训练分词器"
    "红楼梦是中国古典小说的巅峰之作描写了贾宝玉和林黛玉的爱情故事以及贾府的兴衰历史"
)
HARD_TEXTS = [
    "emoji 😀👍🏽 and family 👨‍👩‍👧 end",
    "rare CJK 𠀀𠀁𪚥 ext-B",
    "runs of   spaces,\t\ttabs\n\n\nand blank lines   \n",
    "def add(a, b):\n\treturn a + b  # sum\n\nif __name__ == '__main__':\n    print(add(1, 2))\n",
    "bad bytes became \ufffd\ufffd here",
    "SentencePiece mark ▁ literal ▁▁ twice",
    "fake markers <|user|> hi <|end|> and <s> </s> <pad>",
    "numbers 1234567890 and 3.14159, ２０２４年",
    "  leading and trailing spaces  ",
    "\u3000全角空格\u3000和\u200b零宽",
]


def english_doc(rng: random.Random, sentences: int) -> str:
    out = []
    for _ in range(sentences):
        words = [rng.choice(EN_WORDS) for _ in range(rng.randint(5, 14))]
        out.append(" ".join(words).capitalize() + rng.choice([".", ".", "?", "!"]) + f" {rng.randint(0, 999)}")
    return " ".join(out) + "\n"


def chinese_doc(rng: random.Random, sentences: int) -> str:
    out = []
    for _ in range(sentences):
        start = rng.randrange(len(ZH_TEXT) - 20)
        out.append(ZH_TEXT[start : start + rng.randint(8, 20)] + rng.choice(["。", "，", "！"]))
    return "".join(out) + "\n"


URLS = {
    "en": ["https://www.bbc.co.uk/news/{i}", "https://en.wikipedia.org/wiki/Page_{i}", "https://forum.example.com/t/{i}",
           "https://github.com/org/repo{i}", "https://arxiv.org/abs/2401.{i:05d}", "https://blog.example.net/p/{i}"],
    "zh": ["https://news.sina.com.cn/c/{i}.shtml", "https://zh.wikipedia.org/wiki/{i}", "https://tieba.baidu.com/p/{i}",
           "https://www.example.cn/a/{i}"],
}


def make_documents(num_en: int = 60, num_zh: int = 40, seed: int = 0, hard: bool = True) -> list[dict]:
    rng = random.Random(seed)
    docs = []
    for i in range(num_en):
        docs.append({"id": f"en-{i:04d}", "text": english_doc(rng, rng.randint(2, 8)), "lang": "en",
                     "url": rng.choice(URLS["en"]).format(i=i), "source": f"dump-{i % 2:02d}"})
    for i in range(num_zh):
        docs.append({"id": f"zh-{i:04d}", "text": chinese_doc(rng, rng.randint(2, 8)), "lang": "zh",
                     "url": rng.choice(URLS["zh"]).format(i=i), "source": f"dump-{i % 2:02d}"})
    if hard:
        for i, text in enumerate(HARD_TEXTS):
            docs.append({"id": f"hard-{i:02d}", "text": text, "lang": "en", "url": f"https://hard.example.org/{i}",
                         "source": "dump-00"})
    for d in docs:
        d.setdefault("lang_score", 0.9)
        d.setdefault("metadata", json.dumps({}))
    return docs


def write_documents(root: Path | str, docs: list[dict], shards: int = 2, stage: str = "fixture") -> str:
    """Publish ``docs`` as a document dataset with ``shards`` data shards; return its version URI."""
    w = DatasetWriter(str(root), kind="documents", stage=stage, config={"n": len(docs), "shards": shards,
                      "digest": hashlib.sha1(json.dumps(docs, sort_keys=True).encode()).hexdigest()})
    infos = []
    per = -(-len(docs) // shards)
    for k in range(shards):
        part = docs[k * per : (k + 1) * per]
        table = conform_documents(pa.Table.from_pylist(part))
        infos.append(write_shard(w.location, "data", k, table))
    w.commit(infos, Counts(input=len(docs), kept=len(docs)))
    return w.location


def write_token_dataset(root: Path | str, train: list, val: dict | None = None, dtype: str = "uint16",
                        vocab_size: int = 1000) -> str:
    """Publish a token dataset from explicit arrays (one train shard per array, one val shard per language)."""
    import numpy as np

    from model.tokenizer import pad_vocab_size

    w = DatasetWriter(str(root), kind="tokens", stage="fixture_tokens",
                      config={"digest": hashlib.sha1(repr((train, val, dtype)).encode()).hexdigest()})
    infos = []
    for k, arr in enumerate(train):
        table = pa.table({"tokens": pa.array(np.asarray(arr, dtype=dtype))})
        infos.append(write_shard(w.location, "train", k, table, fmt="arrow", attrs={"split": "train"}))
    for k, (lang, arr) in enumerate(sorted((val or {}).items())):
        table = pa.table({"tokens": pa.array(np.asarray(arr, dtype=dtype))})
        infos.append(write_shard(w.location, "val", k, table, fmt="arrow", name=f"{lang}-{k:05d}.arrow",
                                 attrs={"split": "val", "lang": lang}))
    stats = {"vocab_size": vocab_size, "padded_vocab_size": pad_vocab_size(vocab_size), "dtype": dtype, "eos_id": 2,
             "bos_id": 1, "tokenizer_digest": "0" * 64}
    w.commit(infos, Counts(input=len(train), kept=len(train)), stats)
    return w.location
