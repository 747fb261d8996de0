"""Bits per byte on the held-out validation shards of a token dataset, per language.

A token dataset (storage kind ``tokens``) has ``val`` shards with ``attrs.lang``; each shard is one flat
``tokens`` column of documents joined by EOS. For each language the stream is cut into non-overlapping
windows of ``seq_len + 1`` tokens (at most ``max_tokens`` per language) and

    bpb = sum(-log p(token)) / (ln 2 * sum(bytes(token)))

over target tokens, where ``bytes(token)`` is the UTF-8 length of its SentencePiece piece (``<0xAB>``
byte pieces count 1, ``\\u2581`` is a space) and special tokens (BOS, EOS, PAD, chat markers, vocabulary
padding) count 0 bytes and are left out of both sums (as nanochat does), so the number does not depend
on the vocabulary size and compares across tokenizers. A tokenizer whose digest differs from the one
recorded in the dataset's stats is refused.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import torch

from model.evals.common import EvalDataError
from model.llama import Transformer
from model.logprobs import token_logprobs
from model.tokenizer import Tokenizer
from storage import open_dataset


def token_byte_lengths(tok: Tokenizer, size: int) -> torch.Tensor:
    """UTF-8 bytes each id stands for (0 for control/special ids and vocabulary padding), length ``size``."""
    out = torch.zeros(size, dtype=torch.long)
    special = {tok.bos_id, tok.eos_id, tok.pad_id, tok.unk_id, *tok.special_ids.values()}
    for i in range(min(tok.vocab_size, size)):
        if i in special or tok.sp.is_control(i):
            continue
        piece = tok.id_to_piece(i)
        if tok.sp.is_byte(i):
            out[i] = 1
        else:
            out[i] = len(piece.replace("\u2581", " ").encode("utf-8"))
    return out


def val_streams(data_uri: str) -> dict[str, tuple[np.ndarray, dict]]:
    ds = open_dataset(data_uri, kind="tokens")
    streams: dict[str, list[np.ndarray]] = defaultdict(list)
    shards = ds.shards("val")
    if not shards:
        raise EvalDataError(f"{ds.uri}: the token dataset has no val shards to measure bits per byte on")
    for shard in shards:
        streams[str(shard.attrs.get("lang", "all"))].append(ds.read_shard(shard).column("tokens").to_numpy())
    return {lang: (np.concatenate(parts), ds.manifest.stats) for lang, parts in sorted(streams.items())}


@torch.no_grad()
def bits_per_byte(
    model: Transformer,
    tok: Tokenizer,
    data_uri: str,
    *,
    seq_len: int | None = None,
    max_tokens: int = 1_000_000,
    batch_size: int = 8,
) -> dict[str, dict[str, float]]:
    """{lang: {"bpb", "tokens", "bytes", "nats_per_token"}} over the val shards."""
    streams = val_streams(data_uri)
    stats = next(iter(streams.values()))[1]
    digest = stats.get("tokenizer_digest")
    if digest and digest != tok.digest:
        raise EvalDataError(f"{data_uri}: tokenized with tokenizer {digest[:12]}, but the given tokenizer is {tok.digest[:12]}")
    T = min(seq_len or model.cfg.max_seq_len, model.cfg.max_seq_len)
    byte_len = token_byte_lengths(tok, model.cfg.vocab_size)
    device = model.output.weight.device
    model.eval()
    out: dict[str, dict[str, float]] = {}
    for lang, (tokens, _) in streams.items():
        if tokens.size and int(tokens.max()) >= model.cfg.vocab_size:
            raise EvalDataError(f"{data_uri}: val tokens reach id {int(tokens.max())}, beyond the model's vocabulary {model.cfg.vocab_size}")
        n = min(len(tokens), max_tokens + 1)
        windows = (n - 1) // T
        if windows == 0:
            raise EvalDataError(f"{data_uri}: val shards for {lang!r} hold {len(tokens)} tokens, fewer than one window of {T + 1}")
        data = torch.from_numpy(tokens[: windows * T + 1].astype(np.int64))
        nats, nbytes, ntok = 0.0, 0, 0
        for start in range(0, windows, batch_size):
            rows = range(start, min(windows, start + batch_size))
            x = torch.stack([data[r * T : r * T + T] for r in rows]).to(device)
            y = torch.stack([data[r * T + 1 : r * T + T + 1] for r in rows]).to(device)
            b = byte_len.to(device)[y]
            lp = token_logprobs(model, x, y)
            keep = b > 0
            nats += float(-(lp * keep).sum())
            nbytes += int(b.sum())
            ntok += int(keep.sum())
        out[lang] = {"bpb": nats / (math.log(2) * max(1, nbytes)), "tokens": ntok, "bytes": nbytes, "nats_per_token": nats / max(1, ntok)}
    return out
