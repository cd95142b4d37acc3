"""Coder's error bodies (codersdk.Response) and the JSON response helper every route uses."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

RESOURCE_NOT_FOUND = "Resource not found or you do not have access to this resource"
ROUTE_NOT_FOUND = "Route not found."
SIGNED_OUT = "You are signed out or your session has expired. Please sign in again to continue."
JSON_BODY_KEY = web.ResponseKey("coder_sim_json", object)


def dumps(body: Any) -> str:
    # Go's encoder: compact, and it escapes <, > and & inside strings.
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    response = web.Response(
        text=dumps(body) + "\n",
        status=status,
        content_type="application/json",
        charset="utf-8",
        headers=headers,
    )
    response[JSON_BODY_KEY] = body
    return response


def error_body(
    message: str, detail: str = "", validations: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"message": message}
    if detail:
        body["detail"] = detail
    if validations:
        body["validations"] = validations
    return body


class ApiError(Exception):
    """Raised by routes; the app turns it into ``{"message", "detail"?, "validations"?}``."""

    def __init__(
        self,
        status: int,
        message: str,
        detail: str = "",
        validations: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail
        self.validations = validations
        self.headers = headers

    def response(self) -> web.Response:
        return json_response(
            error_body(self.message, self.detail, self.validations), self.status, self.headers
        )


def not_found() -> ApiError:
    return ApiError(404, RESOURCE_NOT_FOUND)


def validation(field: str, detail: str) -> dict[str, str]:
    return {"field": field, "detail": detail}


async def read_json(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    try:
        body = json.loads(raw or b"null")
    except ValueError as exc:
        raise ApiError(400, "Request body must be valid JSON.", detail=str(exc)) from exc
    if not isinstance(body, dict):
        raise ApiError(400, "Request body must be valid JSON.", detail="expected a JSON object")
    return body
