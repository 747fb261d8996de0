"""The pieces of a training step shared by pretraining, the benchmark (and SFT): device and process-group
setup, model construction (FSDP2 ``fully_shard`` when the world is larger than one, ``torch.compile`` on
GPU, optional activation checkpointing), AdamW, and one optimizer step with gradient accumulation,
clipping and a NaN/inf guard.

Precision: the fp32 master weights stay fp32; with bf16 (the default on GPU, ``--dtype bf16`` elsewhere)
matmuls run in bf16 under ``torch.autocast`` (single device) or through FSDP2's
``MixedPrecisionPolicy(param_dtype=bf16, reduce_dtype=fp32)`` (several). ``precision()`` is the one
place that picks the context; every forward of a run (step, eval, DPO reference) uses it.
"""

from __future__ import annotations

import contextlib
import math
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from model.llama import ModelConfig, Transformer


@dataclass
class Runtime:
    device: torch.device
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup_runtime(device: str = "auto") -> Runtime:
    """Start the process group when launched by torchrun with WORLD_SIZE > 1 and pick this rank's device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda":
        dev = torch.device("cuda", local_rank if world > 1 else (dev.index or 0))
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo", device_id=dev if dev.type == "cuda" else None)
    return Runtime(device=dev, rank=rank, local_rank=local_rank, world_size=world)


def use_bf16(rt: Runtime, dtype: str) -> bool:
    if dtype == "auto":
        return rt.device.type == "cuda" and torch.cuda.is_bf16_supported()
    if dtype not in ("bf16", "fp32"):
        raise ValueError(f"dtype must be auto, bf16 or fp32, not {dtype!r}")
    return dtype == "bf16"


def build_model(
    cfg: ModelConfig,
    rt: Runtime,
    *,
    bf16: bool,
    compile_model: bool,
    activation_checkpointing: bool = False,
    loss_chunk_size: int = 8192,
    seed: int = 0,
    compile_mode: str | None = None,
) -> Transformer:
    """fp32 parameters on ``rt.device``; sharded with FSDP2 (per block, then the root) when distributed."""
    torch.manual_seed(seed)
    if rt.distributed:
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

        with torch.device("meta"):
            model = Transformer(cfg)
        model.activation_checkpointing = activation_checkpointing
        mp = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32) if bf16 else MixedPrecisionPolicy()
        for layer in model.layers:
            if compile_model:
                layer.compile(mode=compile_mode)
            fully_shard(layer, mp_policy=mp)
        fully_shard(model, mp_policy=mp)
        model.to_empty(device=rt.device)
        torch.manual_seed(seed)
        model.reset_parameters()
    else:
        with torch.device(rt.device):
            model = Transformer(cfg)
        model.activation_checkpointing = activation_checkpointing
        if compile_model:
            model.compile(mode=compile_mode)  # the whole model, loss included: one graph per step
    model.loss_chunk_size = loss_chunk_size
    return model


def build_optimizer(model: torch.nn.Module, *, lr: float, weight_decay: float, betas: tuple[float, float], eps: float = 1e-8) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices (weights, embeddings) and none on norms; fused kernels on CUDA."""
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    fused = all(p.is_cuda for p in decay + no_decay) or None
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps, fused=fused)


@dataclass
class StepResult:
    loss: float  # mean over micro-batches (and ranks)
    grad_norm: float
    skipped: bool  # True when the loss or gradient was not finite and the update was dropped


def train_step(
    model: Transformer,
    optimizer: torch.optim.Optimizer,
    batches: list[tuple[torch.Tensor, torch.Tensor]],
    rt: Runtime,
    *,
    bf16: bool,
    grad_clip: float,
) -> StepResult:
    """Accumulate gradients over ``batches`` (micro-batches), clip, and step unless loss/grad is not finite."""
    total = torch.zeros((), device=rt.device)
    for i, (x, y) in enumerate(batches):
        if rt.distributed:
            model.set_requires_gradient_sync(i == len(batches) - 1)  # reduce-scatter once per step
        with precision(rt, bf16):
            loss = model(x.to(rt.device, non_blocking=True), targets=y.to(rt.device, non_blocking=True))
        (loss / len(batches)).backward()
        total += loss.detach()
    total /= len(batches)
    if rt.distributed:
        dist.all_reduce(total, op=dist.ReduceOp.AVG)
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    if hasattr(grad_norm, "full_tensor"):
        grad_norm = grad_norm.full_tensor()
    loss_v, norm_v = torch.stack([total.float(), grad_norm.float()]).tolist()  # one host sync per step
    ok = math.isfinite(loss_v) and math.isfinite(norm_v)
    if ok:
        optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return StepResult(loss=loss_v, grad_norm=norm_v, skipped=not ok)


@torch.no_grad()
def evaluate(model: Transformer, batches: Any, rt: Runtime, *, bf16: bool) -> float:
    """Mean loss per row over an iterable of (x, y) batches, over the rows of every rank.

    Every rank must see the same number of batches (``TokenLoader(infinite=False)`` gives that); a
    rank whose share of the last batch is empty still runs a forward, on one dummy row that counts
    for nothing, because under FSDP every forward is a collective (all-gathers) that all ranks enter.
    """
    model.eval()
    total = torch.zeros(2, device=rt.device)  # sum of (batch mean loss x rows), rows
    for x, y in batches:
        rows = x.shape[0]
        if rows == 0:
            if not rt.distributed:
                continue
            x = y = torch.zeros((1, x.shape[1]), dtype=torch.long)
        with precision(rt, bf16):
            loss = model(x.to(rt.device), targets=y.to(rt.device)).float()
        total += torch.stack([loss * rows, torch.tensor(float(rows), device=rt.device)])
    release(model)
    model.train()
    if rt.distributed:
        dist.all_reduce(total)
    return (total[0] / total[1].clamp(min=1)).item()


def precision(rt: Runtime, bf16: bool) -> contextlib.AbstractContextManager:
    """The context of every forward of a run (training steps, evaluation, DPO's reference log-probs), so
    they all compute in the same precision: bf16 autocast on one device when ``bf16``; under FSDP
    nothing, because its ``MixedPrecisionPolicy`` (``build_model``) casts instead."""
    if bf16 and not rt.distributed:
        return torch.autocast(rt.device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def release(model: torch.nn.Module) -> None:
    """After forwards without backward (evaluation, reference log-probs): FSDP2 keeps the root module's
    parameters unsharded after a forward (it expects a backward); reshard them, or the optimizer and the
    checkpointer would see other parameter objects and the full-size weights stay in memory."""
    if hasattr(model, "reshard"):
        model.reshard()


__all__ = ["Runtime", "StepResult", "build_model", "build_optimizer", "evaluate", "precision", "release", "setup_runtime", "train_step", "use_bf16"]
