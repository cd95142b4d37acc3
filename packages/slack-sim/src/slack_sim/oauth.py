"""Installing the app over OAuth v2, as Slack does it: several teams, per-team bot tokens, token rotation.

- ``GET /oauth/v2/authorize`` is Slack's consent page: a small HTML page listing the stand-in's teams, each
  with an "Allow" link; ``sim_allow=1`` (stand-in only, for tests) is that click: the browser is redirected
  to ``redirect_uri`` with ``code`` and the ``state`` it came with (``team`` picks the team).
- ``oauth.v2.access`` exchanges a code (once, with the app's client id and secret and the same
  ``redirect_uri``) for a bot token of that team; with rotation on, tokens expire after ``token_lifetime``
  seconds and come with a refresh token (``grant_type=refresh_token``) that gives a new bot token.
- Every token the stand-in issued answers ``auth.test`` with its own team, is refused as
  ``token_revoked`` once its team uninstalled the app (:meth:`OAuthApps.uninstall`), and as
  ``token_expired`` when expired. Tokens it did not issue (``xoxb-test`` in most tests) are the default
  team's, as before.

Docs: https://docs.slack.dev/authentication/installing-with-oauth,
https://docs.slack.dev/reference/methods/oauth.v2.access, https://docs.slack.dev/authentication/using-token-rotation.
"""

from __future__ import annotations

import base64
import html
import itertools
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from slack_sim.identity import APP_ID, BOT_ID, BOT_USER_ID, TEAM_ID, TEAM_NAME

CLIENT_ID = "1111.2222"
CLIENT_SECRET = "stand-in-client-secret"  # noqa: S105 - the stand-in's well-known test value
AUTHORIZE_PATH = "/oauth/v2/authorize"


@dataclass(frozen=True)
class Team:
    id: str
    name: str
    bot_user_id: str
    bot_id: str
    installer: str = "U0ADMIN"


DEFAULT_TEAM = Team(TEAM_ID, TEAM_NAME, BOT_USER_ID, BOT_ID)


@dataclass
class IssuedToken:
    team_id: str
    expires_at: float | None = None
    revoked: bool = False


