"""Prefect cache keys for stage tasks: input dataset digests + stage config + code version.

A stage task's result (the URI of its published output) is reused when the digests of the
datasets it reads, its resolved config and the package version are unchanged, so rerunning
``data_to_model`` after changing one stage's config recomputes that stage and everything
downstream (whose input digests change) and reuses everything upstream. The stage itself is
also content-addressed in storage, so even without the Prefect cache a rerun is a no-op.

    @task(cache_key_fn=stage_cache_key, persist_result=True)
    def filter_task(input_uri: str, out: str, config: dict) -> str: ...

Parameters whose name ends in ``_uri``/``_uris`` or is ``input``/``inputs``/``data``/``init``
are treated as dataset references and replaced by their manifest digests when they resolve.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from storage import DatasetError, open_dataset
from storage.version import package_version

DATASET_PARAMS = {"input", "inputs", "data", "init", "tokenizer", "against", "checkpoint"}


def _is_dataset_param(name: str) -> bool:
    return name in DATASET_PARAMS or name.endswith("_uri") or name.endswith("_uris")


def _digest_of(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_digest_of(v) for v in value]
    if isinstance(value, str):
        try:
            return open_dataset(value).digest
        except (DatasetError, OSError):
            return value
    return value


def _jsonable(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump()
    if hasattr(value, "__dataclass_fields__"):
        import dataclasses

        return dataclasses.asdict(value)
    return value


def stage_cache_key(context: Any, parameters: dict[str, Any]) -> str:
    """Prefect ``cache_key_fn``: task name + digests of input datasets + other parameters + version."""
    task_name = getattr(getattr(context, "task", None), "name", "task")
    payload = {
        "task": task_name,
        "version": package_version(),
        "params": {
            k: (_digest_of(v) if _is_dataset_param(k) else _jsonable(v)) for k, v in sorted(parameters.items())
        },
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
