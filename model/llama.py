"""LLaMA-style decoder as in DeepSeek LLM (arXiv 2401.02954). Math only: no I/O, no training loop.

Architectural choices (the diff against a textbook transformer):
- pre-norm RMSNorm (eps 1e-6) before attention and FFN, and a final RMSNorm before the head;
- SwiGLU FFN, hidden size 8/3 * d_model rounded up to ``ffn_multiple`` (DeepSeek 7B: 11008, 67B: 22016)
  unless ``ffn_hidden`` is given (the 1b preset uses 5504);
- rotary position embeddings in the HF "rotate half" convention (theta 10000), so exporting to
  ``transformers.LlamaForCausalLM`` is a key mapping plus a split of the fused projections, never a permutation
  (see ``model/hf_compat.py``);
- grouped-query attention (``n_kv_head`` <= ``n_head``), through ``F.scaled_dot_product_attention`` (flash
  kernels on GPU when there is no explicit mask);
- fused projections: one ``wqkv`` matmul for q, k, v and one ``w13`` matmul for the SwiGLU gate and up
  projections (fewer, larger GEMMs);
- untied input embedding and output head, no biases anywhere, every weight initialised N(0, 0.006).

Packed sequences: ``segment_ids`` [B, T] makes attention block-diagonal causal (a token sees only earlier
tokens of its own segment) and, unless ``positions`` are given, restarts positions at each segment.
Generation: ``Transformer.new_kv_cache(...)`` plus ``forward(tokens, kv_cache=cache, start_pos=p)``.
Training: ``forward(tokens, targets=y)`` returns the loss through the chunked cross-entropy (inside
``forward`` so FSDP's hooks gather the output head and ``torch.compile`` sees one graph).

Shape legend: B batch, T tokens in this call, S cached length, D d_model, H query heads, K kv heads,
E head dim, V vocab, F FFN hidden.

    from model.llama import ModelConfig, Transformer
    cfg = ModelConfig.from_preset("tiny", vocab_size=512)
    logits = Transformer(cfg)(torch.randint(0, 512, (2, 16)))   # [2, 16, 512]
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from model.loss import chunked_cross_entropy


@dataclass
class ModelConfig:
    vocab_size: int = 102400  # DeepSeek's 100,015 tokens padded to a multiple of 128 (the tokenizer pads too)
    n_layer: int = 30
    d_model: int = 4096
    n_head: int = 32
    n_kv_head: int = 32  # < n_head means grouped-query attention
    ffn_hidden: int = 0  # 0 means 8/3 * d_model rounded up to ffn_multiple
    max_seq_len: int = 4096
    rope_theta: float = 10000.0
    norm_eps: float = 1e-6
    init_std: float = 0.006
    ffn_multiple: int = 256

    def __post_init__(self) -> None:
        if self.ffn_hidden <= 0:
            self.ffn_hidden = self.ffn_multiple * math.ceil(8 * self.d_model / 3 / self.ffn_multiple)
        if self.d_model % self.n_head:
            raise ValueError(f"d_model {self.d_model} is not divisible by n_head {self.n_head}")
        if self.n_head % self.n_kv_head:
            raise ValueError(f"n_head {self.n_head} is not a multiple of n_kv_head {self.n_kv_head}")
        if (self.d_model // self.n_head) % 2:
            raise ValueError(f"head dim {self.d_model // self.n_head} must be even for rotary embeddings")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_head

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> "ModelConfig":
        if name not in PRESETS:
            raise ValueError(f"unknown model preset {name!r}; choose one of {sorted(PRESETS)}")
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(overrides) - fields
        if unknown:
            raise ValueError(f"unknown ModelConfig fields {sorted(unknown)}; valid: {sorted(fields)}")
        return cls(**{**PRESETS[name], **overrides})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def num_params(self, embeddings: bool = True) -> int:
        d, kv = self.d_model, self.n_kv_head * self.head_dim
        per_layer = d * (d + 2 * kv) + d * d + 3 * d * self.ffn_hidden + 2 * d
        total = self.n_layer * per_layer + d  # + final norm
        return total + (2 * self.vocab_size * d if embeddings else 0)


PRESETS: dict[str, dict[str, Any]] = {
    # seconds on a CPU; tests override vocab_size from the token data
    "tiny": dict(vocab_size=512, n_layer=2, d_model=64, n_head=4, n_kv_head=2, ffn_hidden=192, max_seq_len=128),
    # minutes on a CPU, a quick real run on a GPU
    "demo": dict(vocab_size=8192, n_layer=4, d_model=256, n_head=4, n_kv_head=4, ffn_hidden=0, max_seq_len=512),
    # GPT-2-small sized, the shape of ../shared/bench/gpu_anchor.py (vocab 32000, seq 2048)
    "125m": dict(vocab_size=32000, n_layer=12, d_model=768, n_head=12, n_kv_head=12, ffn_hidden=2048, max_seq_len=2048),
    "1b": dict(vocab_size=102400, n_layer=16, d_model=2048, n_head=16, n_kv_head=16, ffn_hidden=5504, max_seq_len=4096),
    "deepseek-7b": dict(vocab_size=102400, n_layer=30, d_model=4096, n_head=32, n_kv_head=32, ffn_hidden=11008, max_seq_len=4096),
    "deepseek-67b": dict(vocab_size=102400, n_layer=95, d_model=8192, n_head=64, n_kv_head=8, ffn_hidden=22016, max_seq_len=4096),
}


# ----------------------------------------------------------------------------- building blocks


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.rms_norm(x, (x.shape[-1],), self.weight, self.eps)


def rope_tables(head_dim: int, positions: torch.Tensor, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin of shape [*positions.shape, E] in the rotate-half layout (frequencies repeated twice)."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, device=positions.device, dtype=torch.float32) / head_dim))
    angles = positions.to(torch.float32)[..., None] * inv_freq  # [..., E/2]
    emb = torch.cat((angles, angles), dim=-1)  # [..., E]
    return emb.cos(), emb.sin()


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x [B, T, H, E]; cos/sin [B or 1, T, E] (broadcast over heads)."""
    cos, sin = cos[:, :, None, :].to(x.dtype), sin[:, :, None, :].to(x.dtype)
    return x * cos + rotate_half(x) * sin


