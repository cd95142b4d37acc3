"""Drivers that execute the shared operations over httpx: one blocking, one async.

Why the sync client is built on ``httpx.Client`` rather than on a loop thread: the endpoint table and
every multi-step operation are I/O-free generators (``endpoints.py``, ``operations.py``), so the only
code that differs between sync and async is the ~20 lines of each driver below. The blocking driver
then costs exactly what ``httpx.Client`` costs: no event loop per call, no thread hop per call, and it
works unchanged inside Jupyter kernels and other threads that already run an asyncio loop.
"""

from __future__ import annotations

import time
from typing import Any, TypeVar

import anyio
import httpx
from pydantic import ValidationError as PydanticValidationError

from .endpoints import Call, Op, Sleep, Step
from .errors import CoderAPIError, CoderConnectionError, CoderError, FieldError, RateLimited, error_class_for
from .models import Response
from .retry import RetryPolicy, rate_limit_wait

T = TypeVar("T")

__all__ = ["AsyncTransport", "SyncTransport", "api_error", "finish"]


def api_error(method: str, path: str, response: httpx.Response) -> CoderAPIError:
    """Map an error answer to the matching :class:`CoderAPIError` subclass, keeping Coder's own words."""
    try:
        body = Response.model_validate_json(response.content)
        message, detail = body.message, body.detail or None
        validations = [FieldError(v.field, v.detail) for v in body.validations]
    except PydanticValidationError:
        message = response.text.strip()[:300] or response.reason_phrase or "no message"
        detail, validations = None, []
    except httpx.ResponseNotRead:
        message, detail, validations = response.reason_phrase or "no message", None, []
    error_class = error_class_for(response.status_code)
    fields: dict[str, Any] = {
        "status_code": response.status_code,
        "message": message or response.reason_phrase,
        "detail": detail,
        "validations": validations,
        "method": method,
        "path": path,
    }
    if error_class is RateLimited:
        return RateLimited(retry_after=rate_limit_wait(response), **fields)
    return error_class(**fields)


def finish(call: Call[T], response: httpx.Response) -> T:
    if response.is_success:
        try:
            return call.parse(response)
        except PydanticValidationError as exc:
            raise CoderError(
                f"Coder's answer to {call.method} {call.url_path} did not have the expected shape "
                f"({exc.error_count()} problems, first: {exc.errors()[0]['msg']}). Is the URL really a Coder "
                "server, and is it a supported version?"
            ) from None
    raise api_error(call.method, call.url_path, response)


def _request(http: httpx.Client | httpx.AsyncClient, call: Call[Any]) -> httpx.Request:
    return http.build_request(call.method, call.url_path, params=call.params, json=call.json)


def _connection_error(call: Call[Any], exc: httpx.TransportError) -> CoderConnectionError:
    reason = str(exc) or type(exc).__name__
    return CoderConnectionError(call.method, call.url_path, reason)


class SyncTransport:
    def __init__(self, http: httpx.Client, retry: RetryPolicy) -> None:
        self.http = http
        self.retry = retry

    def execute(self, call: Call[T]) -> T:
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.http.send(_request(self.http, call))
            except httpx.TransportError as exc:
                delay = self.retry.delay_after_error(call.method, attempt, exc)
                if delay is None:
                    raise _connection_error(call, exc) from None
            else:
                delay = self.retry.delay_after_response(call.method, attempt, response)
                if delay is None:
                    return finish(call, response)
            time.sleep(delay)

    def run(self, op: Op[T]) -> T:
        reply: Any = None
        failure: CoderError | None = None
        while True:
            try:
                step: Step = op.throw(failure) if failure is not None else op.send(reply)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            reply, failure = None, None
            if isinstance(step, Sleep):
                time.sleep(step.seconds)
                continue
            try:
                reply = self.execute(step)
            except CoderError as exc:
                failure = exc


class AsyncTransport:
    def __init__(self, http: httpx.AsyncClient, retry: RetryPolicy) -> None:
        self.http = http
        self.retry = retry

    async def execute(self, call: Call[T]) -> T:
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self.http.send(_request(self.http, call))
            except httpx.TransportError as exc:
                delay = self.retry.delay_after_error(call.method, attempt, exc)
                if delay is None:
                    raise _connection_error(call, exc) from None
            else:
                delay = self.retry.delay_after_response(call.method, attempt, response)
                if delay is None:
                    return finish(call, response)
            await anyio.sleep(delay)

    async def run(self, op: Op[T]) -> T:
        reply: Any = None
        failure: CoderError | None = None
        while True:
            try:
                step: Step = op.throw(failure) if failure is not None else op.send(reply)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            reply, failure = None, None
            if isinstance(step, Sleep):
                await anyio.sleep(step.seconds)
                continue
            try:
                reply = await self.execute(step)
            except CoderError as exc:
                failure = exc
