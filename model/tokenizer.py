"""The project tokenizer: a SentencePiece BPE model with byte fallback, loaded from a tokenizer directory.

A tokenizer directory (written by ``longterm train-tokenizer``) is a versioned dataset of kind
``tokenizer`` holding ``tokenizer.model`` (the SentencePiece proto), ``tokenizer.json`` (metadata:
vocab sizes, special ids, training settings) and ``manifest.json`` (sha256 of both files).

    from model.tokenizer import Tokenizer
    tok = Tokenizer.load("runs/tokenizer")          # a --out root (LATEST) or one version directory
    ids = tok.encode("Hello 世界", eos=True)
    assert tok.decode(ids) == "Hello 世界"

Round trip: ``decode(encode(x)) == x`` for every string ``x``. The model is trained with identity
normalisation, no dummy prefix and no whitespace collapsing, and unknown characters fall back to
their UTF-8 bytes. SentencePiece writes spaces as U+2581 ("▁") internally and would decode a literal
U+2581 in the input as a space, so this wrapper encodes literal U+2581 (and, with
``allow_special=False``, the literal text of the chat markers) as explicit byte tokens.

Ids: ``vocab_size`` is the SentencePiece vocabulary; ``padded_vocab_size`` rounds it up to a multiple
of 128 for the embedding matrix (DeepSeek pads 100,015 to 102,400). Ids in
``[vocab_size, padded_vocab_size)`` are never produced and decode to nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sentencepiece as spm

import storage
from storage import exists, read_bytes
from storage.uri import join

MODEL_FILE = "tokenizer.model"
META_FILE = "tokenizer.json"
VOCAB_MULTIPLE = 128

BOS, EOS, PAD, UNK = "<s>", "</s>", "<pad>", "<unk>"
CHAT_MARKERS = ("<|system|>", "<|user|>", "<|assistant|>", "<|end|>")
SPACE_SYMBOL = "\u2581"  # SentencePiece's internal whitespace mark


def pad_vocab_size(n: int, multiple: int = VOCAB_MULTIPLE) -> int:
    """Round ``n`` up to a multiple of ``multiple`` (tensor-core friendly embedding size)."""
    return -(-n // multiple) * multiple


def token_dtype_for(padded_vocab_size: int) -> str:
    """The narrowest unsigned integer dtype that holds every token id: ``uint16`` or ``uint32``."""
    return "uint16" if padded_vocab_size <= 1 << 16 else "uint32"


@dataclass
class TokenizerMeta:
    """Contents of ``tokenizer.json``."""

    vocab_size: int
    padded_vocab_size: int
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    special_ids: dict[str, int]
    model_sha256: str
    kind: str = "sentencepiece_bpe"
    trainer: dict[str, Any] = field(default_factory=dict)
    sample: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TokenizerMeta":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})


class Tokenizer:
    """SentencePiece BPE with exact round trip, special ids and a padded vocabulary size."""

    def __init__(self, model_proto: bytes, meta: TokenizerMeta | None = None, location: str = "") -> None:
        self.sp = spm.SentencePieceProcessor(model_proto=model_proto)
        self.location = location
        self.digest = hashlib.sha256(model_proto).hexdigest()
        self._model_proto = model_proto
        self.vocab_size: int = self.sp.get_piece_size()
        self.padded_vocab_size: int = meta.padded_vocab_size if meta else pad_vocab_size(self.vocab_size)
        self.bos_id: int = self.sp.bos_id()
        self.eos_id: int = self.sp.eos_id()
        self.pad_id: int = self.sp.pad_id()
        self.unk_id: int = self.sp.unk_id()
        self.special_ids: dict[str, int] = {}
        for marker in CHAT_MARKERS:
            i = self.sp.piece_to_id(marker)
            if i != self.unk_id:
                self.special_ids[marker] = i
        self.byte_ids: list[int] = [self.sp.piece_to_id(f"<0x{b:02X}>") for b in range(256)]
        if any(i == self.unk_id for i in self.byte_ids):
            raise ValueError(
                f"tokenizer {location or '(in memory)'} has no byte-fallback pieces; it cannot encode every "
                f"string exactly. Retrain it with `longterm train-tokenizer` (byte_fallback=True)"
            )
        self._literal_all = re.compile("(" + "|".join(re.escape(s) for s in (SPACE_SYMBOL, *CHAT_MARKERS)) + ")")
        self._literal_space = re.compile(f"({SPACE_SYMBOL})")
        self.meta = meta

    # ------------------------------------------------------------------ loading

    @classmethod
    def load(cls, path: str) -> "Tokenizer":
        """Load from a tokenizer directory (versioned root, one version, or a plain dir with tokenizer.model)."""
        path = path.rstrip("/")
        if exists(join(path, MODEL_FILE)) and not exists(join(path, storage.dataset.MANIFEST)):
            proto = read_bytes(join(path, MODEL_FILE))
            meta = TokenizerMeta.from_dict(json.loads(read_bytes(join(path, META_FILE)))) if exists(join(path, META_FILE)) else None
            return cls(proto, meta, location=path)._check_meta()
        ds = storage.open_dataset(path, kind="tokenizer")
        files = {s.path: s for s in ds.shards("tokenizer")}
        for name in (MODEL_FILE, META_FILE):
            if name not in files:
                raise storage.DatasetError(f"{ds.uri}: tokenizer dataset lists no {name}; rerun `longterm train-tokenizer`")
        proto = ds.read_shard_bytes(files[MODEL_FILE])
        meta = TokenizerMeta.from_dict(json.loads(ds.read_shard_bytes(files[META_FILE])))
        return cls(proto, meta, location=ds.uri)._check_meta()

    def _check_meta(self) -> "Tokenizer":
        meta = self.meta
        if meta is not None and (meta.vocab_size != self.vocab_size or meta.model_sha256 != self.digest):
            raise storage.DatasetError(
                f"{self.location}: {META_FILE} describes a model with vocab {meta.vocab_size} (sha256 "
                f"{meta.model_sha256[:12]}) but {MODEL_FILE} has vocab {self.vocab_size} (sha256 {self.digest[:12]}); "
                f"the directory mixes two tokenizers: rerun `longterm train-tokenizer`"
            )
        return self

    @property
    def model_proto(self) -> bytes:
        return self._model_proto

    # ------------------------------------------------------------------ encode / decode

    def _split_literals(self, text: str, allow_special: bool) -> list[str] | None:
        """Pieces of ``text`` alternating normal / literal-to-bytes, or None when nothing needs escaping."""
        pattern = self._literal_space if allow_special else self._literal_all
        if SPACE_SYMBOL not in text and (allow_special or "<|" not in text):
            return None
        parts = pattern.split(text)
        return parts if len(parts) > 1 else None

    def _encode_escaped(self, parts: list[str]) -> list[int]:
        ids: list[int] = []
        for k, part in enumerate(parts):
            if k % 2 == 1:  # re.split with one group: odd entries are the matched literals
                ids.extend(self.byte_ids[b] for b in part.encode("utf-8"))
            elif part:
                ids.extend(self.sp.encode(part))
        return ids

    def encode(self, text: str, bos: bool = False, eos: bool = False, allow_special: bool = True) -> list[int]:
        """Token ids of ``text``; ``allow_special=False`` encodes chat-marker text as plain bytes."""
        parts = self._split_literals(text, allow_special)
        ids = self.sp.encode(text) if parts is None else self._encode_escaped(parts)
        if bos:
            ids = [self.bos_id, *ids]
        if eos:
            ids.append(self.eos_id)
        return ids

    def encode_batch(
        self,
        texts: Sequence[str],
        bos: bool = False,
        eos: bool = False,
        allow_special: bool = True,
        num_threads: int = 1,
    ) -> list[list[int]]:
        """Encode many texts; plain ones go through SentencePiece's batch API in one call."""
        texts = list(texts)
        split = [self._split_literals(t, allow_special) for t in texts]
        plain = [i for i, p in enumerate(split) if p is None]
        out: list[list[int]] = [[] for _ in texts]
        if plain:
            for i, ids in zip(plain, self.sp.encode([texts[i] for i in plain], num_threads=num_threads)):
                out[i] = ids
        for i, parts in enumerate(split):
            if parts is not None:
                out[i] = self._encode_escaped(parts)
        if bos or eos:
            out = [([self.bos_id] if bos else []) + ids + ([self.eos_id] if eos else []) for ids in out]
        return out

    def decode(self, ids: Iterable[int]) -> str:
        """Text of ``ids``; BOS/EOS/PAD and vocabulary padding ids decode to nothing."""
        clean = []
        for i in ids:
            i = int(i)
            if not 0 <= i < self.padded_vocab_size:
                raise ValueError(f"token id {i} is outside the vocabulary [0, {self.padded_vocab_size})")
            if i < self.vocab_size:
                clean.append(i)
        return self.sp.decode(clean)

    def id_to_piece(self, i: int) -> str:
        return self.sp.id_to_piece(int(i))

    def __len__(self) -> int:
        return self.vocab_size

    def __repr__(self) -> str:
        return (
            f"Tokenizer({self.location!r}, vocab={self.vocab_size}, padded={self.padded_vocab_size}, "
            f"sha256={self.digest[:12]})"
        )