def segment_positions(segment_ids: torch.Tensor) -> torch.Tensor:
    """Positions restarting at 0 where the segment id changes: [[7,7,7,9,9]] -> [[0,1,2,0,1]]."""
    B, T = segment_ids.shape
    idx = torch.arange(T, device=segment_ids.device).expand(B, T)
    starts = torch.ones_like(segment_ids, dtype=torch.bool)
    starts[:, 1:] = segment_ids[:, 1:] != segment_ids[:, :-1]
    start_idx = torch.where(starts, idx, torch.zeros_like(idx)).cummax(dim=1).values
    return idx - start_idx


class KVCache(nn.Module):
    """Keys/values of one layer for generation: [B, K, S_max, E], plus segment ids [B, S_max] for masking."""

    def __init__(self, batch_size: int, max_len: int, n_kv_head: int, head_dim: int, device: Any, dtype: torch.dtype) -> None:
        super().__init__()
        shape = (batch_size, n_kv_head, max_len, head_dim)
        self.register_buffer("k", torch.zeros(shape, device=device, dtype=dtype), persistent=False)
        self.register_buffer("v", torch.zeros(shape, device=device, dtype=dtype), persistent=False)
        self.register_buffer("seg", torch.zeros(batch_size, max_len, device=device, dtype=torch.long), persistent=False)

    def update(self, start: int, k: torch.Tensor, v: torch.Tensor, seg: torch.Tensor | None):
        """Store k, v [B, K, T, E] at [start, start+T); return everything cached up to start+T."""
        end = start + k.shape[2]
        if end > self.k.shape[2]:
            raise ValueError(f"KV cache holds {self.k.shape[2]} positions; cannot write up to {end}")
        self.k[:, :, start:end] = k.to(self.k.dtype)
        self.v[:, :, start:end] = v.to(self.v.dtype)
        if seg is not None:
            self.seg[:, start:end] = seg
        return self.k[:, :, :end], self.v[:, :, :end], self.seg[:, :end]


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.n_head, self.n_kv_head, self.head_dim = cfg.n_head, cfg.n_kv_head, cfg.head_dim
        self.wqkv = nn.Linear(cfg.d_model, (cfg.n_head + 2 * cfg.n_kv_head) * cfg.head_dim, bias=False)
        self.wo = nn.Linear(cfg.n_head * cfg.head_dim, cfg.d_model, bias=False)

    def forward(
        self,
        x: torch.Tensor,  # [B, T, D]
        cos: torch.Tensor,  # [B|1, T, E]
        sin: torch.Tensor,
        mask: torch.Tensor | None,  # bool [B, 1, T, S] (True = attend) or None for plain causal
        cache: KVCache | None,
        start_pos: int,
        segment_ids: torch.Tensor | None,
    ) -> torch.Tensor:
        B, T, _ = x.shape
        H, K, E = self.n_head, self.n_kv_head, self.head_dim
        q, k, v = self.wqkv(x).split([H * E, K * E, K * E], dim=-1)
        q = apply_rope(q.view(B, T, H, E), cos, sin).transpose(1, 2)  # [B, H, T, E]
        k = apply_rope(k.view(B, T, K, E), cos, sin).transpose(1, 2)  # [B, K, T, E]
        v = v.view(B, T, K, E).transpose(1, 2)  # [B, K, T, E]
        if cache is not None:
            k, v, _ = cache.update(start_pos, k, v, segment_ids)  # [B, K, S, E]
            k, v = k.to(q.dtype), v.to(q.dtype)
        gqa = {"enable_gqa": True} if K != H else {}
        if mask is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=T > 1, **gqa)  # [B, H, T, E]
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, **gqa)
        return self.wo(y.transpose(1, 2).reshape(B, T, H * E))  # [B, T, D]


