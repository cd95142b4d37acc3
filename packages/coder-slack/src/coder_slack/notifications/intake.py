"""The intake of Coder's notification webhook: ``POST /coder/notifications/<secret>``.

Fast on purpose: parse, validate, INSERT one row keyed by ``msg_id`` (a duplicate is a no-op), commit,
answer. Requests that arrive while a commit is in progress are written together in the next transaction
(group commit: one transaction per batch, not per request, so a burst costs a few commits), and each is
answered once its batch is committed. On SQLite the batch takes its turn on the process's write lock
(``store.engine.sqlite_write_lock``, shared with the alert engine, the router and the delivery worker, whose
transactions run in threads and keep their writes short) rather than in SQLite's sleeping busy handler, and
goes before any of them that waits (``WriteTurns.urgent``): it waits for one transaction at most. Who
hears about it is decided later by the router (``coder_slack.notifications.router``), in the alert engine's
process. A 2xx therefore always means "durably recorded": Coder retries anything else (up to 5 attempts),
and the same ``msg_id`` is recorded once however often it arrives, on whichever replica.

The secret is compared in constant time; a wrong or missing one gets the same 404 as any unknown path and is
never logged (the access log is off, and nothing here logs the path).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import ValidationError
from sqlalchemy.orm import Session

from coder_slack.notifications.payload import WebhookMessage
from coder_slack.ops.metrics import METRICS, SlackBotMetrics
from coder_slack.store import CoderNotification, create_sync_engine_for, dialect_insert, utcnow
from coder_slack.store.engine import sqlite_write_lock

log = logging.getLogger(__name__)

ROUTE = "/coder/notifications/{secret}"
PATH_PREFIX = "/coder/notifications/"
MAX_BODY_BYTES = 256 * 1024
MESSAGE_ID_HEADER = "X-Message-Id"


class Rejected(Exception):
    """A request the intake refuses: ``status`` and a one-line ``reason`` for the caller."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _plain(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text + "\n", content_type="text/plain")


def describe(error: ValidationError) -> str:
    """One line naming the first problem of a webhook body ("missing msg_id", "payload: ...")."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"] if part != "__root__")
    if first["type"] == "missing":
        return f"missing {where}"
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def parse_body(raw: bytes, header_msg_id: str = "") -> tuple[WebhookMessage, dict[str, Any]]:
    """The webhook body as a ``WebhookMessage`` (and as parsed JSON), or ``Rejected`` (400) with a one-line
    reason."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise Rejected(400, "the body is not JSON") from None
    if not isinstance(body, dict):
        raise Rejected(400, "the body is not a JSON object")
    version = str(body.get("_version") or "1.0")
    if not version.startswith("1."):
        raise Rejected(400, f"unsupported _version {version[:16]!r} (1.0 and 1.1 are understood)")
    try:
        message = WebhookMessage.model_validate(body)
    except ValidationError as error:
        raise Rejected(400, describe(error)) from None
    header_msg_id = header_msg_id.strip()
    if header_msg_id and header_msg_id != message.msg_id:
        raise Rejected(400, f"the {MESSAGE_ID_HEADER} header and the body's msg_id differ")
    return message, body


def _row(message: WebhookMessage, body: dict[str, Any], now: datetime) -> dict[str, Any]:
    payload = message.payload
    return {
        "msg_id": message.msg_id,
        "kind": payload.kind.slug,
        "user_id": payload.user_id[:64],
        "user_username": payload.user_username[:128],
        "workspace_name": payload.workspace_name[:256],
        "body": body,
        "status": "received",
        "reason": "",
        "destinations": "",
        "attempts": 0,
        "received_at": now,
    }


def record(session: Session, message: WebhookMessage, body: dict[str, Any], now: datetime) -> bool:
    """Insert the notification unless its ``msg_id`` is known; True when it was new."""
    return bool(record_batch(session, [(message, body)], now))


def record_batch(
    session: Session, received: list[tuple[WebhookMessage, dict[str, Any]]], now: datetime
) -> set[str]:
    """Insert the notifications whose ``msg_id`` is not known yet (one statement); the msg_ids inserted."""
    rows: dict[str, dict[str, Any]] = {}
    for message, body in received:
        rows.setdefault(message.msg_id, _row(message, body, now))
    table = CoderNotification.__table__
    statement = (
        dialect_insert(session, table)  # type: ignore[arg-type]
        .on_conflict_do_nothing()
        .returning(table.c.msg_id)
    )
    return {str(msg_id) for (msg_id,) in session.execute(statement, list(rows.values()))}