@dataclass
class OAuthApps:
    """The app's OAuth registration and what it issued (thread-safe)."""

    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    rotation: bool = False
    redirect_uri: str = ""
    """The redirect URL registered in the app's settings: where consent sends the browser when the authorize
    URL names none."""
    token_lifetime: float = 43200.0  # Slack's: 12 hours
    teams: dict[str, Team] = field(default_factory=lambda: {TEAM_ID: DEFAULT_TEAM})
    lock: threading.RLock = field(default_factory=threading.RLock)
    _codes: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # code → (team, redirect, scope)
    _tokens: dict[str, IssuedToken] = field(default_factory=dict)
    _refresh: dict[str, tuple[str, str]] = field(default_factory=dict)  # refresh token → (team, scope)
    _serial: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def add_team(self, team_id: str, name: str) -> Team:
        suffix = team_id.removeprefix("T")
        team = Team(team_id, name, f"U{suffix}BOT", f"B{suffix}")
        with self.lock:
            self.teams[team_id] = team
        return team

    def team(self, team_id: str) -> Team | None:
        with self.lock:
            return self.teams.get(team_id)

    # ----------------------------------------------------------------- consent page

    def grant(self, team_id: str, redirect_uri: str, scope: str) -> str:
        """The code Slack puts in the redirect after "Allow" in ``team_id``."""
        code = f"{next(self._serial)}.{secrets.token_hex(8)}"
        with self.lock:
            self._codes[code] = (team_id, redirect_uri, scope)
        return code

    async def authorize(self, request: web.Request) -> web.Response:
        query = request.query
        if query.get("client_id") != self.client_id:
            return web.Response(status=400, text="invalid_client_id")
        redirect_uri = query.get("redirect_uri", "") or self.redirect_uri
        if not redirect_uri or (self.redirect_uri and redirect_uri != self.redirect_uri):
            return web.Response(status=400, text="bad_redirect_uri")
        team_id = query.get("team") or TEAM_ID
        if self.team(team_id) is None:
            return web.Response(status=400, text="unknown team")
        if query.get("sim_allow") == "1":
            code = self.grant(team_id, redirect_uri, query.get("scope", ""))
            back = {"code": code} | ({"state": query["state"]} if "state" in query else {})
            raise web.HTTPFound(f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{urlencode(back)}")
        with self.lock:
            teams = list(self.teams.values())
        links = "".join(
            f'<li><a href="{html.escape(_allow_link(dict(query), t.id))}">'
            f"Allow in {html.escape(t.name)} ({t.id})</a></li>"
            for t in teams
        )
        scopes = html.escape(query.get("scope", ""))
        page = (
            "<!doctype html><title>Install coder-slack</title>"
            f"<h1>coder-slack wants to join your workspace</h1><p>Scopes: {scopes}</p><ul>{links}</ul>"
        )
        return web.Response(text=page, content_type="text/html")

    # ----------------------------------------------------------------- oauth.v2.access

    def _client_ok(self, args: dict[str, Any], authorization: str) -> bool:
        client_id, client_secret = args.get("client_id"), args.get("client_secret")
        if authorization.startswith("Basic "):
            with_colon = base64.b64decode(authorization.removeprefix("Basic ")).decode(errors="replace")
            client_id, _, client_secret = with_colon.partition(":")
        return client_id == self.client_id and client_secret == self.client_secret

    def _issue(self, team: Team, scope: str) -> dict[str, Any]:
        prefix = "xoxe.xoxb" if self.rotation else "xoxb"
        token = f"{prefix}-{team.id}-{next(self._serial)}-{secrets.token_hex(6)}"
        answer: dict[str, Any] = {
            "ok": True,
            "app_id": APP_ID,
            "authed_user": {"id": team.installer},
            "scope": scope,
            "token_type": "bot",
            "access_token": token,
            "bot_user_id": team.bot_user_id,
            "team": {"id": team.id, "name": team.name},
            "enterprise": None,
            "is_enterprise_install": False,
        }
        with self.lock:
            issued = IssuedToken(team.id)
            if self.rotation:
                refresh = f"xoxe-1-{team.id}-{secrets.token_hex(8)}"
                self._refresh[refresh] = (team.id, scope)
                issued.expires_at = time.time() + self.token_lifetime
                answer |= {"refresh_token": refresh, "expires_in": int(self.token_lifetime)}
            self._tokens[token] = issued
        return answer

    def access(self, args: dict[str, Any], authorization: str) -> dict[str, Any]:
        if not self._client_ok(args, authorization):
            return {"ok": False, "error": "invalid_client_id"}
        if args.get("grant_type") == "refresh_token":
            with self.lock:  # a refresh token stays good until its team uninstalls (replicas may race)
                found = self._refresh.get(str(args.get("refresh_token") or ""))
            if found is None:
                return {"ok": False, "error": "invalid_refresh_token"}
            team = self.team(found[0])
            return (
                {"ok": False, "error": "invalid_refresh_token"}
                if team is None
                else self._issue(team, found[1])
            )
        code = str(args.get("code") or "")
        with self.lock:
            grant = self._codes.get(code)
            if grant is None:
                return {"ok": False, "error": "invalid_code"}
            team_id, redirect_uri, scope = grant
            if args.get("redirect_uri", redirect_uri) != redirect_uri:
                return {"ok": False, "error": "bad_redirect_uri"}
            del self._codes[code]  # a code is good once
        team = self.team(team_id)
        if team is None:
            return {"ok": False, "error": "invalid_code"}
        return self._issue(team, scope)

    # ----------------------------------------------------------------- tokens

    def check(self, token: str) -> tuple[Team, str | None]:
        """The token's team, and the error Slack gives for it (None: the token works)."""
        with self.lock:
            issued = self._tokens.get(token)
            if issued is None:
                return DEFAULT_TEAM, None
            team = self.teams.get(issued.team_id, DEFAULT_TEAM)
            if issued.revoked:
                return team, "token_revoked"
            if issued.expires_at is not None and time.time() >= issued.expires_at:
                return team, "token_expired"
            return team, None

    def tokens_of(self, team_id: str) -> list[str]:
        """The bot tokens issued to ``team_id`` that still work."""
        with self.lock:
            return [
                t for t, issued in self._tokens.items() if issued.team_id == team_id and not issued.revoked
            ]

    def uninstall(self, team_id: str) -> None:
        """The team uninstalled the app: every token issued to it is revoked."""
        with self.lock:
            for issued in self._tokens.values():
                if issued.team_id == team_id:
                    issued.revoked = True
            self._refresh = {r: grant for r, grant in self._refresh.items() if grant[0] != team_id}

    def expire_tokens(self, team_id: str) -> None:
        """Time passes: the team's current bot tokens expire now (token rotation)."""
        with self.lock:
            for issued in self._tokens.values():
                if issued.team_id == team_id and issued.expires_at is not None:
                    issued.expires_at = time.time()

    def identity(self, team: Team) -> dict[str, Any]:
        """What ``auth.test`` says of a token of ``team``."""
        return {"team": team.name, "team_id": team.id, "user_id": team.bot_user_id, "bot_id": team.bot_id}


def _allow_link(query: dict[str, str], team_id: str) -> str:
    return AUTHORIZE_PATH + "?" + urlencode({**query, "team": team_id, "sim_allow": "1"})
