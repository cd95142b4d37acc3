"""Coder's notification webhook, as the sim sends it: what each event notifies, to whom, and the retries.

Sources (coder/coder): ``coderd/notifications/events.go`` (template ids), the notification_templates
migrations (names, title and body templates, actions), ``coderd/notifications/dispatch/webhook.go``
(``WebhookPayload`` 1.1: ``_version``, ``msg_id``, ``payload``, ``title``, ``title_markdown``, ``body``,
``body_markdown``; headers ``Content-Type: application/json`` and ``X-Message-Id``; any status above 2xx
or a transport error is retryable), ``coderd/notifications/types/payload.go`` (``MessagePayload``),
``codersdk/deployment.go`` (max send attempts 5, retry interval 5 min) and who Coder enqueues each
event for (``provisionerdserver``, ``coderd/workspaces.go``, ``autobuild/lifecycle_executor.go``).

Sending happens off the request path: ``enqueue`` only records the message and schedules a task on
the sim's loop, so the sim's API never waits for the webhook.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from .model import User

WEBHOOK_VERSION = "1.1"
PAYLOAD_VERSION = "1.2"
MAX_ATTEMPTS = 5  # CODER_NOTIFICATIONS_MAX_SEND_ATTEMPTS
RETRY_INTERVAL = 300.0  # CODER_NOTIFICATIONS_RETRY_INTERVAL (5m), unscaled seconds
DISPATCH_TIMEOUT = 60.0  # CODER_NOTIFICATIONS_DISPATCH_TIMEOUT (1m)
LEASE_COUNT = 20  # CODER_NOTIFICATIONS_LEASE_COUNT: messages dispatched at a time
DORMANCY_DOCS = "https://coder.com/docs/admin/templates/managing-templates/schedule#dormancy-threshold"


@dataclass(frozen=True)
class NotificationTemplate:
    """One row of Coder's notification_templates table (the parts the webhook carries)."""

    slug: str
    id: str
    name: str
    title: str  # markdown, ``{label}`` / ``{user_name}`` placeholders
    body: str
    actions: tuple[tuple[str, str], ...]  # (label, url template); ``{base_url}`` is the deployment's URL


def _template(
    slug: str, template_id: str, name: str, title: str, body: str, *actions: tuple[str, str]
) -> NotificationTemplate:
    return NotificationTemplate(slug, template_id, name, title, body, actions)


_VIEW_WORKSPACE = ("View workspace", "{base_url}/@{user_username}/{name}")
_VIEW_WORKSPACE_BY_LABEL = ("View workspace", "{base_url}/@{user_username}/{workspace}")

TEMPLATES: dict[str, NotificationTemplate] = {
    t.slug: t
    for t in (
        _template(
            "workspace_created",
            "281fdf73-c6d6-4cbb-8ff5-888baf8a2fff",
            "Workspace Created",
            "Workspace '{workspace}' has been created",
            "The workspace **{workspace}** has been created from the template **{template}** "
            "using version **{version}**.",
            ("View workspace", "{base_url}/@{workspace_owner_username}/{workspace}"),
        ),
        _template(
            "workspace_deleted",
            "f517da0b-cdc9-410f-ab89-a86107c420ed",
            "Workspace Deleted",
            'Workspace "{name}" deleted',
            "Your workspace **{name}** was deleted.\n\n"
            'The specified reason was "**{reason} ({initiator})**".',
            ("View workspaces", "{base_url}/workspaces"),
            ("View templates", "{base_url}/templates"),
        ),
        _template(
            "autobuild_failed",
            "381df2a9-c0c0-4749-420f-80a9280c66f9",
            "Workspace Autobuild Failed",
            'Workspace "{name}" autobuild failed',
            "Automatic build of your workspace **{name}** failed.\n\n"
            'The specified reason was "**{reason}**".',
            _VIEW_WORKSPACE,
        ),
        _template(
            "manual_build_failed",
            "2faeee0f-26cb-4e96-821c-85ccb9f71513",
            "Workspace Manual Build Failed",
            'Workspace "{name}" manual build failed',
            "Hi {user_name},\n\nA manual build of the workspace **{name}** using the template "
            "**{template_name}** failed (version: **{template_version_name}**).\n\n"
            "The workspace build was initiated by **{initiator}**.",
            (
                "View build",
                "{base_url}/@{workspace_owner_username}/{name}/builds/{workspace_build_number}",
            ),
        ),
        _template(
            "dormant",
            "0ea69165-ec14-4314-91f1-69566ac3c5a0",
            "Workspace Marked as Dormant",
            'Workspace "{name}" marked as dormant',
            "Your workspace **{name}** has been marked as [**dormant**](" + DORMANCY_DOCS + ") due to "
            "inactivity exceeding the dormancy threshold.\n\n"
            "This workspace will be automatically deleted in {timeTilDormant} if it remains inactive.\n\n"
            "To prevent deletion, activate your workspace using the link below.",
            _VIEW_WORKSPACE,
        ),
        _template(
            "autostop_reminder",
            "6f6cb984-c167-4fa5-bb87-1058dd642779",
            "Workspace Autostop Reminder",
            'Your workspace "{workspace}" will stop soon',
            "Your workspace **{workspace}** will automatically stop {timeTilShutdown}.\n\n"
            "Connect to it or extend the deadline to keep it running.",
            _VIEW_WORKSPACE_BY_LABEL,
        ),
        _template(
            "out_of_memory",
            "a9d027b4-ac49-4fb1-9f6d-45af15f64e7a",
            "Workspace Out Of Memory",
            'Your workspace "{workspace}" is low on memory',
            "Hi {user_name},\n\nYour workspace **{workspace}** has reached the memory usage threshold "
            "set at **{threshold}**.",
            _VIEW_WORKSPACE_BY_LABEL,
        ),
        _template(
            "out_of_disk",
            "f047f6a3-5713-40f7-85aa-0394cce9fa3a",
            "Workspace Out Of Disk",
            'Your workspace "{workspace}" is low on volume space',
            "Volume **`{volume}`** is over {threshold} full in workspace **{workspace}**.",
            _VIEW_WORKSPACE_BY_LABEL,
        ),
        _template(
            "test_notification",
            "c425f63e-716a-4bf4-ae24-78348f706c3f",
            "Troubleshooting Notification",
            "A test notification",
            "Hi {user_name},\n\nThis is a test notification.",
            ("View notification settings", "{base_url}/deployment/notifications?tab=settings"),
        ),
    )
}

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]+)\)")


