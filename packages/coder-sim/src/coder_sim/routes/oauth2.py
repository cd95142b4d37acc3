"""Coder's OAuth2 provider routes (v2 era, behind the sim's ``oauth2`` experiment switch).

Discovery ``/.well-known/oauth-authorization-server``, ``/oauth2/authorize`` (a consent page: pick a sim
user and Allow), ``/oauth2/tokens`` (authorization_code with PKCE S256, refresh_token), ``/oauth2/revoke``
and ``/api/v2/oauth2-provider/apps`` (register, list, get, delete, secrets). With the switch off every one
answers 404, as Coder does without the experiment.

Sim-only: ``GET /oauth2/authorize?...&sim_user=<username>`` skips the page and allows at once as that user
(tests complete the flow without a browser). Real Coder has no such parameter.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import BasicAuth, web

from ..clock import rfc3339
from ..context import context_of, current_user
from ..eras import Era
from ..errors import ROUTE_NOT_FOUND, ApiError, json_response, not_found, read_json, validation
from ..oauth2 import App, OAuth2Failure, OAuth2Provider

PREFIX = "/api/v2/oauth2-provider"
OAUTH2_ROOT_PATHS = ("/oauth2/", "/.well-known/")
OAUTH2_ERROR_KIND = "oauth2-error"


def _provider(request: web.Request) -> OAuth2Provider:
    provider = context_of(request).store.oauth2
    if not provider.enabled:
        raise ApiError(404, ROUTE_NOT_FOUND)
    return provider


def _now(request: web.Request) -> datetime:
    return context_of(request).clock.now()


def _oauth2_error(request: web.Request, failure: OAuth2Failure) -> web.Response:
    body = {"error": failure.error, "error_description": failure.description}
    context_of(request).record(request, failure.status, body, kind=OAUTH2_ERROR_KIND)
    return web.json_response(body, status=failure.status, headers={"Cache-Control": "no-store"})


def _base(request: web.Request) -> str:
    return str(request.url.origin())


# -- discovery ---------------------------------------------------------------------------------------


async def metadata(request: web.Request) -> web.StreamResponse:
    _provider(request)
    base = _base(request)
    return json_response(
        {
            "issuer": base,
            "authorization_endpoint": base + "/oauth2/authorize",
            "token_endpoint": base + "/oauth2/tokens",
            "registration_endpoint": base + "/oauth2/register",
            "revocation_endpoint": base + "/oauth2/revoke",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": [],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        }
    )


# -- authorize ----------------------------------------------------------------------------------------


def _authorize_request(request: web.Request, form: dict[str, str]) -> tuple[App, str, str, str]:
    """The app, redirect URI, state and PKCE challenge of an authorization request (query, then form).

    A bad client or redirect URI is answered here (never redirected to an unchecked URI)."""
    provider = _provider(request)
    values = {**form, **request.query}
    app = provider.apps.get(values.get("client_id", ""))
    if app is None:
        raise ApiError(400, "Invalid query params.", validations=[validation("client_id", "unknown client")])
    redirect_uri = values.get("redirect_uri") or app.callback_url
    if redirect_uri != app.callback_url:
        raise ApiError(
            400,
            "Invalid query params.",
            validations=[validation("redirect_uri", "does not match the app's callback URL")],
        )
    return app, redirect_uri, values.get("state", ""), values.get("code_challenge", "")


def _redirect(redirect_uri: str, params: dict[str, str]) -> web.Response:
    separator = "&" if "?" in redirect_uri else "?"
    return web.Response(status=302, headers={"Location": redirect_uri + separator + urlencode(params)})


def _allow(request: web.Request, username: str, form: dict[str, str]) -> web.Response:
    app, redirect_uri, state, challenge = _authorize_request(request, form)
    values = {**form, **request.query}
    ctx = context_of(request)
    if values.get("response_type", "code") != "code":
        return _redirect(redirect_uri, {"error": "unsupported_response_type", "state": state})
    if not challenge or values.get("code_challenge_method", "") != "S256":
        return _redirect(
            redirect_uri,
            {"error": "invalid_request", "error_description": "PKCE S256 is required", "state": state},
        )
    user = ctx.store.user_by_name(username)
    if user is None or user.status != "active":
        raise ApiError(400, f"coder-sim: no active user {username!r}")
    code = ctx.store.oauth2.issue_code(app, user.id, redirect_uri, challenge, _now(request))
    return _redirect(redirect_uri, {"code": code, "state": state})


CONSENT_PAGE = """<!doctype html>
<html><head><title>Authorize {app}</title></head>
<body><h1>Authorize {app}</h1>
<p>{app} wants to act on your behalf in Coder (coder-sim).</p>
<form method="post"><label>Sign in as <select name="sim_user">{users}</select></label>
{hidden}<button type="submit">Allow</button></form></body></html>
"""


async def authorize_page(request: web.Request) -> web.StreamResponse:
    app, _, _, _ = _authorize_request(request, {})
    sim_user = request.query.get("sim_user", "")
    if sim_user:  # sim-only: allow at once, as that user
        return _allow(request, sim_user, {})
    ctx = context_of(request)
    users = "".join(
        f'<option value="{html.escape(u.username)}">{html.escape(u.username)}</option>'
        for u in sorted(ctx.store.users.values(), key=lambda u: u.username)
        if u.status == "active"
    )
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in request.query.items()
    )
    return web.Response(
        text=CONSENT_PAGE.format(app=html.escape(app.name), users=users, hidden=hidden),
        content_type="text/html",
    )


async def authorize_allow(request: web.Request) -> web.StreamResponse:
    form = {key: str(value) for key, value in (await request.post()).items()}
    return _allow(request, form.get("sim_user", ""), form)


# -- token, revoke ------------------------------------------------------------------------------------


def _client_credentials(request: web.Request, form: dict[str, str]) -> tuple[str, str | None]:
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("basic "):
        try:
            basic = BasicAuth.decode(auth)
        except ValueError:
            raise OAuth2Failure("invalid_client", "Malformed basic credentials.", 401) from None
        return basic.login, basic.password
    return form.get("client_id", ""), form.get("client_secret")


def _token_body(grant_access: str, grant_refresh: str, expires_at: datetime, now: datetime) -> dict[str, Any]:
    return {
        "access_token": grant_access,
        "token_type": "Bearer",
        "refresh_token": grant_refresh,
        "expires_in": max(0, int((expires_at - now).total_seconds())),
        "expiry": rfc3339(expires_at),
    }


async def token(request: web.Request) -> web.StreamResponse:
    provider = _provider(request)
    form = {key: str(value) for key, value in (await request.post()).items()}
    grant_type = form.get("grant_type", "")
    now = _now(request)
    try:
        client_id, client_secret = _client_credentials(request, form)
        app = provider.client(client_id, client_secret, now)
        if grant_type == "authorization_code":
            code = provider.redeem_code(
                app, form.get("code", ""), form.get("redirect_uri", ""), form.get("code_verifier", ""), now
            )
            grant = provider.issue(app.id, code.user_id, now)
        elif grant_type == "refresh_token":
            old = provider.take_refresh(app, form.get("refresh_token", ""))
            grant = provider.issue(app.id, old.user_id, now)
        else:
            raise OAuth2Failure("unsupported_grant_type", f"Unsupported grant type {grant_type!r}.")
    except OAuth2Failure as failure:
        provider.token_requests.append((grant_type, failure.error))
        return _oauth2_error(request, failure)
    provider.token_requests.append((grant_type, "ok"))
    response = json_response(_token_body(grant.access_token, grant.refresh_token, grant.expires_at, now))
    response.headers["Cache-Control"] = "no-store"
    return response


async def revoke(request: web.Request) -> web.StreamResponse:
    provider = _provider(request)
    form = {key: str(value) for key, value in (await request.post()).items()}
    try:
        client_id, client_secret = _client_credentials(request, form)
        app = provider.client(client_id, client_secret, _now(request))
    except OAuth2Failure as failure:
        return _oauth2_error(request, failure)
    grant = provider.find(form.get("token", ""))
    if grant is not None and grant.app_id == app.id:  # RFC 7009: an unknown token is no error
        provider.drop(grant)
        provider.revoked += 1
    return web.Response(status=200)


# -- /api/v2/oauth2-provider/apps ---------------------------------------------------------------------


def _owner_only(request: web.Request) -> None:
    if not current_user(request).is_owner:
        raise ApiError(403, "Forbidden.")


def _render_app(request: web.Request, app: App) -> dict[str, Any]:
    base = _base(request)
    return {
        "id": app.id,
        "name": app.name,
        "callback_url": app.callback_url,
        "icon": app.icon,
        "endpoints": {
            "authorization": base + "/oauth2/authorize",
            "token": base + "/oauth2/tokens",
            "token_revoke": base + "/oauth2/revoke",
            "device_authorization": "",
        },
    }


def _app(request: web.Request) -> App:
    provider = _provider(request)
    _owner_only(request)
    app = provider.apps.get(request.match_info["app"])
    if app is None:
        raise not_found()
    return app


async def list_apps(request: web.Request) -> web.StreamResponse:
    provider = _provider(request)
    _owner_only(request)
    return json_response([_render_app(request, app) for app in provider.apps.values()])


async def create_app(request: web.Request) -> web.StreamResponse:
    provider = _provider(request)
    _owner_only(request)
    body = await read_json(request)
    name = str(body.get("name") or "").strip()
    callback_url = str(body.get("callback_url") or "").strip()
    problems = []
    if not name:
        problems.append(validation("name", 'Validation failed for tag "required" with value: ""'))
    if not callback_url.startswith(("http://", "https://")):
        problems.append(validation("callback_url", "must be an http(s) URL"))
    if problems:
        raise ApiError(400, "Invalid request.", validations=problems)
    if any(app.name == name for app in provider.apps.values()):
        raise ApiError(409, f"An OAuth2 app named {name!r} already exists.")
    ctx = context_of(request)
    app = App(ctx.sim.ids.uuid(), name, callback_url, str(body.get("icon") or ""))
    provider.apps[app.id] = app
    return json_response(_render_app(request, app))


async def get_app(request: web.Request) -> web.StreamResponse:
    return json_response(_render_app(request, _app(request)))


async def delete_app(request: web.Request) -> web.StreamResponse:
    app = _app(request)
    provider = context_of(request).store.oauth2
    del provider.apps[app.id]
    for grant in [g for g in provider.grants_by_access.values() if g.app_id == app.id]:
        provider.drop(grant)
    return web.Response(status=204)


async def list_secrets(request: web.Request) -> web.StreamResponse:
    app = _app(request)
    return json_response(
        [
            {
                "id": secret.id,
                "client_secret_truncated": secret.truncated,
                "last_used_at": rfc3339(secret.last_used_at) if secret.last_used_at else "",
            }
            for secret in app.secrets
        ]
    )


async def create_secret(request: web.Request) -> web.StreamResponse:
    app = _app(request)
    ctx = context_of(request)
    secret = ctx.store.oauth2.add_secret(app, ctx.sim.ids.uuid(), _now(request))
    return json_response([{"id": secret.id, "client_secret_full": secret.secret}])


def register(router: web.UrlDispatcher, era: Era) -> None:
    if era.name != "v2":
        return
    router.add_get("/.well-known/oauth-authorization-server", metadata)
    router.add_get("/oauth2/authorize", authorize_page)
    router.add_post("/oauth2/authorize", authorize_allow)
    router.add_post("/oauth2/tokens", token)
    router.add_post("/oauth2/revoke", revoke)
    router.add_get(PREFIX + "/apps", list_apps)
    router.add_post(PREFIX + "/apps", create_app)
    router.add_get(PREFIX + "/apps/{app}", get_app)
    router.add_delete(PREFIX + "/apps/{app}", delete_app)
    router.add_get(PREFIX + "/apps/{app}/secrets", list_secrets)
    router.add_post(PREFIX + "/apps/{app}/secrets", create_secret)
