"""The watch protocol rules on their own (the sim tests cover them on the wire)."""

from __future__ import annotations

import json

import pytest
from coder_client import RateLimited, WatchPolicy, Workspace
from coder_client.watch import WatchState, _Reconnect, _ws_frame

SNAPSHOT = {"id": "w", "name": "n", "latest_build": {"id": "b"}}


def test_first_ping_after_each_connect_asks_for_a_fetch() -> None:
    state = WatchState(WatchPolicy())
    state.connected()
    assert state.on_frame("ping", None) == WatchState.FETCH
    assert state.on_frame("ping", None) is None  # heartbeats do not refetch
    state.connected()
    assert state.on_frame("ping", None) == WatchState.FETCH  # a reconnect does


def test_data_frames_parse_from_sse_text_and_websocket_objects() -> None:
    state = WatchState(WatchPolicy())
    from_sse = state.on_frame("data", json.dumps(SNAPSHOT))
    from_ws = state.on_frame("data", SNAPSHOT)
    assert isinstance(from_sse, Workspace) and from_sse == from_ws


def test_websocket_messages_parse_into_a_workspace_in_one_step() -> None:
    state = WatchState(WatchPolicy())
    frame = _ws_frame(json.dumps({"type": "data", "data": SNAPSHOT}))
    assert frame.type == "data" and isinstance(frame.data, Workspace)
    assert state.on_frame(frame.type, frame.data) == Workspace.model_validate(SNAPSHOT)
    # An error frame keeps its message for the reconnect's reason; a ping has no data.
    error = _ws_frame('{"type":"error","data":{"message":"pubsub failed"}}')
    with pytest.raises(_Reconnect, match="pubsub failed"):
        state.on_frame(error.type, error.data)
    assert _ws_frame('{"type":"ping"}').data is None
    # A data frame that is no workspace fails as it did when parsed in two steps.
    broken = _ws_frame('{"type":"data","data":{"id":"w"}}')
    with pytest.raises(ValueError, match="latest_build"):
        state.on_frame(broken.type, broken.data)
    # Not a watch message at all: the stream is reconnected.
    for garbage in ("not json", "[1, 2]"):
        with pytest.raises(_Reconnect, match="not a watch message"):
            _ws_frame(garbage)


def test_error_event_means_reconnect() -> None:
    with pytest.raises(_Reconnect, match="error event"):
        WatchState(WatchPolicy()).on_frame("error", {"message": "pubsub failed"})


def test_identical_snapshots_are_dropped() -> None:
    state = WatchState(WatchPolicy())
    first = Workspace.model_validate(SNAPSHOT)
    assert state.accept(first)
    assert not state.accept(Workspace.model_validate(SNAPSHOT))
    assert state.accept(Workspace.model_validate({**SNAPSHOT, "ttl_ms": 60_000}))
    keeping = WatchState(WatchPolicy(), drop_repeats=False)
    assert keeping.accept(first) and keeping.accept(Workspace.model_validate(SNAPSHOT))


def test_reconnect_backoff_grows_with_jitter_is_bounded_and_resets() -> None:
    state = WatchState(WatchPolicy(min_backoff=0.1, max_backoff=2.0))
    delays = [state.reconnect_delay(None) for _ in range(12)]
    assert all(0.05 <= d <= 2.0 for d in delays)
    assert delays[-1] > delays[0]
    assert len({round(d, 6) for d in delays[-4:]}) > 1  # jittered, not lockstep
    state.accept(Workspace.model_validate(SNAPSHOT))  # a good snapshot resets the backoff
    assert state.reconnect_delay(None) <= 0.1
    limited = RateLimited(message="slow down", retry_after=5)
    assert 5 <= state.reconnect_delay(limited) <= 6
