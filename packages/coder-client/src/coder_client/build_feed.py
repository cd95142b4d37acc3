"""One stream of every workspace's build changes: Coder's ``GET /api/experimental/watch-all-workspacebuilds``.

A WebSocket (experiment ``workspace-build-updates``; Owner or Template Admin) sending one
``codersdk.WorkspaceBuildUpdate`` per job status change of any workspace's build (docs/reference/
coder-api-notes.md §3.4). It tells a deployment-wide service which workspaces are in transition without a
stream per workspace. Like a workspace watch it reconnects by the client's :class:`WatchPolicy`; it has no
snapshot to resend, so whatever changed while it was disconnected is not replayed: ``on_connected`` is
called at every (re)connect so the caller can look again (a list) for what it may have missed.

Where the server does not have it (an older Coder, the experiment off) the route answers 404: the feature
is turned off on the client (``Capabilities.watch_all_builds``) and :class:`FeatureUnavailable` is raised. A
token that may not read every workspace's builds gets :class:`Forbidden` with a message saying so.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
from httpx_ws import HTTPXWSException, WebSocketUpgradeError
from pydantic import ValidationError as PydanticValidationError

from ._websocket import WebSocketClosed, open_websocket
from .errors import CoderAPIError, CoderError, FeatureUnavailable, Forbidden, NotFound
from .models import CoderModel, JobStatus, WorkspaceTransition
from .operations import ClientState
from .transport import api_error
from .watch import WatchPolicy, WatchState, _retryable

__all__ = [
    "WATCH_ALL_BUILDS_PATH",
    "BuildFeedForbidden",
    "WorkspaceBuildUpdate",
    "watch_all_builds",
]

log = logging.getLogger("coder_client.build_feed")

WATCH_ALL_BUILDS_PATH = "/api/experimental/watch-all-workspacebuilds"
FEATURE = "watch_all_builds"


class BuildFeedForbidden(Forbidden):
    """403 on watch-all-workspacebuilds: the token's user is neither Owner nor Template Admin."""

    hint = (
        "watch-all-workspacebuilds needs the token of an Owner or Template Admin; use such a token, or watch "
        "workspaces one by one."
    )


class WorkspaceBuildUpdate(CoderModel):
    """A build of ``workspace_id`` changed job status (``codersdk.WorkspaceBuildUpdate``)."""

    workspace_id: str
    workspace_name: str = ""
    build_id: str
    transition: WorkspaceTransition
    job_status: JobStatus
    build_number: int = 0

    @property
    def active(self) -> bool:
        """The build is queued, running or being canceled."""
        return self.job_status.active


def _refusal(error: CoderAPIError, state: ClientState) -> CoderError | None:
    """What a refused upgrade means for the caller; None when it is worth retrying."""
    if isinstance(error, NotFound) or error.status_code == 405:
        state.feature_missing(FEATURE)
        return FeatureUnavailable(
            FEATURE,
            "This Coder does not offer watch-all-workspacebuilds (it needs experiment "
            "'workspace-build-updates' on a recent Coder); watch workspaces one by one instead.",
        )
    if isinstance(error, Forbidden):
        return BuildFeedForbidden(
            status_code=403,
            message=error.message,
            detail=error.detail,
            method="GET",
            path=WATCH_ALL_BUILDS_PATH,
        )
    return None if _retryable(error) else error


async def watch_all_builds(
    streams: httpx.AsyncClient,
    state: ClientState,
    policy: WatchPolicy,
    on_connected: Callable[[], Awaitable[None]] | None = None,
) -> AsyncIterator[WorkspaceBuildUpdate]:
    """Every build update of the deployment, reconnecting by ``policy`` until the caller stops iterating."""
    backoff = WatchState(policy)
    path = WATCH_ALL_BUILDS_PATH
    loop = asyncio.get_running_loop()
    while True:
        error: BaseException
        connected_at: float | None = None
        try:
            async with open_websocket(streams, path) as socket:
                connected_at = loop.time()
                if on_connected is not None:
                    await on_connected()
                while True:
                    message = await socket.receive_json(idle_timeout=policy.heartbeat_timeout)
                    try:
                        update = WorkspaceBuildUpdate.model_validate(message)
                    except PydanticValidationError:
                        log.warning("watch-all-workspacebuilds: skipped a message that is no build update")
                        continue
                    yield update
        except WebSocketUpgradeError as exc:
            refused = api_error("GET", path, exc.response)
            final = _refusal(refused, state)
            if final is not None:
                raise final from None
            error = refused
        except (WebSocketClosed, httpx.TransportError, HTTPXWSException, OSError) as exc:
            error = exc
        if connected_at is not None and loop.time() - connected_at > policy.max_backoff:
            backoff.failures = 0  # it was up for a while: start the backoff afresh
        delay = backoff.reconnect_delay(error)
        log.info("watch-all-workspacebuilds: reconnecting in %.1f s (%s)", delay, type(error).__name__)
        await asyncio.sleep(delay)
