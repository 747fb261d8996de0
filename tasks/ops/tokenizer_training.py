"""Train a SentencePiece BPE tokenizer the way DeepSeek LLM describes its byte-level BPE.

- byte fallback: every string encodes, unknown characters become their UTF-8 bytes;
- numbers split into single digits (``split_digits``), pieces never cross Unicode scripts;
- identity normalisation, no dummy prefix, whitespace kept as is, so ``decode(encode(x)) == x``;
- ids 0-3 are ``<unk> <s> </s> <pad>``, then the chat markers ``<|system|> <|user|> <|assistant|> <|end|>``.

Pure functions of a list of texts (no dataset I/O, no Ray); ``tasks/train_tokenizer.py`` drives them.

    proto = train_sentencepiece_bpe(training_chunks(texts), TokenizerTrainConfig(vocab_size=4000))
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass

import sentencepiece as spm

from model.tokenizer import BOS, CHAT_MARKERS, EOS, PAD, UNK, TokenizerMeta, pad_vocab_size

MAX_CHUNK_CHARS = 2000  # <= 8000 UTF-8 bytes even for CJK, under max_sentence_length below


@dataclass(frozen=True)
class TokenizerTrainConfig:
    """Knobs of ``longterm train-tokenizer``. Defaults are for real runs; the demo uses a small vocab."""

    vocab_size: int = 100_000
    character_coverage: float = 0.9995  # lower it (e.g. 0.99) for small vocabularies over CJK text
    sample_bytes: int = 1_000_000_000  # at most this much text (UTF-8) goes into training
    heldout_fraction: float = 0.02  # documents kept out of training, for the compression report
    seed: int = 0
    num_threads: int = 2
    max_sentencepiece_length: int = 16


def training_chunks(texts: Iterable[str], max_chars: int = MAX_CHUNK_CHARS) -> Iterator[str]:
    """Cut documents into training "sentences" at line ends (newlines kept, so ``\\n`` pieces are learnt)."""
    for text in texts:
        chunk: list[str] = []
        size = 0
        for line in text.splitlines(keepends=True):
            while len(line) > max_chars:  # one very long line: hard cuts
                if chunk:
                    yield "".join(chunk)
                    chunk, size = [], 0
                yield line[:max_chars]
                line = line[max_chars:]
            if size + len(line) > max_chars and chunk:
                yield "".join(chunk)
                chunk, size = [], 0
            chunk.append(line)
            size += len(line)
        if chunk:
            yield "".join(chunk)


def trainer_options(cfg: TokenizerTrainConfig) -> dict:
    """The exact SentencePiece trainer options (recorded in tokenizer.json)."""
    return dict(
        model_type="bpe",
        vocab_size=cfg.vocab_size,
        hard_vocab_limit=False,  # a tiny corpus yields a smaller vocab instead of failing
        character_coverage=cfg.character_coverage,
        byte_fallback=True,
        split_digits=True,
        split_by_unicode_script=True,
        split_by_whitespace=True,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        add_dummy_prefix=False,
        allow_whitespace_only_pieces=True,
        max_sentencepiece_length=cfg.max_sentencepiece_length,
        max_sentence_length=16384,
        input_sentence_size=0,  # we sample deterministically ourselves
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=3,
        unk_piece=UNK,
        bos_piece=BOS,
        eos_piece=EOS,
        pad_piece=PAD,
        user_defined_symbols=list(CHAT_MARKERS),
        num_threads=cfg.num_threads,
        minloglevel=2,
    )


def train_sentencepiece_bpe(chunks: Iterable[str], cfg: TokenizerTrainConfig) -> bytes:
    """Train and return the serialized SentencePiece model."""
    chunks = [c for c in chunks if c]
    if not chunks:
        raise ValueError("no text to train a tokenizer on: every sampled document is empty")
    sink = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(sentence_iterator=iter(chunks), model_writer=sink, **trainer_options(cfg))
    except RuntimeError as e:
        msg = str(e)
        if "required_chars" in msg:
            raise ValueError(
                f"vocab_size {cfg.vocab_size} is too small for the characters the sample needs at "
                f"character_coverage {cfg.character_coverage} ({msg.split('Vocabulary size is smaller than required_chars.')[-1].strip()}); "
                f"raise --vocab-size or lower --character-coverage (characters left out still encode as bytes)"
            ) from e
        raise
    return sink.getvalue()


def tokenizer_meta(proto: bytes, cfg: TokenizerTrainConfig, sample: dict) -> TokenizerMeta:
    sp = spm.SentencePieceProcessor(model_proto=proto)
    size = sp.get_piece_size()
    return TokenizerMeta(
        vocab_size=size,
        padded_vocab_size=pad_vocab_size(size),
        bos_id=sp.bos_id(),
        eos_id=sp.eos_id(),
        pad_id=sp.pad_id(),
        unk_id=sp.unk_id(),
        special_ids={m: sp.piece_to_id(m) for m in CHAT_MARKERS},
        model_sha256=hashlib.sha256(proto).hexdigest(),
        trainer={**trainer_options(cfg), "config": asdict(cfg)},
        sample=sample,
    )
