"""``smoke_flow``: check an installation end to end (worker, storage, artifacts).

Writes a tiny bilingual document dataset with :func:`tasks.smoke.run_smoke` and publishes its
funnel, summary and manifest link as Prefect artifacts. Deployed by ``longterm serve``
(deployment ``smoke``); run it from the UI or with::

    prefect deployment run smoke/smoke -p out=runs/smoke
    python -m flows.smoke runs/smoke            # ephemeral Prefect, no server needed
"""

from __future__ import annotations

import sys
from typing import Any

from prefect import flow, task

from flows.artifacts import publish_dataset_artifacts
from flows.validation import parse_config, require_output
from tasks.smoke import SmokeConfig, run_smoke


@task(name="write-smoke-dataset")
def write_smoke_dataset(out: str, cfg: SmokeConfig) -> str:
    return run_smoke(out, cfg)


@flow(name="smoke")
def smoke_flow(out: str = "runs/demo/smoke", config: dict[str, Any] | None = None) -> str:
    """Write the smoke dataset under ``out`` and publish its artifacts; return the dataset URI.

    ``config`` holds SmokeConfig fields (docs, min_chars, seed); unknown keys fail the run at once.
    """
    out = require_output("out", out)
    cfg = parse_config("config", SmokeConfig, config)
    uri = write_smoke_dataset(out, cfg)
    publish_dataset_artifacts(uri, "smoke")
    return uri


if __name__ == "__main__":
    print(smoke_flow(sys.argv[1] if len(sys.argv) > 1 else "runs/demo/smoke"))
