"""Fixtures of the flow tests that need a real Prefect server (``prefect server start`` on loopback)."""

from __future__ import annotations

import pytest

from flows.serve import PrefectServer


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory):
    """A real ``prefect server start`` on 127.0.0.1, port 0 (any free port, never 4200), one per test module
    (about 20 s to start on 2 cores); its SQLite database lives under the module's temp folder."""
    home = tmp_path_factory.mktemp("prefect-server")
    with PrefectServer(home=home, port=0, services=False).start(timeout=240) as srv:
        yield srv