def _fill(text: str, values: dict[str, str]) -> str:
    """Coder's Go templates ``{{.Labels.x}}`` as ``{x}``; a missing label renders empty, as Go's does."""
    return _PLACEHOLDER.sub(lambda match: values.get(match.group(1), ""), text)


def plaintext(markdown: str) -> str:
    """The plain text Coder derives from a markdown title/body (``PlaintextFromMarkdown``)."""
    text = _LINK.sub(lambda match: f"{match.group(1)} ({match.group(2)})", markdown)
    return text.replace("**", "").replace("`", "")


def humanize_time(seconds: float) -> str:
    """go-humanize's ``Time`` for a moment ``seconds`` away: "30 minutes from now", "2 days ago"."""
    suffix = "from now" if seconds >= 0 else "ago"
    seconds = abs(seconds)
    if seconds < 1:
        return "now"
    steps = (
        (60, 1, "second"),
        (3600, 60, "minute"),
        (86400, 3600, "hour"),
        (7 * 86400, 86400, "day"),
        (30 * 86400, 7 * 86400, "week"),
        (365 * 86400, 30 * 86400, "month"),
    )
    for limit, unit, name in steps:
        if seconds < limit:
            count = int(seconds // unit)
            return f"{count} {name}{'' if count == 1 else 's'} {suffix}"
    count = int(seconds // (365 * 86400))
    return f"{count} year{'' if count == 1 else 's'} {suffix}"


@dataclass
class Attempt:
    """One POST of a message: its HTTP status, or the transport error (status None)."""

    status: int | None
    error: str
    at: float  # monotonic seconds

    def as_json(self) -> dict[str, Any]:
        return {"status": self.status, "error": self.error}


@dataclass
class Message:
    """One notification message: the body Coder POSTs (the same on every attempt) and what happened."""

    msg_id: str
    kind: str
    user_id: str
    body: dict[str, Any]
    attempts: list[Attempt] = field(default_factory=list)
    state: str = "pending"  # pending | sent | failed (every attempt used) | cancelled

    def as_json(self) -> dict[str, Any]:
        return {
            "msg_id": self.msg_id,
            "kind": self.kind,
            "user_id": self.user_id,
            "state": self.state,
            "attempts": [attempt.as_json() for attempt in self.attempts],
            "body": self.body,
        }


BuiltHook = Callable[[dict[str, Any]], None]


class Notifier:
    """Builds Coder's webhook messages and POSTs them from background tasks, retrying like Coder."""

    def __init__(self, speed: float, built_hook: BuiltHook | None = None) -> None:
        self.endpoint: str | None = None
        self.base_url = "http://127.0.0.1:3000"  # the sim's own URL, for the actions' links
        self.retry_interval = RETRY_INTERVAL / speed
        self.max_attempts = MAX_ATTEMPTS
        self.timeout = DISPATCH_TIMEOUT
        self.messages: list[Message] = []
        self._built_hook = built_hook
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        # Coder's notifier leases 20 messages per fetch (CODER_NOTIFICATIONS_LEASE_COUNT) and dispatches
        # those: never hundreds of requests at once at the receiver.
        self._in_flight = asyncio.Semaphore(LEASE_COUNT)
        self._settled = asyncio.Event()
        self._settled.set()

    # -- configuration ----------------------------------------------------------------------------

    def configure(
        self, endpoint: str | None, retry_interval: float | None = None, max_attempts: int | None = None
    ) -> None:
        if endpoint is not None and not endpoint.startswith(("http://", "https://")):
            # Not echoed: the URL's path holds the receiver's secret.
            raise ValueError("the notifications webhook must be an http(s) URL")
        if retry_interval is not None and retry_interval < 0:
            raise ValueError("retry_interval must not be negative")
        if max_attempts is not None and max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.endpoint = endpoint or None
        if retry_interval is not None:
            self.retry_interval = retry_interval
        if max_attempts is not None:
            self.max_attempts = max_attempts

    # -- building messages ------------------------------------------------------------------------

    def enqueue(
        self,
        kind: str,
        user: User,
        labels: dict[str, str],
        data: dict[str, Any] | None = None,
        targets: list[str] | None = None,
        extra: dict[str, str] | None = None,
    ) -> Message | None:
        """Build the message for ``user`` and send it in the background; None when no webhook is set."""
        if self.endpoint is None:
            return None
        body = self.body(kind, user, labels, data, targets, extra)
        message = Message(str(uuid.uuid4()), kind, user.id, body)
        message.body["msg_id"] = message.msg_id
        self.messages.append(message)
        if self._built_hook is not None:
            self._built_hook(message.body)
        self._start(message)
        return message

    def body(
        self,
        kind: str,
        user: User,
        labels: dict[str, str],
        data: dict[str, Any] | None = None,
        targets: list[str] | None = None,
        extra: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """The ``WebhookPayload`` Coder POSTs for one message (``msg_id`` left empty).

        ``extra`` holds what Coder's template reads from ``data`` rather than ``labels`` (a volume path).
        """
        template = TEMPLATES[kind]
        values = {
            **(extra or {}),
            **labels,
            "base_url": self.base_url,
            "user_name": user.name or user.username,
            "user_username": user.username,
        }
        title = _fill(template.title, values)
        body = _fill(template.body, values)
        return {
            "_version": WEBHOOK_VERSION,
            "msg_id": "",
            "payload": {
                "_version": PAYLOAD_VERSION,
                "notification_name": template.name,
                "notification_template_id": template.id,
                "user_id": user.id,
                "user_email": user.email,
                "user_name": user.name,
                "user_username": user.username,
                "actions": [{"label": label, "url": _fill(url, values)} for label, url in template.actions],
                "labels": dict(labels),
                "data": data,
                "targets": targets,
            },
            "title": plaintext(title),
            "title_markdown": title,
            "body": plaintext(body),
            "body_markdown": body,
        }

    # -- sending ----------------------------------------------------------------------------------

    def _start(self, message: Message) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            # Built before the server runs (no loop yet): nothing can be sent, so say so.
            message.state = "failed"
            message.attempts.append(Attempt(None, "the sim is not running", time.monotonic()))
            return
        self._settled.clear()
        task = loop.create_task(self._deliver(message, self.endpoint or ""))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not self._tasks:
            self._settled.set()

    async def _deliver(self, message: Message, endpoint: str) -> None:
        try:
            for attempt in range(self.max_attempts):
                if attempt:
                    await asyncio.sleep(self.retry_interval)
                if await self._post(message, endpoint):
                    message.state = "sent"
                    return
            message.state = "failed"
        except asyncio.CancelledError:
            message.state = "cancelled"
            raise

    async def _post(self, message: Message, endpoint: str) -> bool:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        headers = {"Content-Type": "application/json", "X-Message-Id": message.msg_id}
        try:
            async with (
                self._in_flight,
                self._session.post(endpoint, json=message.body, headers=headers) as response,
            ):
                await response.read()
                status: int | None = response.status
                error = "" if response.status < 300 else f"non-2xx response ({response.status})"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            status, error = None, f"request failed: {type(exc).__name__}"
        message.attempts.append(Attempt(status, error, time.monotonic()))
        # Coder: `resp.StatusCode/100 > 2` is a failure to retry; 1xx/2xx count as delivered.
        return status is not None and status // 100 <= 2

    async def settle(self, seconds: float) -> bool:
        """Wait until no message is still being sent (all delivered or out of attempts)."""
        try:
            await asyncio.wait_for(self._settled.wait(), seconds)
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        """Cancel the messages still being sent and close the HTTP session."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._session is not None:
            await self._session.close()
            self._session = None
