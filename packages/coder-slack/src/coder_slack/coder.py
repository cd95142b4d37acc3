"""Coder access for the bot: one client per token, user lookup by e-mail, and errors in plain words."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections import OrderedDict
from collections.abc import Sequence

from coder_client import (
    AsyncCoderClient,
    CoderAPIError,
    CoderConnectionError,
    CoderError,
    Conflict,
    Forbidden,
    InvalidArgument,
    InvalidParameters,
    NotFound,
    RateLimited,
    Unauthorized,
    User,
    ValidationFailed,
)

log = logging.getLogger(__name__)


class CoderPool:
    """AsyncCoderClients keyed by token (the service token's, and each linked user's), closed on eviction."""

    def __init__(self, url: str, service_token: str | None, timeout: float, max_clients: int = 256) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._service_token = service_token or None
        self._clients: OrderedDict[str, AsyncCoderClient] = OrderedDict()
        self._max = max_clients
        self._closing: set[asyncio.Task[None]] = set()

    @property
    def has_service_token(self) -> bool:
        return self._service_token is not None

    def service(self) -> AsyncCoderClient:
        if self._service_token is None:
            raise RuntimeError("no service token configured")
        return self.for_token(self._service_token)

    def for_token(self, token: str) -> AsyncCoderClient:
        key = hashlib.sha256(token.encode()).hexdigest()
        client = self._clients.get(key)
        if client is None:
            client = AsyncCoderClient(url=self.url, token=token, timeout=self.timeout)
            self._clients[key] = client
            while len(self._clients) > self._max:
                _, evicted = self._clients.popitem(last=False)
                task = asyncio.ensure_future(evicted.aclose())
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
        else:
            self._clients.move_to_end(key)
        return client

    async def aclose(self) -> None:
        clients = list(self._clients.values())
        self._clients.clear()
        await asyncio.gather(*(client.aclose() for client in clients), return_exceptions=True)

    async def find_user_by_email(self, email: str) -> User | None:
        """The Coder user with exactly this e-mail (any case), looked up with the service token.

        Coder's user search matches part of a username or e-mail, so the matches are compared exactly here.
        On Coder v2 a member's token sees only its own user: the service token must be an owner's (or a
        user admin's) for this to find anyone else.
        """
        wanted = email.strip().lower()
        if not wanted:
            return None
        try:
            matches = await self.service().users.list(wanted)
        except ValidationFailed:  # an address the search syntax cannot carry (e.g. a ':' in it)
            return None
        return next((user for user in matches if user.email.lower() == wanted), None)


def _validation_lines(exc: CoderAPIError) -> list[str]:
    return [f"`{item.field}`: {item.detail}" for item in exc.validations]


def explain(exc: BaseException, *, linked: bool = False, what: str = "") -> tuple[str, list[str]]:
    """A sentence for Slack (and detail bullets) saying what went wrong and what to do; never a traceback."""
    subject = f" {what}" if what else ""
    if isinstance(exc, InvalidParameters):
        return (
            f"Those parameters don't fit template `{exc.template}`:",
            [f"`{e.field}`: {e.detail}" for e in exc.errors],
        )
    if isinstance(exc, Unauthorized):
        if linked:
            return (
                "Coder no longer accepts your linked token. Run `/workspace login` to link a fresh one.",
                [],
            )
        return (
            "The bot's own Coder token was refused. Tell whoever runs the bot to renew CODER_SESSION_TOKEN.",
            [],
        )
    if isinstance(exc, NotFound):
        if exc.route_missing:
            return (
                "This Coder server doesn't support that operation (the route is missing; it may be too old).",
                [],
            )
        return (f"I can't find{subject} in Coder, or you may not see it. `/workspace list` shows yours.", [])
    if isinstance(exc, Forbidden):
        return (f"Coder says you may not do that: {exc.message}", _validation_lines(exc))
    if isinstance(exc, Conflict):
        return (f"Coder refused: {exc.message}", _validation_lines(exc))
    if isinstance(exc, ValidationFailed):
        return (f"Coder rejected the request: {exc.message}", _validation_lines(exc))
    if isinstance(exc, RateLimited):
        return ("Coder is rate-limiting requests right now; try again in a minute.", [])
    if isinstance(exc, CoderAPIError) and exc.status_code >= 500:
        return (f"Coder had an internal error ({exc.status_code}): {exc.message}. Try again shortly.", [])
    if isinstance(exc, CoderAPIError):
        return (f"Coder refused: {exc.message}", _validation_lines(exc))
    if isinstance(exc, CoderConnectionError):
        return ("I can't reach Coder right now (it may be down or restarting). Try again in a minute.", [])
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return ("Coder is too slow to answer right now; I gave up waiting. Try again in a minute.", [])
    if isinstance(exc, InvalidArgument | CoderError):
        return (str(exc), [])
    reference = uuid.uuid4().hex[:8]
    log.error("unexpected error (ref %s): %s", reference, exc.__class__.__name__, exc_info=exc)
    return (f"Something went wrong on my side (reference `{reference}`); it has been logged.", [])


def outcome_of(exc: BaseException) -> str:
    """Metric label for how a command ended."""
    if isinstance(exc, Forbidden | Unauthorized):
        return "denied"
    if isinstance(exc, CoderError):
        return "coder_error"
    return "error"


def field_errors(exc: BaseException) -> Sequence[tuple[str, str]]:
    if isinstance(exc, InvalidParameters):
        return [(e.field, e.detail) for e in exc.errors]
    if isinstance(exc, CoderAPIError):
        return [(v.field, v.detail) for v in exc.validations]
    return []
