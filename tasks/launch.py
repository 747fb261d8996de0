"""Launch a training module (``model.pretrain``, ``model.sft``, ``model.dpo``) in this process or under torchrun.

    ckpt = launch_training("model.sft", sft_main, cfg, nproc=1)       # in-process: main(cfg)
    ckpt = launch_training("model.sft", sft_main, cfg, nproc=8)       # torchrun --nproc_per_node=8 -m model.sft --flags...

The flags are ``model.flags.to_flags(cfg)``, which the module's own CLI (``model.flags.run_cli``) turns
back into the same config. Either way the result is the path of the run's latest complete checkpoint.
The training loop never runs inside a Prefect task's process when several GPUs are used: torchrun owns
those processes.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

from model.checkpoint import resolve_checkpoint
from model.flags import to_flags


def torchrun_command(module: str, cfg: Any, nproc: int) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", "-m", module, *to_flags(cfg)]


def launch_training(module: str, main: Callable[[Any], dict[str, Any]], cfg: Any, *, nproc: int = 1) -> str:
    """Run ``main(cfg)`` here (``nproc`` <= 1) or ``torchrun -m module`` with ``nproc`` ranks; return the
    path of the run's latest complete checkpoint."""
    if nproc <= 1:
        main(cfg)
    else:
        proc = subprocess.run(torchrun_command(module, cfg, nproc))
        if proc.returncode != 0:
            raise RuntimeError(f"torchrun with {nproc} processes ({module}) exited with {proc.returncode}; "
                               f"see the log above and {cfg.out}/metrics.jsonl")
    return str(resolve_checkpoint(cfg.out))
