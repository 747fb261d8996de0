"""Launch a training module (``model.pretrain``, ``model.sft``, ``model.dpo``) in this process or under torchrun.

    ckpt = launch_training("model.sft", sft_main, cfg, nproc=1)       # in-process: main(cfg)
    ckpt = launch_training("model.sft", sft_main, cfg, nproc=8)       # torchrun --nproc_per_node=8 -m model.sft --flags...

The flags are ``config_flags(cfg)`` (one ``--field value`` per dataclass field) unless the module has
its own (``model.pretrain.train_flags``).

Either way the result is the path of the run's latest complete checkpoint. The training loop never runs
inside a Prefect task's process when several GPUs are used: torchrun owns those processes.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from model.checkpoint import resolve_checkpoint


def config_flags(cfg: Any) -> list[str]:
    """``--field value`` flags for a config dataclass (``--flag``/``--no-flag`` for booleans)."""
    flags = []
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        name = "--" + f.name.replace("_", "-")
        if isinstance(value, bool):
            flags.append(name if value else "--no-" + f.name.replace("_", "-"))
        else:
            flags += [name, str(value)]
    return flags


def torchrun_command(module: str, flags: list[str], nproc: int) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", "-m", module, *flags]


def launch_training(
    module: str, main: Callable[[Any], dict[str, Any]], cfg: Any, *, nproc: int = 1, flags: list[str] | None = None
) -> str:
    """Run ``main(cfg)`` here (``nproc`` <= 1) or ``torchrun -m module`` with ``nproc`` ranks; return the
    path of the run's latest complete checkpoint."""
    if nproc <= 1:
        main(cfg)
    else:
        cmd = torchrun_command(module, config_flags(cfg) if flags is None else flags, nproc)
        proc = subprocess.run(cmd)
        if proc.returncode != 0:
            raise RuntimeError(f"torchrun with {nproc} processes ({module}) exited with {proc.returncode}; "
                               f"see the log above and {cfg.out}/metrics.jsonl")
    return str(resolve_checkpoint(cfg.out))
