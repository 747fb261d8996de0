"""The model side: LLaMA-style decoder, loss, scaling laws, schedules, checkpoints, pretraining loop.

Torch (+ numpy, storage) only; runs under plain ``torchrun`` with no Prefect or Ray.

    python -m model.pretrain --preset tiny --data runs/tokens
    python -m model.scaling --compute 1e21
    python -m model.bench
"""
