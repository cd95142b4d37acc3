"""Shared fixtures: coder-sim on a loopback port, with every body it serves checked against Coder's spec.

* ``sim``: era v2; ``sim_v025``: era v0.25; ``sim_any``: both, parametrized.
* ``make_sim(**kwargs)``: more sims (SimServer keyword arguments), stopped at teardown.
Pass ``record=False`` to ``make_sim`` to skip conformance recording (benchmarks, scale tests).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from coder_sim import SimServer
from sim_conformance import Recorder

# python-ds reaches `ready` in about 1.2 s at this speed.
SIM_SPEED = 10.0

MakeSim = Callable[..., SimServer]


@pytest.fixture
def make_sim() -> Iterator[MakeSim]:
    started: list[tuple[SimServer, Recorder | None]] = []

    def factory(record: bool = True, **kwargs: Any) -> SimServer:
        recorder = Recorder() if record else None
        kwargs.setdefault("speed", SIM_SPEED)
        if recorder is not None:
            kwargs["response_hook"] = recorder.record
        server = SimServer(**kwargs).start()
        started.append((server, recorder))
        return server

    yield factory
    problems: list[str] = []
    for server, recorder in started:
        server.stop()
        if recorder is not None:
            problems += recorder.problems()
    if problems:
        pytest.fail(
            "coder-sim served bodies that do not match the Coder OpenAPI document:\n"
            + "\n".join(problems[:40]),
            pytrace=False,
        )


@pytest.fixture
def sim(make_sim: MakeSim) -> SimServer:
    return make_sim(era="v2")


@pytest.fixture
def sim_v025(make_sim: MakeSim) -> SimServer:
    return make_sim(era="v0.25")


@pytest.fixture(params=["v2", "v0.25"])
def sim_any(request: pytest.FixtureRequest, make_sim: MakeSim) -> SimServer:
    return make_sim(era=request.param)
