"""Following an agent's startup logs (``?follow`` upgrades to a WebSocket of JSON arrays of logs).

v0.25 closes the stream itself once startup is over; v2 keeps it open while the agent belongs to the
latest build. So, like ``coder ssh`` and vscode-coder, the follower also stops once the agent has left
the starting states, then drains what is left with one plain request (NOTES.md §6).
"""

from __future__ import annotations

import contextlib
import queue
from collections.abc import AsyncIterator, Iterator

from httpx_ws import (
    AsyncWebSocketSession,
    WebSocketDisconnect,
    WebSocketSession,
    WebSocketUpgradeError,
    aconnect_ws,
    connect_ws,
)
from pydantic import TypeAdapter

from ._tasks import Emit, iterate_producer
from .endpoints import FOLLOW_AGENT_LOGS_PATHS, stream_path
from .models import AgentLog, LifecycleState, WorkspaceAgent
from .operations import Operations
from .transport import AsyncTransport, SyncTransport, api_error

__all__ = ["follow_logs_async", "follow_logs_sync"]

STILL_STARTING = frozenset({LifecycleState.CREATED, LifecycleState.STARTING})
CHECK_EVERY = 1.0
_batch = TypeAdapter(list[AgentLog])


def _paths(operations: Operations, agent_id: str) -> list[str]:
    paths = [stream_path(template, agent=agent_id) for template in FOLLOW_AGENT_LOGS_PATHS]
    return paths[1:] if operations.state.has_agent_logs_route is False else paths


def _parse(text: str) -> list[AgentLog]:
    return _batch.validate_json(text) if text.strip() not in ("", "null") else []


def _fall_back_or_raise(
    operations: Operations, agent_id: str, path: str, refused: WebSocketUpgradeError
) -> None:
    """After a refused upgrade: a 404 on the v2 route means a v0.25 server (remember it; the caller tries the
    next path); anything else is an error."""
    if refused.response.status_code == 404 and path != _paths(operations, agent_id)[-1]:
        operations.state.has_agent_logs_route = False
        return
    raise api_error("GET", path, refused.response) from None


def _still_starting(agent: WorkspaceAgent) -> bool:
    return agent.lifecycle_state in STILL_STARTING


def follow_logs_sync(
    transport: SyncTransport, operations: Operations, agent_id: str, after: int | None
) -> Iterator[AgentLog]:
    last = after or 0
    socket: WebSocketSession
    for path in _paths(operations, agent_id):
        try:
            with connect_ws(path, transport.http, params={"follow": "true", "after": last}) as socket:
                while True:
                    try:
                        text: str = socket.receive_text(timeout=CHECK_EVERY)
                    except queue.Empty:
                        if not _still_starting(transport.run(operations.agent(agent_id))):
                            break
                        continue
                    except WebSocketDisconnect:
                        break
                    for log in _parse(text):
                        last = max(last, log.id)
                        yield log
        except WebSocketUpgradeError as exc:
            _fall_back_or_raise(operations, agent_id, path, exc)
            continue
        break
    yield from (log for log in transport.run(operations.agent_logs(agent_id, last)) if log.id > last)


async def follow_logs_async(
    transport: AsyncTransport, operations: Operations, agent_id: str, after: int | None
) -> AsyncIterator[AgentLog]:
    """Streams the socket from its own task (see ``_tasks.py``)."""
    last = after or 0

    async def pump(emit: Emit[AgentLog]) -> None:
        nonlocal last
        socket: AsyncWebSocketSession
        for path in _paths(operations, agent_id):
            try:
                async with aconnect_ws(
                    path, transport.http, params={"follow": "true", "after": last}
                ) as socket:
                    while True:
                        try:
                            text = await socket.receive_text(timeout=CHECK_EVERY)
                        except TimeoutError:
                            if not _still_starting(await transport.run(operations.agent(agent_id))):
                                break
                            continue
                        except WebSocketDisconnect:
                            break
                        for log in _parse(text):
                            last = max(last, log.id)
                            await emit(log)
            except WebSocketUpgradeError as exc:
                _fall_back_or_raise(operations, agent_id, path, exc)
                continue
            break
        for log in await transport.run(operations.agent_logs(agent_id, last)):
            if log.id > last:
                await emit(log)

    async with contextlib.aclosing(iterate_producer(pump)) as logs:
        async for log in logs:
            yield log
