"""Coder's API key extraction (httpmw/apikey.go): cookie, query, header, and Bearer on v2."""

from __future__ import annotations

from aiohttp import web

from .eras import Era
from .errors import SIGNED_OUT, ApiError
from .model import User
from .store import Store

SESSION_COOKIE = "coder_session_token"
SESSION_HEADER = "Coder-Session-Token"


def token_from_request(request: web.Request, era: Era) -> str:
    candidates = [
        request.cookies.get(SESSION_COOKIE, ""),
        request.query.get(SESSION_COOKIE, ""),
        request.headers.get(SESSION_HEADER, ""),
    ]
    if era.bearer_auth:
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        candidates.append(credentials.strip() if scheme.lower() == "bearer" else "")
        candidates.append(request.query.get("access_token", ""))
    return next((candidate for candidate in candidates if candidate), "")


def authenticate(request: web.Request, store: Store, era: Era) -> User:
    token = token_from_request(request, era)
    if not token:
        raise ApiError(
            401, SIGNED_OUT, detail=f'Cookie "{SESSION_COOKIE}" or query parameter must be provided.'
        )
    user = store.user_by_token(token)
    if user is None:
        if token.count("-") < 1:
            raise ApiError(
                401, SIGNED_OUT, detail="Invalid API key format: incorrect amount of API key parts."
            )
        raise ApiError(401, SIGNED_OUT, detail="API key is invalid.")
    if user.status != "active":
        raise ApiError(
            401,
            f'User is not active (status = "{user.status}"). Contact an admin to reactivate your account.',
        )
    return user


def user_for_rate_limit(request: web.Request, store: Store, era: Era) -> User | None:
    token = token_from_request(request, era)
    return store.user_by_token(token) if token else None