@dataclass
class _Waiting:
    message: WebhookMessage
    body: dict[str, Any]
    done: asyncio.Future[bool]


class NotificationIntake:
    """The webhook route over the bot's store. ``on_received`` (set by the alert engine's router) is called
    after each new notification is committed, so routing starts at once rather than at the next poll."""

    def __init__(self, database_url: str, secret: str, metrics: SlackBotMetrics | None = None) -> None:
        if not secret:
            raise ValueError("the notification intake needs a secret")
        # Its own synchronous engine, driven by one thread: a batch is one call into that thread (the async
        # driver's round trips per statement cost more than the INSERT itself under load).
        self._engine = create_sync_engine_for(database_url, single_connection=True)
        self._writers = sqlite_write_lock(database_url)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="notifications-intake")
        self._secret = secret.encode()
        self.metrics = metrics or METRICS
        self.on_received: Callable[[], None] | None = None
        self._waiting: asyncio.Queue[_Waiting] | None = None
        self._writer: asyncio.Task[None] | None = None

    def add_route(self, web_app: web.Application) -> None:
        web_app.router.add_post(ROUTE, self.handle)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None
        self._thread.shutdown(wait=True)
        self._engine.dispose()

    def _commit(self, received: list[tuple[WebhookMessage, dict[str, Any]]]) -> set[str]:
        # Coder waits for the answer: the batch goes before any background writer waiting for the file.
        turn = self._writers.urgent() if self._writers is not None else contextlib.nullcontext()
        with turn, Session(self._engine) as session, session.begin():
            return record_batch(session, received, utcnow())

    async def _record(self, message: WebhookMessage, body: dict[str, Any]) -> bool:
        """Whether the notification was new, once it is committed (with whatever arrived meanwhile)."""
        if self._waiting is None or self._writer is None or self._writer.done():
            self._waiting = asyncio.Queue()
            self._writer = asyncio.get_running_loop().create_task(
                self._write_batches(self._waiting), name="notifications-intake"
            )
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.put_nowait(_Waiting(message, body, done))
        return await done

    async def _write_batches(self, waiting: asyncio.Queue[_Waiting]) -> None:
        while True:
            batch = [await waiting.get()]
            while not waiting.empty() and len(batch) < 500:
                batch.append(waiting.get_nowait())
            try:
                received = [(w.message, w.body) for w in batch]
                new = await asyncio.get_running_loop().run_in_executor(self._thread, self._commit, received)
            except Exception as error:
                for item in batch:
                    if not item.done.done():
                        item.done.set_exception(error)
                continue
            answered: set[str] = set()
            for item in batch:
                msg_id = item.message.msg_id
                if not item.done.done():
                    item.done.set_result(msg_id in new and msg_id not in answered)
                answered.add(msg_id)

    def _secret_matches(self, offered: str) -> bool:
        return hmac.compare_digest(offered.encode(), self._secret)

    async def handle(self, request: web.Request) -> web.Response:
        if not self._secret_matches(request.match_info.get("secret", "")):
            # The same answer as any path that does not exist; nothing is logged.
            raise web.HTTPNotFound()
        try:
            message, body = await self._read(request)
        except Rejected as rejected:
            self.metrics.record_notification("rejected")
            return _plain(rejected.status, rejected.reason)
        try:
            new = await self._record(message, body)
        except Exception as error:
            log.error("could not record a Coder notification (%s); Coder will retry", type(error).__name__)
            return _plain(503, "the notification could not be recorded; retry later")
        self.metrics.record_notification("received" if new else "duplicate")
        if new and self.on_received is not None:
            self.on_received()
        return web.json_response(
            {"status": "recorded" if new else "duplicate", "msg_id": message.msg_id}, status=200
        )

    async def _read(self, request: web.Request) -> tuple[WebhookMessage, dict[str, Any]]:
        if request.content_type != "application/json":
            raise Rejected(415, "send the notification as application/json")
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            raise Rejected(413, f"the body is larger than {MAX_BODY_BYTES // 1024} KiB")
        chunks: list[bytes] = []
        size = 0
        while chunk := await request.content.read(64 * 1024):
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise Rejected(413, f"the body is larger than {MAX_BODY_BYTES // 1024} KiB")
            chunks.append(chunk)
        return parse_body(b"".join(chunks), request.headers.get(MESSAGE_ID_HEADER, ""))
