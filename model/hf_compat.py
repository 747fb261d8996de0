"""Mapping between our ``Transformer`` and ``transformers.LlamaForCausalLM`` (same math, different keys).

Our rotary embedding uses HF's "rotate half" layout, so the mapping is a renaming plus a split of the
fused ``wqkv`` / ``w13`` projections; no permutation of q/k rows is needed.

    from model.hf_compat import hf_llama_config, to_hf_state_dict
    hf = LlamaForCausalLM(LlamaConfig(**hf_llama_config(cfg)))
    hf.load_state_dict(to_hf_state_dict(model.state_dict(), cfg))
"""

from __future__ import annotations

from typing import Any

import torch

from model.llama import ModelConfig


def hf_llama_config(cfg: ModelConfig) -> dict[str, Any]:
    """Keyword arguments for ``transformers.LlamaConfig`` describing the same network."""
    return dict(
        vocab_size=cfg.vocab_size,
        hidden_size=cfg.d_model,
        intermediate_size=cfg.ffn_hidden,
        num_hidden_layers=cfg.n_layer,
        num_attention_heads=cfg.n_head,
        num_key_value_heads=cfg.n_kv_head,
        max_position_embeddings=cfg.max_seq_len,
        rms_norm_eps=cfg.norm_eps,
        rope_theta=cfg.rope_theta,
        initializer_range=cfg.init_std,
        tie_word_embeddings=False,
        attention_bias=False,
        mlp_bias=False,
        hidden_act="silu",
    )


def to_hf_state_dict(sd: dict[str, torch.Tensor], cfg: ModelConfig) -> dict[str, torch.Tensor]:
    """Our state dict -> LlamaForCausalLM keys (``model.layers.{i}.self_attn.q_proj.weight`` ...)."""
    H, K, E, Fh = cfg.n_head, cfg.n_kv_head, cfg.head_dim, cfg.ffn_hidden
    out = {"model.embed_tokens.weight": sd["tok_embeddings.weight"], "model.norm.weight": sd["norm.weight"], "lm_head.weight": sd["output.weight"]}
    for i in range(cfg.n_layer):
        p, o = f"layers.{i}.", f"model.layers.{i}."
        q, k, v = sd[p + "attention.wqkv.weight"].split([H * E, K * E, K * E], dim=0)
        gate, up = sd[p + "feed_forward.w13.weight"].split([Fh, Fh], dim=0)
        out.update({
            o + "self_attn.q_proj.weight": q, o + "self_attn.k_proj.weight": k, o + "self_attn.v_proj.weight": v,
            o + "self_attn.o_proj.weight": sd[p + "attention.wo.weight"],
            o + "mlp.gate_proj.weight": gate, o + "mlp.up_proj.weight": up, o + "mlp.down_proj.weight": sd[p + "feed_forward.w2.weight"],
            o + "input_layernorm.weight": sd[p + "attention_norm.weight"],
            o + "post_attention_layernorm.weight": sd[p + "ffn_norm.weight"],
        })
    return {k: v.contiguous() for k, v in out.items()}


def from_hf_state_dict(hf: dict[str, torch.Tensor], cfg: ModelConfig) -> dict[str, torch.Tensor]:
    """LlamaForCausalLM state dict -> ours (the inverse of ``to_hf_state_dict``)."""
    out = {"tok_embeddings.weight": hf["model.embed_tokens.weight"], "norm.weight": hf["model.norm.weight"], "output.weight": hf["lm_head.weight"]}
    for i in range(cfg.n_layer):
        p, o = f"layers.{i}.", f"model.layers.{i}."
        a = o + "self_attn."
        out[p + "attention.wqkv.weight"] = torch.cat([hf[a + "q_proj.weight"], hf[a + "k_proj.weight"], hf[a + "v_proj.weight"]])
        out[p + "attention.wo.weight"] = hf[a + "o_proj.weight"]
        out[p + "feed_forward.w13.weight"] = torch.cat([hf[o + "mlp.gate_proj.weight"], hf[o + "mlp.up_proj.weight"]])
        out[p + "feed_forward.w2.weight"] = hf[o + "mlp.down_proj.weight"]
        out[p + "attention_norm.weight"] = hf[o + "input_layernorm.weight"]
        out[p + "ffn_norm.weight"] = hf[o + "post_attention_layernorm.weight"]
    return out
