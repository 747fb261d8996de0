"""Pretraining throughput, ours vs HF LlamaForCausalLM: a thin entry to ``python -m model.bench``.

    python -m benchmarks.pretrain_throughput                     # GPU: 125m and 1b shapes, all variants
    python -m benchmarks.pretrain_throughput --device cpu --shapes tiny --steps 2 --warmup 1

Method and figures: docs/benchmarks/pretrain.md.
"""

from model.bench import main

if __name__ == "__main__":
    main()
