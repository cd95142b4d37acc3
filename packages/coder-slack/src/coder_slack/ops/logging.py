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
from coder_client import is_secret_name
from coder_client import redact as redact_secrets

REDACTED = "[REDACTED]"


def redact(text: str) -> str:
    """`text` with every secret coder_client recognises (tokens, passwords, keys) replaced by [REDACTED]."""
    return redact_secrets(text, marker=REDACTED)


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


def _redacted_field(name: str, value: Any) -> Any:
    if value is not None and is_secret_name(name):
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
