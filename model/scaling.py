"""DeepSeek LLM scaling laws: batch size, learning rate and model/data allocation from a compute budget.

Model scale is non-embedding FLOPs per token, M = 72 n_layer d_model^2 + 12 n_layer d_model seq_len
(``model.flops.flops_per_token``), and compute C = M D for D training tokens. The fits (power laws a * C^b) are read from
``configs/scaling_laws.json`` (or ``$LONGTERM_SCALING_LAWS``), which the scaling-study stage may
overwrite; without the file the paper's coefficients are used:

    B_opt = 0.2920 C^0.3271 tokens     lr_opt = 0.3118 C^-0.1250
    M_opt = 0.1715 C^0.5243            D_opt  = 5.8316 C^0.4757

    python -m model.scaling --compute 1e21
    python -m model.scaling --model deepseek-7b --tokens 2e12 --json
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model.flags import from_flags
from model.flops import flops_per_token, model_scale
from model.llama import ModelConfig

DEFAULT_LAWS: dict[str, dict[str, float]] = {
    "batch_tokens": {"coef": 0.2920, "exp": 0.3271},
    "learning_rate": {"coef": 0.3118, "exp": -0.1250},
    "model_flops_per_token": {"coef": 0.1715, "exp": 0.5243},
    "tokens": {"coef": 5.8316, "exp": 0.4757},
}
LAWS_FILE = Path(__file__).resolve().parents[1] / "configs" / "scaling_laws.json"


def load_laws(path: str | os.PathLike | None = None) -> dict[str, dict[str, float]]:
    """Coefficients from ``path``, ``$LONGTERM_SCALING_LAWS``, ``configs/scaling_laws.json``, else the paper's."""
    candidate = Path(path or os.environ.get("LONGTERM_SCALING_LAWS") or LAWS_FILE)
    if not candidate.is_file():
        if path:
            raise ValueError(f"scaling-law file {candidate} does not exist")
        return {k: dict(v) for k, v in DEFAULT_LAWS.items()}
    data = json.loads(candidate.read_text())
    laws = {}
    for key in DEFAULT_LAWS:
        if key not in data or not {"coef", "exp"} <= set(data[key]):
            raise ValueError(f"{candidate}: missing {key!r} with 'coef' and 'exp' (see configs/scaling_laws.json)")
        laws[key] = {"coef": float(data[key]["coef"]), "exp": float(data[key]["exp"])}
    return laws


def _law(laws: dict[str, dict[str, float]], key: str, c: float) -> float:
    return laws[key]["coef"] * c ** laws[key]["exp"]


