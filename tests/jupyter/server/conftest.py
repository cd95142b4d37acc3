"""pytest-jupyter's server fixtures, for the route tests only (its autouse fixtures stay in this folder)."""

from __future__ import annotations

from typing import Any

import pytest
from jupyter_test_helpers import CoderLogin
from pytest_jupyter.jupyter_server import *  # noqa: F403


@pytest.fixture
def jp_server_config(alice: CoderLogin) -> dict[str, Any]:
    return {
        "ServerApp": {
            "jpserver_extensions": {"coder_jupyter": True, "jupyter_server_terminals": False},
            "allow_unauthenticated_access": False,
        },
        "CoderConfig": {"url": alice.url, "token": alice.token, "events_keepalive_seconds": 0.2},
    }