class FeedForward(nn.Module):
    """SwiGLU: w2(silu(x w1) * x w3), with w1 and w3 fused into one matmul."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.w13 = nn.Linear(cfg.d_model, 2 * cfg.ffn_hidden, bias=False)
        self.w2 = nn.Linear(cfg.ffn_hidden, cfg.d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.w13(x).chunk(2, dim=-1)  # [B, T, F] each
        return self.w2(F.silu(gate) * up)


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.attention_norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.attention = Attention(cfg)
        self.ffn_norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.feed_forward = FeedForward(cfg)

    def forward(self, x, cos, sin, mask=None, cache=None, start_pos=0, segment_ids=None):
        x = x + self.attention(self.attention_norm(x), cos, sin, mask, cache, start_pos, segment_ids)
        return x + self.feed_forward(self.ffn_norm(x))


# ----------------------------------------------------------------------------- the model


class Transformer(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.tok_embeddings = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.output = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)  # untied from tok_embeddings
        self.activation_checkpointing = False
        self.loss_chunk_size = 8192  # rows of logits formed at once by the training loss
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, mean=0.0, std=self.cfg.init_std)
            elif isinstance(m, RMSNorm):
                nn.init.ones_(m.weight)

    def new_kv_cache(self, batch_size: int, max_len: int | None = None, device: Any = None, dtype: torch.dtype | None = None) -> list[KVCache]:
        p = self.output.weight
        return [
            KVCache(batch_size, max_len or self.cfg.max_seq_len, self.cfg.n_kv_head, self.cfg.head_dim, device or p.device, dtype or p.dtype)
            for _ in self.layers
        ]

    def _attention_mask(self, T: int, start_pos: int, segment_ids, kv_cache, device) -> torch.Tensor | None:
        """None means plain causal (the flash path); otherwise bool [B|1, 1, T, S], True = may attend."""
        S = start_pos + T
        if segment_ids is None and (kv_cache is None or start_pos == 0 or T == 1):
            return None
        q_pos = torch.arange(start_pos, S, device=device)
        causal = q_pos[:, None] >= torch.arange(S, device=device)[None, :]  # [T, S]
        if segment_ids is None:
            return causal[None, None]
        seg_k = segment_ids if kv_cache is None else kv_cache[0].seg[:, :S]  # cache already holds this call's ids
        same = segment_ids[:, :, None] == seg_k[:, None, :]  # [B, T, S]
        return (causal[None] & same)[:, None]

    def hidden_states(
        self,
        tokens: torch.Tensor,  # [B, T]
        *,
        segment_ids: torch.Tensor | None = None,
        positions: torch.Tensor | None = None,
        kv_cache: list[KVCache] | None = None,
        start_pos: int = 0,
    ) -> torch.Tensor:
        """Final-normed hidden states [B, T, D] (the input of the output head)."""
        B, T = tokens.shape
        if kv_cache is None and start_pos:
            raise ValueError("start_pos needs a kv_cache")
        if start_pos + T > self.cfg.max_seq_len and kv_cache is None:
            raise ValueError(f"{T} tokens exceed max_seq_len {self.cfg.max_seq_len}")
        if positions is None:
            if segment_ids is not None and kv_cache is None:
                positions = segment_positions(segment_ids)  # [B, T]
            else:
                positions = torch.arange(start_pos, start_pos + T, device=tokens.device)[None]  # [1, T]
        if kv_cache is not None and segment_ids is not None:
            kv_cache[0].seg[:, start_pos : start_pos + T] = segment_ids  # so the mask below sees this call's ids
        cos, sin = rope_tables(self.cfg.head_dim, positions, self.cfg.rope_theta)  # [B|1, T, E]
        mask = self._attention_mask(T, start_pos, segment_ids, kv_cache, tokens.device)
        h = self.tok_embeddings(tokens)  # [B, T, D]
        for i, layer in enumerate(self.layers):
            cache = kv_cache[i] if kv_cache is not None else None
            if self.activation_checkpointing and self.training:
                h = checkpoint(layer, h, cos, sin, mask, cache, start_pos, segment_ids, use_reentrant=False)
            else:
                h = layer(h, cos, sin, mask, cache, start_pos, segment_ids)
        return self.norm(h)

    def forward(
        self,
        tokens: torch.Tensor,  # [B, T]
        *,
        segment_ids: torch.Tensor | None = None,
        positions: torch.Tensor | None = None,
        kv_cache: list[KVCache] | None = None,
        start_pos: int = 0,
        targets: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits [B, T, V]; or, given ``targets`` [B, T] (-100 = ignore), the mean cross-entropy as a scalar,
        computed chunk by chunk so the [B*T, V] fp32 logits never exist at once (``model/loss.py``)."""
        h = self.hidden_states(tokens, segment_ids=segment_ids, positions=positions, kv_cache=kv_cache, start_pos=start_pos)
        if targets is not None:
            return chunked_cross_entropy(h.flatten(0, 1), self.output.weight, targets.flatten(), chunk_size=self.loss_chunk_size)
        return self.output(h)
