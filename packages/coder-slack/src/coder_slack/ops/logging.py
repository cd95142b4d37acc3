"""Structured JSON logs, one line an event, with request ids and secrets redacted."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TextIO

from aiohttp import web
from aiohttp.typedefs import Handler

REDACTED = "[REDACTED]"

_REDACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Credentials inside URLs: scheme://user:password@host -> scheme://[REDACTED]@host
    (
        re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s:@\"'<>]+(?::[^/\s@\"'<>]*)?@"),
        rf"\g<scheme>{REDACTED}@",
    ),
    # Authorization: Bearer x / Basic x / a bare value; keep the scheme so the log still says what was sent.
    (
        re.compile(
            r"(?P<key>\bauthorization[\"']?\s*[:=]\s*[\"']?)(?P<scheme>(?:bearer|basic|token)\s+)?[^\s\"',;}]+",
            re.IGNORECASE,
        ),
        rf"\g<key>\g<scheme>{REDACTED}",
    ),
    # key=value or "key": "value" where the key names a secret (Coder-Session-Token, SLACK_BOT_TOKEN, ...).
    (
        re.compile(
            r"(?P<key>\b[\w-]*(?:password|passwd|secret|token|api[_-]?key|private[_-]?key|encryption[_-]?key)"
            r"[\"']?\s*[:=]\s*[\"']?)(?P<value>[^\s\"',;&}]+)",
            re.IGNORECASE,
        ),
        rf"\g<key>{REDACTED}",
    ),
    # Slack tokens: bot, user, app-level, refresh, configuration.
    (re.compile(r"\bxox[a-z]-[A-Za-z0-9-]+"), REDACTED),
    (re.compile(r"\bxapp-[A-Za-z0-9-]+"), REDACTED),
    # Coder API keys: <10-char id>-<22-char secret>.
    (re.compile(r"\b[A-Za-z0-9]{10}-[A-Za-z0-9]{22}\b"), REDACTED),
    # Fernet keys: URL-safe base64 of 32 bytes (43 characters and one '=').
    (re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}=(?![A-Za-z0-9_=-])"), REDACTED),
)


def redact(text: str) -> str:
    """`text` with every token, password, key and URL credential we recognise replaced by [REDACTED]."""
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "coderops_request_id", default=None
)

REQUEST_ID_HEADER = "X-Request-Id"
_ACCEPTABLE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def new_request_id() -> str:
    return uuid.uuid4().hex


@contextmanager
def bind_request_id(request_id: str | None = None) -> Iterator[str]:
    """Tag every log line in this block (and tasks it starts) with a request id."""
    value = request_id or new_request_id()
    token = request_id_var.set(value)
    try:
        yield value
    finally:
        request_id_var.reset(token)


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Take the caller's X-Request-Id when it is sane, else make one; echo it on the response.

    Tasks created while handling the request copy the context, so background work logs the same id.
    """
    offered = request.headers.get(REQUEST_ID_HEADER, "")
    with bind_request_id(offered if _ACCEPTABLE_REQUEST_ID.match(offered) else None) as request_id:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            exc.headers[REQUEST_ID_HEADER] = request_id
            raise
        response.headers[REQUEST_ID_HEADER] = request_id
        return response


class RedactionFilter(logging.Filter):
    """Rewrites a record's message and exception text with secrets redacted, before any handler sees them."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad %-format must not lose the line
            message = f"{record.msg!r} % {record.args!r}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


# Attributes every LogRecord has; anything else came from `extra=` and belongs in the JSON line.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
}


_SECRET_FIELD_NAME = re.compile(
    r"password|passwd|secret|token|api[_-]?key|private[_-]?key|encryption[_-]?key|authorization|cookie",
    re.IGNORECASE,
)


def _redacted_field(name: str, value: Any) -> Any:
    if value is not None and _SECRET_FIELD_NAME.search(name):
        return REDACTED
    return _redacted(value)


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _redacted_field(str(key), item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(item) for item in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(str(value))


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ts, level, logger, message, request_id, extra fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        request_id = request_id_var.get()
        if request_id is not None:
            line["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_") and key not in line:
                line[key] = _redacted_field(key, value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exc"] = redact(record.exc_text)
        if record.stack_info:
            line["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(line, ensure_ascii=False, default=str)


class _CoderopsHandler(logging.StreamHandler[TextIO]):
    """Ours, so that configuring twice replaces it instead of printing every line twice."""


def configure_logging(
    level: int | str = "INFO", *, stream: TextIO | None = None, json_lines: bool = True
) -> None:
    """Send every logger's records through one handler on the root logger: redacted, JSON by default.

    Call once at start-up (`coder-slack serve`). `json_lines=False` keeps redaction but prints plain text,
    for a person reading a terminal.
    """
    handler = _CoderopsHandler(stream if stream is not None else sys.stderr)
    handler.addFilter(RedactionFilter())
    plain = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler.setFormatter(JsonFormatter() if json_lines else plain)
    root = logging.getLogger()
    for existing in list(root.handlers):
        if isinstance(existing, _CoderopsHandler):
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else level.upper())
