"""Benchmark of the alignment/eval code paths on CPU (or GPU with --device cuda).

    python benchmarks/align_bench.py                      # uses ../shared/data; prints a markdown table
    python benchmarks/align_bench.py --preset demo --threads 2 --json out.json

Measures, with a small SentencePiece tokenizer trained on the fly and a randomly initialised model:
- packing efficiency (share of non-padding positions) of the real Self-Instruct SFT data;
- SFT training throughput (loss tokens/s and all tokens/s) on packed rows;
- DPO reference log-prob throughput (pairs/s) on the real HH-RLHF file;
- multiple-choice scoring throughput (MMLU requests/s) at batch sizes 1 and 8;
- greedy generation tokens/s: KV cache at batch 1 and 8, and without a cache (full recompute);
- sandbox latency per program (HumanEval canonical solutions), and the layers active.
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from model.dpo import reference_logps  # noqa: E402
from model.dpo_data import load_preference_pairs  # noqa: E402
from model.evals.common import PromptStyle, evaluate_mc  # noqa: E402
from model.evals.humaneval import load_humaneval, run_tests  # noqa: E402
from model.evals.mmlu import load_mmlu  # noqa: E402
from model.generate import greedy_generate  # noqa: E402
from model.llama import ModelConfig, Transformer  # noqa: E402
from model.sandbox import SandboxConfig  # noqa: E402
from model.sft import sft_step  # noqa: E402
from model.sft_data import PackedSFTLoader, load_sft_examples  # noqa: E402
from model.tokenizer import Tokenizer  # noqa: E402
from model.trainer import Runtime, build_optimizer  # noqa: E402
from tasks.ops.tokenizer_training import TokenizerTrainConfig, tokenizer_meta, train_sentencepiece_bpe, training_chunks  # noqa: E402


def train_tokenizer(data: Path, vocab: int) -> Tokenizer:
    texts = []
    for line in (data / "sft_self_instruct_human" / "user_oriented_instructions.jsonl").read_text().splitlines():
        rec = json.loads(line)
        texts.append(rec["instruction"] + "\n" + "\n".join(i["input"] + "\n" + i["output"] for i in rec["instances"]))
    texts += [json.loads(x)["question"] for x in (data / "eval_gsm8k" / "test.jsonl").read_text().splitlines()[:500]]
    texts += [json.loads(x)["chosen"] for x in gzip.open(data / "pref_hh_rlhf" / "harmless-base_test.jsonl.gz", "rt").readlines()[:300]]
    texts.append("今天天气很好，我们一起去公园散步。大语言模型的训练需要大量高质量的数据。" * 20)
    cfg = TokenizerTrainConfig(vocab_size=vocab, character_coverage=0.995, num_threads=1)
    proto = train_sentencepiece_bpe(training_chunks(texts), cfg)
    return Tokenizer(proto, tokenizer_meta(proto, cfg, {}))


def timed(fn, repeat: int = 1) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", default="")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    data = Path(a.data)
    dev = torch.device(a.device)
    tok = train_tokenizer(data, 2000)
    torch.manual_seed(0)
    cfg = ModelConfig.from_preset(a.preset, vocab_size=tok.padded_vocab_size, max_seq_len=max(a.seq_len, 512))
    model = Transformer(cfg).to(dev)
    res: dict[str, object] = {"machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}",
                              "preset": a.preset, "params_M": round(cfg.num_params() / 1e6, 2), "vocab": cfg.vocab_size}

    # packing + SFT throughput
    examples, stats = load_sft_examples(data / "sft_self_instruct_human" / "user_oriented_instructions.jsonl", tok, a.seq_len + 1)
    loader = PackedSFTLoader(examples, a.seq_len, batch_size=8, pad_id=tok.pad_id)
    real = sum(len(e.ids) - 1 for e in examples)
    res["sft_conversations"] = stats.kept
    res["sft_truncated"] = stats.truncated
    res["packing_efficiency"] = round(real / (len(loader.rows) * a.seq_len), 3)
    res["packed_rows_vs_unpacked"] = f"{len(loader.rows)} vs {len(examples)}"
    rt = Runtime(device=dev)
    opt = build_optimizer(model, lr=1e-4, weight_decay=0.0, betas=(0.9, 0.95))
    model.train()
    sft_step(model, opt, [loader.next_batch()], rt, bf16=False, grad_clip=1.0)  # warm-up
    steps, loss_tok = 5, 0
    t = time.perf_counter()
    for _ in range(steps):
        b = loader.next_batch()
        loss_tok += b.num_loss_tokens
        sft_step(model, opt, [b], rt, bf16=False, grad_clip=1.0)
    dt = time.perf_counter() - t
    res["sft_tokens_per_s"] = round(steps * 8 * a.seq_len / dt)
    res["sft_loss_tokens_per_s"] = round(loss_tok / dt)
    model.eval()

    # DPO reference log-probs on real HH-RLHF pairs
    pairs, pstats = load_preference_pairs(data / "pref_hh_rlhf" / "harmless-base_test.jsonl.gz", tok, a.seq_len)
    sub = pairs[:64]
    dt, _ = timed(lambda: reference_logps(model, sub, tok.pad_id, 8, dev))
    res["dpo_pairs_kept"] = f"{pstats.kept}/{pstats.records} (skipped {pstats.skipped}, truncated {pstats.truncated})"
    res["dpo_reference_pairs_per_s"] = round(len(sub) / dt, 1)

    # MMLU scoring
    items = load_mmlu(data / "eval_mmlu", num_fewshot=0, subjects=["abstract_algebra", "anatomy", "astronomy"], limit_per_subject=20)
    for bs in (1, 8):
        dt, (m, _) = timed(lambda bs=bs: evaluate_mc(model, tok, items, PromptStyle(), batch_size=bs))
        res[f"mmlu_requests_per_s_bs{bs}"] = round(4 * len(items) / dt, 1)

    # generation
    prompts = [tok.encode(f"Question {i}: how many apples are left if Tom eats {i}?", bos=True) for i in range(16)]
    new = 32
    for bs in (1, 8):
        dt, gens = timed(lambda bs=bs: greedy_generate(model, prompts, max_new_tokens=new, pad_id=tok.pad_id, batch_size=bs))
        res[f"generate_tokens_per_s_kv_bs{bs}"] = round(sum(len(g.tokens) for g in gens) / dt, 1)

    def no_cache() -> int:
        n = 0
        for p in prompts[:4]:
            ids = list(p)
            for _ in range(new):
                with torch.no_grad():
                    ids.append(int(model(torch.tensor([ids], device=dev))[0, -1].argmax()))
                n += 1
        return n

    dt, n = timed(no_cache)
    res["generate_tokens_per_s_no_cache_bs1"] = round(n / dt, 1)

    # sandbox
    he = load_humaneval(data / "eval_humaneval" / "HumanEval.jsonl.gz", limit=20)
    canon = {json.loads(x)["task_id"]: json.loads(x)["canonical_solution"] for x in gzip.open(data / "eval_humaneval" / "HumanEval.jsonl.gz", "rt")}
    times, passed, iso = [], 0, {}
    for it in he:
        t = time.perf_counter()
        r = run_tests(it, canon[it.task_id], False, SandboxConfig())
        times.append(time.perf_counter() - t)
        passed += r.passed
        iso = r.isolation
    res["sandbox_s_per_program_median"] = round(statistics.median(times), 3)
    res["sandbox_canonical_passed"] = f"{passed}/{len(he)}"
    res["sandbox_layers"] = ", ".join(k for k, v in iso.items() if v)

    print("| measure | value |\n|---|---|")
    for k, v in res.items():
        print(f"| {k} | {v} |")
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    with tempfile.TemporaryDirectory():
        main()
