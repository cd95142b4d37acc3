"""Fixtures for the Jupyter tests: a fast coder-sim and a user's login to it."""

from __future__ import annotations

import time
from collections.abc import Callable
from itertools import count
from pathlib import Path

import pytest
from coder_sim import SimServer
from jupyter_test_helpers import CoderLogin

SIM_SPEED = 40.0
_names = count(1)


@pytest.fixture(autouse=True)
def jupyter_data_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test its own Jupyter data dir: the launcher and the routes keep the last template used there,
    and a test must neither read another's choice nor write into the machine's real one."""
    path = tmp_path_factory.mktemp("jupyter-data")
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(path))
    return path


@pytest.fixture(params=["v2"])
def jupyter_sim(request: pytest.FixtureRequest, make_sim: Callable[..., SimServer]) -> SimServer:
    """The shared sim fixture (its bodies are checked against Coder's spec), faster than its default."""
    return make_sim(era=request.param, speed=SIM_SPEED)


@pytest.fixture
def alice(jupyter_sim: SimServer) -> CoderLogin:
    return CoderLogin(jupyter_sim.url, jupyter_sim.user_tokens["alice"], jupyter_sim)


@pytest.fixture
def unique_name() -> Callable[[str], str]:
    return lambda prefix: f"{prefix}-{next(_names)}-{int(time.time() * 1000) % 100000}"
