"""The model's math: presets, HF equivalence, packed-sequence masking, KV-cache generation."""

from __future__ import annotations

import pytest
import torch

from model.llama import PRESETS, ModelConfig, Transformer, segment_positions


def tiny(**kw) -> Transformer:
    torch.manual_seed(0)
    return Transformer(ModelConfig.from_preset("tiny", **kw)).eval()


def test_presets_have_the_papers_shapes() -> None:
    c7 = ModelConfig.from_preset("deepseek-7b")
    assert (c7.n_layer, c7.d_model, c7.n_head, c7.max_seq_len, c7.vocab_size, c7.ffn_hidden) == (30, 4096, 32, 4096, 102400, 11008)
    c67 = ModelConfig.from_preset("deepseek-67b")
    assert (c67.n_layer, c67.d_model, c67.n_head, c67.n_kv_head, c67.ffn_hidden) == (95, 8192, 64, 8, 22016)
    c1 = ModelConfig.from_preset("1b")
    assert (c1.n_layer, c1.d_model, c1.n_head, c1.ffn_hidden, c1.vocab_size, c1.max_seq_len) == (16, 2048, 16, 5504, 102400, 4096)
    # 8/3 rule rounded to 256 gives DeepSeek's own FFN sizes
    assert ModelConfig(d_model=4096, n_head=32, n_kv_head=32).ffn_hidden == 11008
    assert ModelConfig(d_model=8192, n_head=64, n_kv_head=8).ffn_hidden == 22016
    assert 6.5e9 < c7.num_params() < 7.2e9 and 6.5e10 < c67.num_params() < 6.9e10
    assert set(PRESETS) >= {"tiny", "demo", "125m", "1b", "deepseek-7b", "deepseek-67b"}


def test_bad_configs_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown model preset"):
        ModelConfig.from_preset("gpt5")
    with pytest.raises(ValueError, match="n_kv_head"):
        ModelConfig.from_preset("tiny", n_kv_head=3)
    with pytest.raises(ValueError, match="unknown ModelConfig fields"):
        ModelConfig.from_preset("tiny", n_layers=3)


def test_init_and_no_biases() -> None:
    m = tiny(d_model=128, n_head=4, n_kv_head=2)
    assert all(not n.endswith("bias") for n, _ in m.named_parameters())
    assert m.output.weight.data_ptr() != m.tok_embeddings.weight.data_ptr()
    assert abs(m.layers[0].feed_forward.w13.weight.std().item() - 0.006) < 0.0005
    assert sum(p.numel() for p in m.parameters()) == m.cfg.num_params()


def test_matches_hf_llama_logits() -> None:
    transformers = pytest.importorskip("transformers")
    from model.hf_compat import from_hf_state_dict, hf_llama_config, to_hf_state_dict

    m = tiny(vocab_size=300)
    hf_cfg = transformers.LlamaConfig(**hf_llama_config(m.cfg))
    hf_cfg._attn_implementation = "eager"
    hf = transformers.LlamaForCausalLM(hf_cfg).eval()
    hf.load_state_dict(to_hf_state_dict(m.state_dict(), m.cfg))
    x = torch.randint(0, 300, (2, 40))
    with torch.no_grad():
        ours, theirs = m(x), hf(input_ids=x).logits
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-4)
    back = from_hf_state_dict(hf.state_dict(), m.cfg)
    assert all(torch.equal(back[k], v) for k, v in m.state_dict().items())


def test_segment_positions() -> None:
    seg = torch.tensor([[7, 7, 7, 9, 9, 4], [1, 1, 1, 1, 1, 1]])
    assert segment_positions(seg).tolist() == [[0, 1, 2, 0, 1, 0], [0, 1, 2, 3, 4, 5]]


def test_packed_segments_do_not_attend_across() -> None:
    """Packing two documents with segment_ids gives the same logits as running each alone."""
    m = tiny()
    a, b = torch.randint(0, 512, (1, 9)), torch.randint(0, 512, (1, 7))
    packed = torch.cat([a, b], dim=1)
    seg = torch.tensor([[0] * 9 + [1] * 7])
    with torch.no_grad():
        out = m(packed, segment_ids=seg)
        alone_a, alone_b = m(a), m(b)
        unmasked = m(packed)
    torch.testing.assert_close(out[:, :9], alone_a, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(out[:, 9:], alone_b, atol=1e-5, rtol=1e-4)
    assert not torch.allclose(unmasked[:, 9:], alone_b, atol=1e-3)


def test_kv_cache_generation_matches_full_forward() -> None:
    m = tiny()
    x = torch.randint(0, 512, (2, 12))
    with torch.no_grad():
        full = m(x)
        cache = m.new_kv_cache(batch_size=2, max_len=32)
        prefill = m(x[:, :5], kv_cache=cache, start_pos=0)
        chunk = m(x[:, 5:8], kv_cache=cache, start_pos=5)  # multi-token step with a cache
        steps = [m(x[:, t : t + 1], kv_cache=cache, start_pos=t) for t in range(8, 12)]
    got = torch.cat([prefill, chunk, *steps], dim=1)
    torch.testing.assert_close(got, full, atol=1e-5, rtol=1e-4)


def test_left_padded_batch_generation_with_segment_ids() -> None:
    """Left padding (segment 0) plus explicit positions: the padded row matches the unpadded run."""
    m = tiny()
    prompt = torch.randint(1, 512, (1, 6))
    padded = torch.cat([torch.zeros(1, 3, dtype=torch.long), prompt], dim=1)
    seg = torch.tensor([[0, 0, 0, 1, 1, 1, 1, 1, 1]])
    pos = torch.tensor([[0, 0, 0, 0, 1, 2, 3, 4, 5]])
    nxt = torch.randint(1, 512, (1, 1))
    with torch.no_grad():
        ref = m(torch.cat([prompt, nxt], dim=1))
        cache = m.new_kv_cache(1, 16)
        p = m(padded, segment_ids=seg, positions=pos, kv_cache=cache)
        s = m(nxt, segment_ids=torch.ones(1, 1, dtype=torch.long), positions=torch.tensor([[6]]), kv_cache=cache, start_pos=9)
    torch.testing.assert_close(p[:, 3:], ref[:, :6], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(s, ref[:, 6:], atol=1e-5, rtol=1e-4)


def test_activation_checkpointing_gives_same_gradients() -> None:
    x = torch.randint(0, 512, (2, 16))
    grads = []
    for ac in (False, True):
        m = tiny().train()
        m.activation_checkpointing = ac
        m(x).float().logsumexp(-1).mean().backward()
        grads.append(m.layers[0].attention.wqkv.weight.grad.clone())
    torch.testing.assert_close(grads[0], grads[1])


def test_forward_with_targets_is_the_cross_entropy_of_the_logits() -> None:
    m = tiny()
    x, y = torch.randint(0, 512, (2, 16)), torch.randint(0, 512, (2, 16))
    y[0, :3] = -100
    m.loss_chunk_size = 5
    with torch.no_grad():
        ref = torch.nn.functional.cross_entropy(m(x).flatten(0, 1), y.flatten(), ignore_index=-100)
        torch.testing.assert_close(m(x, targets=y), ref)
