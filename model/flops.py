"""The one place for FLOP math: FLOPs per token, MFU and a memory estimate for a model shape (no torch
allocations). Parameter counts come from ``ModelConfig.num_params``.

FLOPs per token (forward + backward) is DeepSeek LLM's model scale M, the non-embedding FLOPs per token,
plus the output head when a vocabulary is given::

    flops_per_token(n_layer, d_model, seq_len, vocab_size) = 72 n_layer d_model^2 + 12 n_layer d_model seq_len + 6 d_model vocab_size

72 n d^2 is 6 x the 12 d^2 matmul weights of a layer (q/k/v/o 4 d^2, SwiGLU 3 x 8/3 d^2) and
12 n d seq_len the attention scores (full square counted). The scaling laws (``model/scaling.py``, the
scaling study) use M itself (``vocab_size=0``); MFU counts the head as well, since it is real work. For
the 125m preset (MHA, FFN 8/3 d) this equals the exact ``6 x matmul params + attention`` count of
``../shared/bench/gpu_anchor.py``; for 1b (FFN 5504 instead of 5461) it is 0.3% lower. MFU divides
achieved FLOP/s by the dense bf16 peak of the device from ``PEAK_BF16_FLOPS``; unknown devices and
CPUs report no MFU.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from model.llama import ModelConfig

PEAK_BF16_FLOPS = {  # dense bf16, per device; matched as substrings of torch.cuda.get_device_name()
    "H200": 989e12,
    "H100": 989e12,
    "A100": 312e12,
}


def flops_per_token(n_layer: int, d_model: int, seq_len: int, vocab_size: int = 0) -> float:
    """DeepSeek's M (``vocab_size=0``), plus the output head's 6 d V when a vocabulary is given."""
    return 72 * n_layer * d_model**2 + 12 * n_layer * d_model * seq_len + 6 * d_model * vocab_size


def model_scale(cfg: ModelConfig, seq_len: int | None = None) -> float:
    """M of a model at ``seq_len`` (default its ``max_seq_len``): the scaling laws' model scale."""
    return flops_per_token(cfg.n_layer, cfg.d_model, seq_len or cfg.max_seq_len)


def training_flops_per_token(cfg: ModelConfig, seq_len: int) -> float:
    """M plus the output head: what MFU counts."""
    return flops_per_token(cfg.n_layer, cfg.d_model, seq_len, cfg.vocab_size)


def device_peak_flops(device: torch.device | str) -> float | None:
    device = torch.device(device)
    if device.type != "cuda" or not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in PEAK_BF16_FLOPS.items() if k in name), None)


def mfu(tokens_per_s: float, cfg: ModelConfig, seq_len: int, peak: float | None) -> float | None:
    return None if not peak else tokens_per_s * training_flops_per_token(cfg, seq_len) / peak


@dataclass
class MemoryEstimate:
    params_gb: float
    grads_gb: float
    optimizer_gb: float
    activations_gb: float
    available_gb: float | None

    @property
    def total_gb(self) -> float:
        return self.params_gb + self.grads_gb + self.optimizer_gb + self.activations_gb

    def fits(self, headroom: float = 0.9) -> bool:
        return self.available_gb is None or self.total_gb <= headroom * self.available_gb

    def describe(self) -> str:
        avail = f"{self.available_gb:.1f} GiB available" if self.available_gb else "available memory unknown"
        return (
            f"estimated {self.total_gb:.1f} GiB per device (params {self.params_gb:.1f} + grads {self.grads_gb:.1f} "
            f"+ AdamW {self.optimizer_gb:.1f} + activations {self.activations_gb:.1f}), {avail}"
        )


def available_memory_gb(device: torch.device) -> float | None:
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).total_memory / 2**30
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        return None


def estimate_memory(
    cfg: ModelConfig,
    *,
    micro_batch: int,
    seq_len: int,
    world_size: int,
    device: torch.device,
    low_precision: bool,
    activation_checkpointing: bool,
    loss_chunk: int = 8192,
) -> MemoryEstimate:
    """fp32 master weights, grads and AdamW moments (16 bytes/param, sharded over ``world_size`` under FSDP)
    plus saved activations: per layer and token ~ (16 d + 4 kv + 8 F) bytes in bf16 (fp32 residual stream),
    twice that in fp32; with activation checkpointing only each layer's input plus one layer's worth."""
    gib = 2**30
    p = cfg.num_params()
    tokens = micro_batch * seq_len
    kv = cfg.n_kv_head * cfg.head_dim
    per_layer_token = 16 * cfg.d_model + 4 * kv + 8 * cfg.ffn_hidden
    if not low_precision:
        per_layer_token *= 2
    layers = 1 if activation_checkpointing else cfg.n_layer
    act = tokens * (per_layer_token * layers + (4 * cfg.d_model * cfg.n_layer if activation_checkpointing else 0))
    act += min(tokens, loss_chunk) * cfg.vocab_size * 4 * 2 + tokens * cfg.d_model * 8  # one logits chunk + its softmax, head grads
    return MemoryEstimate(
        params_gb=4 * p / world_size / gib,
        grads_gb=4 * p / world_size / gib,
        optimizer_gb=8 * p / world_size / gib,
        activations_gb=act / gib,
        available_gb=available_memory_gb(device),
    )