def shape_near(m_target: float, seq_len: int, aspect: float = 128.0) -> dict[str, Any]:
    """A (n_layer, d_model, n_head) with M close to ``m_target`` and d_model / n_layer near ``aspect``
    (DeepSeek 7B: 137, 67B: 86). d_model is a multiple of 128 (head dim 128; 64 below d_model 1024)."""
    best: tuple[float, dict[str, Any]] | None = None
    for n_layer in range(1, 161):
        # solve 72 L d^2 + 12 L seq d = m for d, then round to the head-dim grid
        a, b = 72 * n_layer, 12 * n_layer * seq_len
        d_exact = (-b + math.sqrt(b * b + 4 * a * m_target)) / (2 * a)
        step = 64 if d_exact < 1024 else 128
        for d in {max(step, step * math.floor(d_exact / step)), step * math.ceil(d_exact / step)}:
            m = flops_per_token(n_layer, d, seq_len)
            score = abs(math.log(m / m_target)) + 0.1 * abs(math.log(d / n_layer / aspect))
            if best is None or score < best[0]:
                best = (score, {"n_layer": n_layer, "d_model": d, "n_head": d // step, "head_dim": step, "model_scale": m})
    assert best is not None
    return best[1]


@dataclass
class Plan:
    compute: float  # C, FLOPs
    model_scale: float  # M, non-embedding FLOPs per token
    tokens: float  # D
    seq_len: int
    batch_tokens: float  # B_opt
    batch_sequences: int  # B_opt / seq_len, rounded
    learning_rate: float  # lr_opt
    steps: int  # D / (batch_sequences * seq_len)
    optimal_model_scale: float  # M_opt for this C
    optimal_tokens: float  # D_opt for this C
    suggested_shape: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def summary(self) -> str:
        s = self.suggested_shape
        return "\n".join([
            f"compute C           {self.compute:.3e} FLOPs",
            f"model scale M       {self.model_scale:.3e} FLOPs/token   (compute-optimal M_opt {self.optimal_model_scale:.3e})",
            f"tokens D            {self.tokens:.3e}               (compute-optimal D_opt {self.optimal_tokens:.3e})",
            f"batch size          {self.batch_tokens:.3e} tokens = {self.batch_sequences:,} sequences of {self.seq_len}",
            f"learning rate       {self.learning_rate:.3e}",
            f"steps               {self.steps:,}",
            f"shape near M_opt    n_layer {s['n_layer']}, d_model {s['d_model']}, n_head {s['n_head']} (M {s['model_scale']:.3e})",
        ])


def plan(
    *,
    compute: float | None = None,
    model: ModelConfig | str | None = None,
    tokens: float | None = None,
    seq_len: int | None = None,
    laws: dict[str, dict[str, float]] | None = None,
) -> Plan:
    """Either ``compute`` alone (M and D from the allocation law) or ``model`` + ``tokens`` (C = M D)."""
    laws = laws or load_laws()
    if isinstance(model, str):
        model = ModelConfig.from_preset(model)
    if model is not None:
        if tokens is None or tokens <= 0:
            raise ValueError("a model needs a positive token budget (--tokens D)")
        seq_len = seq_len or model.max_seq_len
        m = model_scale(model, seq_len)
        c = m * tokens
    elif compute is not None and compute > 0:
        seq_len = seq_len or 4096
        c = compute
        m = _law(laws, "model_flops_per_token", c)
        tokens = c / m
    else:
        raise ValueError("give --compute C, or --model PRESET with --tokens D")
    b_tokens = _law(laws, "batch_tokens", c)
    b_seqs = max(1, round(b_tokens / seq_len))
    return Plan(
        compute=c,
        model_scale=m,
        tokens=float(tokens),
        seq_len=seq_len,
        batch_tokens=b_tokens,
        batch_sequences=b_seqs,
        learning_rate=_law(laws, "learning_rate", c),
        steps=max(1, math.ceil(tokens / (b_seqs * seq_len))),
        optimal_model_scale=_law(laws, "model_flops_per_token", c),
        optimal_tokens=_law(laws, "tokens", c),
        suggested_shape=shape_near(_law(laws, "model_flops_per_token", c), seq_len),
    )


@dataclass
class PlanArgs:
    compute: float | None = field(default=None, metadata={"help": "compute budget C in FLOPs"})
    model: str | None = field(default=None, metadata={"help": "model preset (with --tokens)"})
    tokens: float | None = field(default=None, metadata={"help": "training tokens D (with --model)"})
    seq_len: int | None = field(default=None, metadata={"help": "sequence length (default: the preset's, or 4096)"})
    laws: str | None = field(default=None, metadata={"help": "scaling-law coefficients JSON (default configs/scaling_laws.json)"})
    json: bool = field(default=False, metadata={"help": "emit JSON"})


def main(argv: list[str] | None = None) -> None:
    a = from_flags(PlanArgs, argv, prog="python -m model.scaling", description=__doc__)
    try:
        result = plan(compute=a.compute, model=a.model, tokens=a.tokens, seq_len=a.seq_len, laws=load_laws(a.laws))
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    print(json.dumps(result.to_dict(), indent=2) if a.json else result.summary())


if __name__ == "__main__":
    main()
