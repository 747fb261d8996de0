"""Read the artifacts of given flow runs only: the Prefect harness is shared by the whole test
session, so other tests publish the same keys."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from uuid import UUID


def artifacts_of(*flow_run_ids: UUID) -> dict[str, Any]:
    """``{key: data}`` of the keyed artifacts that these flow runs (or their task runs) created;
    JSON table data is decoded."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    async def read() -> dict[str, Any]:
        # filtered by the server: an unfiltered read returns only the first page (API default limit
        # 200), which a whole test session's artifacts overflow
        async with get_client() as client:
            arts = await client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=list(flow_run_ids))))
        out = {}
        for a in arts:
            if a.key and a.flow_run_id in flow_run_ids:
                data = a.data
                if a.type == "table" and isinstance(data, str):
                    data = json.loads(data)
                out[a.key] = data
        return out

    return asyncio.run(read())


def progress_of(flow_run_id: UUID, key: str) -> tuple[float, str]:
    """(percent, description) of this flow run's progress artifact ``key`` (its latest version)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

    async def read():
        async with get_client() as client:
            return await client.read_artifacts(artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=[key]), flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))

    arts = asyncio.run(read())
    assert arts, f"no artifact {key!r} in flow run {flow_run_id}"
    return float(arts[-1].data), arts[-1].description or ""


def wait_final(client: Any, flow_run_id: UUID, timeout: float = 300.0) -> Any:
    """The flow run once its state is final (a sync Prefect client); TimeoutError after ``timeout`` s."""
    import time

    deadline = time.monotonic() + timeout
    run = None
    while time.monotonic() < deadline:
        run = client.read_flow_run(flow_run_id)
        if run.state is not None and run.state.is_final():
            return run
        time.sleep(1.0)
    raise TimeoutError(f"flow run {flow_run_id} not finished after {timeout} s (last state {run.state if run else None})")
