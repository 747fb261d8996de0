"""DPO: loss and gradients against a direct two-model computation, data layouts and counted skips, training run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from model.chat import Message
from model.dpo import DPOConfig, dpo_loss, main, reference_logps, sequence_logps
from model.dpo_data import PreferencePair, collate_pairs, load_preference_pairs, pair_from_record, tokenize_pair
from model.tokenizer import Tokenizer
from tests.model.align_fixtures import tiny_model, tiny_tok, tiny_tok_dir, write_tiny_checkpoint  # noqa: F401

PAIRS = [
    {"prompt": "What colour is the sky?", "chosen": "The sky is blue.", "rejected": "I will not tell you."},
    {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "2+2?"}],
     "chosen": "4", "rejected": "5"},
    {"prompt": "你好吗？", "chosen": [{"role": "assistant", "content": "我很好，谢谢。"}], "rejected": [{"role": "assistant", "content": "不知道"}],
     "system": "Be polite."},
    {"chosen": "\n\nHuman: hello there\n\nAssistant: Hi! How can I help?\n\nHuman: tell me a joke\n\nAssistant: Why did the chicken cross the road?",
     "rejected": "\n\nHuman: hello there\n\nAssistant: Hi! How can I help?\n\nHuman: tell me a joke\n\nAssistant: No."},
]


def direct_response_logp(model: torch.nn.Module, prompt: list[int], response: list[int]) -> torch.Tensor:
    """log p(response | prompt) token by token from the full-sequence logits, no batching or padding."""
    ids = torch.tensor([prompt + response])
    logp = F.log_softmax(model(ids[:, :-1]).float(), dim=-1)[0]
    return sum(logp[len(prompt) - 1 + k, t] for k, t in enumerate(response))


def test_loss_and_gradients_match_a_direct_two_model_computation(tiny_tok: Tokenizer) -> None:
    policy = tiny_model(tiny_tok.padded_vocab_size, seed=1).train()
    reference = tiny_model(tiny_tok.padded_vocab_size, seed=2)
    pairs = [tokenize_pair(tiny_tok, pair_from_record(r), 96)[0] for r in PAIRS]
    beta, eps = 0.3, 0.1

    # ours: reference log-probs computed once and stored, then the batched policy pass
    ref = reference_logps(reference, pairs, tiny_tok.pad_id, batch_size=3, device=torch.device("cpu"))
    inputs, targets = collate_pairs(pairs, tiny_tok.pad_id)
    lp = sequence_logps(policy, inputs, targets)
    n = len(pairs)
    losses, r_c, r_r = dpo_loss(lp[:n], lp[n:], ref[:, 0], ref[:, 1], beta, eps)
    losses.mean().backward()
    ours = {k: p.grad.clone() for k, p in policy.named_parameters()}
    policy.zero_grad()

    # direct: both models side by side, one pair at a time
    total = 0.0
    for p in pairs:
        with torch.no_grad():
            rc, rr = direct_response_logp(reference, p.prompt, p.chosen), direct_response_logp(reference, p.prompt, p.rejected)
        pc, pr = direct_response_logp(policy, p.prompt, p.chosen), direct_response_logp(policy, p.prompt, p.rejected)
        z = beta * ((pc - rc) - (pr - rr))
        total = total + (-(1 - eps) * F.logsigmoid(z) - eps * F.logsigmoid(-z))
    (total / n).backward()
    torch.testing.assert_close(losses.mean(), (total / n).detach(), rtol=1e-5, atol=1e-6)
    for k, p in policy.named_parameters():
        torch.testing.assert_close(ours[k], p.grad, rtol=1e-4, atol=1e-6, msg=lambda m, k=k: f"{k}: {m}")
    # rewards are beta * log-ratio, so margin > 0 exactly when the loss is below log 2 (eps = 0)
    l0, c0, r0 = dpo_loss(lp[:n].detach(), lp[n:].detach(), ref[:, 0], ref[:, 1], beta)
    assert torch.equal(l0 < torch.log(torch.tensor(2.0)), c0 > r0)


def test_layouts_parse_to_the_same_structure() -> None:
    p = [pair_from_record(r) for r in PAIRS]
    assert p[0].prompt == [Message("user", "What colour is the sky?")] and p[0].chosen == "The sky is blue."
    assert [m.role for m in p[1].prompt] == ["user", "assistant", "user"] and p[1].rejected == "5"
    assert p[2].prompt[0] == Message("system", "Be polite.") and p[2].chosen == "我很好，谢谢。"
    assert [m.content for m in p[3].prompt] == ["hello there", "Hi! How can I help?", "tell me a joke"]
    assert p[3].chosen == "Why did the chicken cross the road?" and p[3].rejected == "No."


def test_bad_pairs_are_counted_skips(tiny_tok: Tokenizer, tmp_path: Path) -> None:
    rows = PAIRS + [
        {"prompt": "q", "chosen": "", "rejected": "x"},
        {"prompt": "q", "chosen": "a", "rejected": "   "},
        {"prompt": "q", "chosen": "same", "rejected": "same"},
        {"prompt": "q", "chosen": "a"},
        {"chosen": "\n\nHuman: a\n\nAssistant: b", "rejected": "\n\nHuman: DIFFERENT\n\nAssistant: c"},
        "not json",
    ]
    path = tmp_path / "p.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows))
    pairs, stats = load_preference_pairs(path, tiny_tok, max_len=64)
    assert stats.kept == len(pairs) == 4 and stats.records == 10
    assert stats.skipped == {"bad_json": 1, "bad_record": 1, "empty_response": 2, "hh_prefix_mismatch": 1, "identical_responses": 1}


def test_truncation_rule(tiny_tok: Tokenizer) -> None:
    long = PreferencePair([Message("user", "context " * 80 + "final question?")], "yes " * 60, "no")
    tp, cut = tokenize_pair(tiny_tok, long, max_len=64)
    assert cut and len(tp.chosen) == 32 and len(tp.prompt) + len(tp.chosen) <= 64
    assert tp.prompt[-1] == tiny_tok.special_ids["<|assistant|>"]  # the end of the prompt is kept


def test_real_hh_rlhf_file(shared_data: Path, tiny_tok: Tokenizer) -> None:
    pairs, stats = load_preference_pairs(shared_data / "pref_hh_rlhf" / "harmless-base_test.jsonl.gz", tiny_tok, max_len=512)
    assert stats.records == 2312 and stats.kept + sum(stats.skipped.values()) == stats.records
    assert stats.kept > 2000 and set(stats.skipped) <= {"bad_conversation", "hh_prefix_mismatch", "empty_response", "identical_responses"}


def test_dpo_training_run_raises_reward_accuracy(tiny_tok: Tokenizer, tiny_tok_dir: str, tmp_path: Path) -> None:
    init = write_tiny_checkpoint(tmp_path / "sft", tiny_model(tiny_tok.padded_vocab_size), tiny_tok_dir)
    rows = [{"prompt": f"Is {c} a colour?", "chosen": "Yes, it is a colour.", "rejected": "No idea, sorry."}
            for c in ["red", "blue", "green", "black", "white", "pink", "grey", "gold"]]
    data = tmp_path / "prefs.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows))
    out = tmp_path / "dpo"
    cfg = DPOConfig(init=init, data=str(data), tokenizer=tiny_tok_dir, out=str(out), beta=0.5, batch_size=4, max_steps=8,
                    lr=2e-3, warmup_steps=1, eval_fraction=0.25, eval_every=4, seq_len=63)
    summary = main(cfg)
    records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r["kind"] == "train"]
    assert len(train) == 8 and set(train[0]) >= {"loss", "reward_accuracy", "reward_margin", "logps_chosen", "logps_rejected", "tokens_per_s"}
    assert all(r["tokens_per_s"] > 0 for r in train) and json.loads((out / "loop.json").read_text())["total_steps"] == 8
    assert abs(train[0]["loss"] - 0.6931) < 1e-3  # policy == reference at step 1: margin 0, loss log 2
    assert train[-1]["loss"] < train[0]["loss"] and train[-1]["reward_margin"] > 0
    assert summary["val_reward_accuracy"] == 1.0
    saved = torch.load(out / "reference_logps.pt", weights_only=True)
    assert saved["logps"].shape == (8, 2)
    # a rerun with more steps resumes and reuses the stored reference log-probs
    again = main(DPOConfig(**{**cfg.__dict__, "max_steps": 9}))
    assert again["start_step"] == 8 and torch.equal(torch.load(out / "reference_logps.pt", weights_only=True)["logps"], saved["logps"])


def test_reference_is_computed_under_the_policy_precision(tiny_tok: Tokenizer, tiny_tok_dir: str, tmp_path: Path) -> None:
    """--dtype bf16: policy and reference forwards both run under bf16 autocast (here on CPU), so at step 0
    the implicit rewards are 0 and the loss is log 2 to 1e-4 (computed in fp32). A reference in fp32
    against a bf16 policy is off by ~1e-3 on this data; before the fix bf16 autocast was CUDA-only and the
    reference never used it, so the stored reference was the fp32 one."""
    import math

    model = tiny_model(tiny_tok.padded_vocab_size)
    init = write_tiny_checkpoint(tmp_path / "sft", model, tiny_tok_dir)
    rows = [{"prompt": f"Is {c} a colour? " * (1 + i % 3), "chosen": "Yes, it is a colour." * (1 + i % 2), "rejected": "No idea, sorry."}
            for i, c in enumerate(["red", "blue", "green", "black", "white", "pink", "grey", "gold"])]
    data = tmp_path / "prefs.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows))
    out = tmp_path / "dpo"
    main(DPOConfig(init=init, data=str(data), tokenizer=tiny_tok_dir, out=str(out), beta=0.5, batch_size=4, max_steps=1, lr=2e-3,
                   warmup_steps=1, eval_fraction=0.25, eval_every=0, seq_len=63, device="cpu", dtype="bf16"))
    first = json.loads((out / "metrics.jsonl").read_text().splitlines()[0])
    assert abs(first["loss"] - math.log(2)) < 1e-4 and abs(first["reward_margin"]) < 1e-4
    pairs, _ = load_preference_pairs(data, tiny_tok, 64)
    saved = torch.load(out / "reference_logps.pt", weights_only=True)["logps"]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        bf16 = reference_logps(model, pairs, tiny_tok.pad_id, 8, torch.device("cpu"))
    fp32 = reference_logps(model, pairs, tiny_tok.pad_id, 8, torch.device("cpu"))
    assert torch.equal(saved, bf16) and not torch.allclose(saved, fp32, atol=1e-3)


def test_seq_len_is_the_model_input_length_and_may_not_exceed_the_model(tiny_tok: Tokenizer, tiny_tok_dir: str, tmp_path: Path) -> None:
    """DPO's length is called seq_len like everywhere else (it was max_len, counted in prompt + response
    tokens): rows of seq_len inputs, so a pair holds at most seq_len + 1 tokens; beyond the model it is refused."""
    init = write_tiny_checkpoint(tmp_path / "sft", tiny_model(tiny_tok.padded_vocab_size), tiny_tok_dir)
    data = tmp_path / "prefs.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in PAIRS))
    with pytest.raises(ValueError, match="seq_len 129 exceeds the model's max_seq_len 128"):
        main(DPOConfig(init=init, data=str(data), tokenizer=tiny_tok_dir, out=str(tmp_path / "o"), seq_len=129, max_steps=1))
