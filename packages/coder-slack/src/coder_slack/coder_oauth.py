"""Sign in with Coder: the OAuth2 authorization code flow with PKCE against Coder's OAuth2 provider.

Coder offers the provider with its ``oauth2`` experiment; ``/.well-known/oauth-authorization-server``
says so (404 while it is off, and then ``/workspace login`` opens the token form as before).

1. ``/workspace login`` → :meth:`CoderSignIn.start`: a random ``state`` and PKCE verifier (S256), stored as
   a row of ``coder_oauth_states`` bound to the Slack team and user (the state only as its SHA-256, the
   verifier encrypted with the bot's key), expiring after ten minutes; the user gets a "Sign in with Coder"
   button to Coder's authorize URL.
2. Coder redirects the browser to ``GET /coder/oauth/callback?code&state`` on the bot's HTTP port →
   :meth:`CoderSignIn.finish`: the state's row is deleted first (single use; an unknown, replayed or expired
   state is refused before any code is exchanged), then the code is exchanged with the verifier at Coder's
   token endpoint, the access token checked with ``/users/me`` and stored like a pasted token
   (``user_links``, encrypted) and the refresh token in ``coder_oauth_grants`` (encrypted).
3. Before an access token expires (``CODER_SLACK_CODER_OAUTH_REFRESH_MARGIN_SECONDS``) the identity
   resolver calls :meth:`CoderSignIn.refresh` (Coder rotates both tokens); ``/workspace logout`` revokes
   the grant at Coder (:meth:`CoderSignIn.revoke`).

The protocol pieces (PKCE S256 challenge, random tokens, the authorize URI and the token/revocation
request bodies) are authlib's; the requests go out with httpx, which the Coder client uses too (authlib's
own httpx client integration is deprecated in favour of httpx2, which nothing else here needs).
No token, code, state or verifier is ever logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from aiohttp import web
from authlib.common.security import generate_token
from authlib.common.urls import add_params_to_qs
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7009.parameters import prepare_revoke_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from coder_client import (
    AsyncCoderClient,
    CoderClient,
    CoderError,
    Forbidden,
    OAuth2ServerMetadata,
    Unauthorized,
    User,
)
from sqlalchemy import delete, select

from coder_slack.crypto import TokenCipher, UndecryptableToken
from coder_slack.settings import Settings, secret
from coder_slack.store import CoderOAuthGrant, CoderOAuthState, SessionFactory, UserLink

log = logging.getLogger(__name__)

CALLBACK_PATH = "/coder/oauth/callback"
STATE_TTL = timedelta(minutes=10)
DISCOVERY_TTL_SECONDS = 60.0
# /workspace login must open the token form within Slack's 3 s trigger window when Coder is slow to answer.
DISCOVERY_BUDGET_SECONDS = 1.5
VERIFIER_LENGTH = 64  # RFC 7636: 43..128 unreserved characters
# coder_client needs a token; Coder's discovery route reads none.
DISCOVERY_TOKEN = "coderslack-oauth-discovery"  # noqa: S105 (a placeholder, not a secret)


class SignInFailed(Exception):
    """The sign-in did not complete; ``message`` is for the user (no secret in it)."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class GrantRefused(Exception):
    """Coder refused a refresh token (revoked, rotated elsewhere or expired)."""


@dataclass(frozen=True)
class CoderOAuthConfig:
    client_id: str
    client_secret: str = field(repr=False)
    redirect_url: str
    refresh_margin_seconds: float = 300.0

    @classmethod
    def from_settings(cls, settings: Settings) -> CoderOAuthConfig | None:
        client_id = (settings.coder_slack_coder_oauth_client_id or "").strip()
        client_secret = secret(settings.coder_slack_coder_oauth_client_secret).strip()
        redirect_url = (settings.coder_slack_coder_oauth_redirect_url or "").strip()
        if not (client_id and client_secret and redirect_url):
            return None
        return cls(
            client_id, client_secret, redirect_url, settings.coder_slack_coder_oauth_refresh_margin_seconds
        )


@dataclass(frozen=True)
class TokenSet:
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: datetime


@dataclass(frozen=True)
class SignedIn:
    team_id: str
    slack_user_id: str
    channel_id: str
    user: User


def _aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes for timezone-aware columns; they were stored as UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


class CoderSignIn:
    """The bot's OAuth2 client of Coder (one per process; state lives in the database, for every replica)."""

    def __init__(
        self,
        config: CoderOAuthConfig,
        coder_url: str,
        sessions: SessionFactory,
        cipher: TokenCipher,
        *,
        timeout: float = 20.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self.coder_url = coder_url.rstrip("/")
        self.sessions = sessions
        self.cipher = cipher
        self.now = now
        self._http = httpx.AsyncClient(timeout=timeout)
        self._coder = AsyncCoderClient(url=self.coder_url, token=DISCOVERY_TOKEN, timeout=timeout)
        self._metadata: tuple[float, OAuth2ServerMetadata | None] | None = None
        self.on_signed_in: Callable[[SignedIn], Awaitable[None]] | None = None
        """Told after a sign-in completes (the identity resolver links the account and tells the user)."""
        self.check_user: Callable[[str], Awaitable[User]] | None = None
        """Checks an access token with Coder's ``/users/me`` (set by the identity resolver)."""

    async def aclose(self) -> None:
        await self._http.aclose()
        await self._coder.aclose()

    # -- discovery ------------------------------------------------------------------------------------

    async def metadata(self) -> OAuth2ServerMetadata | None:
        """Coder's OAuth2 provider metadata, or None when it offers none (cached for a minute)."""
        cached = self._metadata
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        try:
            found = await asyncio.wait_for(self._coder.oauth2.metadata(), DISCOVERY_BUDGET_SECONDS)
        except (CoderError, TimeoutError) as exc:
            log.info("Coder's OAuth2 discovery failed (%s); offering the token form", type(exc).__name__)
            return None  # not cached: try again next time
        if found is None or "S256" not in found.code_challenge_methods_supported:
            found = None
        self._metadata = (time.monotonic() + DISCOVERY_TTL_SECONDS, found)
        return found

    # -- 1. start -------------------------------------------------------------------------------------

    async def start(self, team_id: str, slack_user_id: str, channel_id: str = "") -> str | None:
        """The authorize URL for this Slack user's sign-in, or None when Coder offers no OAuth2 provider."""
        metadata = await self.metadata()
        if metadata is None:
            return None
        state = generate_token(43)
        verifier = generate_token(VERIFIER_LENGTH)
        now = self.now()
        async with self.sessions() as session:
            await session.execute(delete(CoderOAuthState).where(CoderOAuthState.expires_at <= now))
            session.add(
                CoderOAuthState(
                    state_hash=state_hash(state),
                    team_id=team_id,
                    slack_user_id=slack_user_id,
                    channel_id=channel_id,
                    verifier_ciphertext=self.cipher.encrypt(verifier),
                    expires_at=now + STATE_TTL,
                    created_at=now,
                )
            )
            await session.commit()
        url: str = prepare_grant_uri(
            metadata.authorization_endpoint,
            self.config.client_id,
            "code",
            redirect_uri=self.config.redirect_url,
            state=state,
            code_challenge=create_s256_code_challenge(verifier),
            code_challenge_method="S256",
        )
        return url

    # -- 2. finish ------------------------------------------------------------------------------------

    async def _take_state(self, state: str) -> CoderOAuthState:
        """Delete and return the state's row: one caller wins it, once, and only before it expires."""
        if not state or len(state) > 256:
            raise SignInFailed("This sign-in link is not valid. Run `/workspace login` again.")
        async with self.sessions() as session:
            row = (
                await session.execute(
                    delete(CoderOAuthState)
                    .where(CoderOAuthState.state_hash == state_hash(state))
                    .returning(
                        CoderOAuthState.team_id,
                        CoderOAuthState.slack_user_id,
                        CoderOAuthState.channel_id,
                        CoderOAuthState.verifier_ciphertext,
                        CoderOAuthState.expires_at,
                    )
                )
            ).one_or_none()
            await session.commit()
        if row is None:
            raise SignInFailed(
                "This sign-in link is not valid or was already used. Run `/workspace login` again."
            )
        taken = CoderOAuthState(
            team_id=row.team_id,
            slack_user_id=row.slack_user_id,
            channel_id=row.channel_id,
            verifier_ciphertext=row.verifier_ciphertext,
            expires_at=_aware(row.expires_at),
        )
        if taken.expires_at <= self.now():
            raise SignInFailed("This sign-in link has expired. Run `/workspace login` again.")
        return taken

    async def finish(self, state: str, code: str, error: str = "") -> SignedIn:
        """Complete a sign-in from Coder's redirect; :class:`SignInFailed` says why not."""
        taken = await self._take_state(state)
        if error:
            raise SignInFailed(
                "Coder did not grant access"
                + (" (you declined)." if error == "access_denied" else f" ({error[:64]}).")
                + " Run `/workspace login` to try again."
            )
        if not code or len(code) > 512:
            raise SignInFailed("Coder sent no authorization code. Run `/workspace login` again.")
        metadata = await self.metadata()
        if metadata is None:
            raise SignInFailed(
                "Coder's sign-in is not available right now. Run `/workspace login` again.", status=502
            )
        try:
            verifier = self.cipher.decrypt(taken.verifier_ciphertext)
        except UndecryptableToken:
            raise SignInFailed(
                "The bot's key changed during your sign-in. Run `/workspace login` again."
            ) from None
        body = prepare_token_request(
            "authorization_code",
            code=code,
            redirect_uri=self.config.redirect_url,
            code_verifier=verifier,
            client_id=self.config.client_id,
            client_secret=self.config.client_secret,
        )
        try:
            tokens = await self._token_request(metadata.token_endpoint, body)
        except GrantRefused:
            raise SignInFailed(
                "Coder refused the sign-in (the code expired or was used). Run `/workspace login` again."
            ) from None
        check = self.check_user
        if check is None:
            raise RuntimeError("CoderSignIn.check_user is not set")
        try:
            user = await check(tokens.access_token)
        except CoderError as exc:
            raise SignInFailed(
                f"Coder did not accept the new token ({type(exc).__name__}).", status=502
            ) from None
        previous = await self.grant_of(taken.team_id, taken.slack_user_id)
        await self.store_tokens(taken.team_id, taken.slack_user_id, user, tokens)
        if previous is not None:  # signed in again: the earlier grant is given back to Coder
            await self.revoke(previous)
        signed_in = SignedIn(taken.team_id, taken.slack_user_id, taken.channel_id, user)
        if self.on_signed_in is not None:
            await self.on_signed_in(signed_in)
        return signed_in

    async def _token_request(self, endpoint: str, body: str) -> TokenSet:
        try:
            response = await self._http.post(
                endpoint,
                content=body,
                headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise SignInFailed(
                f"I couldn't reach Coder ({type(exc).__name__}). Try again in a minute.", status=502
            ) from None
        if response.status_code in (400, 401):
            error = _json(response).get("error", "")
            log.info("Coder's token endpoint refused a grant: %s", str(error)[:64])
            raise GrantRefused(str(error))
        if response.status_code != 200:
            raise SignInFailed(
                f"Coder's token endpoint answered {response.status_code}. Try again later.", status=502
            )
        payload = _json(response)
        access, refresh = str(payload.get("access_token") or ""), str(payload.get("refresh_token") or "")
        if not access:
            raise SignInFailed("Coder's token endpoint sent no access token.", status=502)
        try:
            expires_in = float(payload.get("expires_in") or 0)
        except (TypeError, ValueError):
            expires_in = 0.0
        expires_at = self.now() + timedelta(seconds=expires_in if expires_in > 0 else 3600)
        return TokenSet(access, refresh, expires_at)

    # -- storage ----------------------------------------------------------------------------------------

    async def store_tokens(self, team_id: str, slack_user_id: str, user: User, tokens: TokenSet) -> None:
        """The link (access token) and the grant (refresh token, expiry), encrypted, in one transaction."""
        access = self.cipher.encrypt(tokens.access_token)
        refresh = self.cipher.encrypt(tokens.refresh_token)
        async with self.sessions() as session:
            link = (
                await session.execute(
                    select(UserLink).where(
                        UserLink.team_id == team_id, UserLink.slack_user_id == slack_user_id
                    )
                )
            ).scalar_one_or_none()
            if link is None:
                session.add(
                    UserLink(
                        team_id=team_id,
                        slack_user_id=slack_user_id,
                        coder_user_id=user.id,
                        coder_username=user.username,
                        coder_url=self.coder_url,
                        token_ciphertext=access,
                    )
                )
            else:
                link.coder_user_id = user.id
                link.coder_username = user.username
                link.coder_url = self.coder_url
                link.token_ciphertext = access
            grant = await session.get(CoderOAuthGrant, (team_id, slack_user_id))
            if grant is None:
                session.add(
                    CoderOAuthGrant(
                        team_id=team_id,
                        slack_user_id=slack_user_id,
                        client_id=self.config.client_id,
                        refresh_token_ciphertext=refresh,
                        expires_at=tokens.expires_at,
                    )
                )
            else:
                grant.client_id = self.config.client_id
                grant.refresh_token_ciphertext = refresh
                grant.expires_at = tokens.expires_at
            await session.commit()

    async def grant_of(self, team_id: str, slack_user_id: str) -> CoderOAuthGrant | None:
        async with self.sessions() as session:
            return await session.get(CoderOAuthGrant, (team_id, slack_user_id))

    def needs_refresh(self, grant: CoderOAuthGrant) -> bool:
        margin = timedelta(seconds=self.config.refresh_margin_seconds)
        return _aware(grant.expires_at) - margin <= self.now()

    # -- 3. refresh, revoke -----------------------------------------------------------------------------

    async def refresh(self, team_id: str, slack_user_id: str, grant: CoderOAuthGrant) -> TokenSet:
        """New tokens for this grant, stored; :class:`GrantRefused` when Coder refuses the refresh token."""
        metadata = await self.metadata()
        if metadata is None:
            raise GrantRefused("Coder's OAuth2 provider is not available")
        try:
            refresh_token = self.cipher.decrypt(grant.refresh_token_ciphertext)
        except UndecryptableToken:
            raise GrantRefused("undecryptable refresh token") from None
        body = prepare_token_request(
            "refresh_token",
            refresh_token=refresh_token,
            client_id=self.config.client_id,
            client_secret=self.config.client_secret,
        )
        tokens = await self._token_request(metadata.token_endpoint, body)
        async with self.sessions() as session:
            link = (
                await session.execute(
                    select(UserLink).where(
                        UserLink.team_id == team_id, UserLink.slack_user_id == slack_user_id
                    )
                )
            ).scalar_one_or_none()
            stored = await session.get(CoderOAuthGrant, (team_id, slack_user_id))
            if link is None or stored is None:  # logged out meanwhile: give the new tokens back at once
                await session.rollback()
                await self._revoke_token(metadata, tokens.refresh_token)
                raise GrantRefused("logged out during the refresh")
            link.token_ciphertext = self.cipher.encrypt(tokens.access_token)
            stored.refresh_token_ciphertext = self.cipher.encrypt(tokens.refresh_token)
            stored.expires_at = tokens.expires_at
            await session.commit()
        return tokens

    async def revoke(self, grant: CoderOAuthGrant) -> bool:
        """Revoke the grant at Coder (its refresh token, and with it the access token); False if Coder could
        not be told."""
        metadata = await self.metadata()
        if metadata is None or not metadata.revocation_endpoint:
            return False
        try:
            refresh_token = self.cipher.decrypt(grant.refresh_token_ciphertext)
        except UndecryptableToken:
            return False
        return await self._revoke_token(metadata, refresh_token)

    async def _revoke_token(self, metadata: OAuth2ServerMetadata, token: str) -> bool:
        body, headers = prepare_revoke_token_request(token, "refresh_token")
        # client authentication in the body (client_secret_post), as at the token endpoint
        body = add_params_to_qs(
            body, [("client_id", self.config.client_id), ("client_secret", self.config.client_secret)]
        )
        try:
            response = await self._http.post(metadata.revocation_endpoint, content=body, headers=headers)
        except httpx.HTTPError as exc:
            log.warning("could not revoke a Coder grant: %s", type(exc).__name__)
            return False
        if response.status_code != 200:
            log.warning("Coder answered %s to a token revocation", response.status_code)
            return False
        return True

    # -- the callback route -----------------------------------------------------------------------------

    def add_route(self, web_app: web.Application) -> None:
        web_app.router.add_get(CALLBACK_PATH, self.callback)

    async def callback(self, request: web.Request) -> web.Response:
        """Coder's redirect after "Allow" (or "Deny"): a small page telling the user what happened."""
        query = request.query
        try:
            signed_in = await self.finish(
                query.get("state", ""), query.get("code", ""), query.get("error", "")
            )
        except SignInFailed as failure:
            return _page("Sign-in failed", failure.message, failure.status)
        except Exception as exc:
            log.error("Sign in with Coder failed: %s", type(exc).__name__)
            return _page("Sign-in failed", "Something went wrong. Run `/workspace login` again.", 500)
        return _page(
            "Signed in",
            f"Your Slack account is now linked to Coder user {signed_in.user.username}. "
            "You can close this tab and go back to Slack.",
            200,
        )


def register_coder_app(settings: Settings, name: str, callback_url: str) -> str:
    """``coder-slack register-coder-app``: register (or reuse) the OAuth2 app, make a client secret, and
    return the bot's settings as environment lines. ValueError: a one-line reason."""
    if not callback_url.startswith(("https://", "http://")) or not callback_url.rstrip("/").endswith(
        CALLBACK_PATH
    ):
        raise ValueError(f"--callback-url must be the bot's public http(s) URL ending in {CALLBACK_PATH}")
    token = secret(settings.coder_session_token)
    if not settings.coder_url or not token:
        raise ValueError("set CODER_URL and CODER_SESSION_TOKEN (an owner's token), or run `coder login`")
    try:
        with CoderClient(url=settings.coder_url, token=token, timeout=30) as client:
            if client.oauth2.metadata() is None:
                raise ValueError(
                    f"Coder at {settings.coder_url} offers no OAuth2 provider: start it with the "
                    "experiment switched on (CODER_EXPERIMENTS=oauth2)"
                )
            app = next(
                (a for a in client.oauth2.apps() if a.name == name and a.callback_url == callback_url), None
            )
            if app is None:
                app = client.oauth2.create_app(name, callback_url)
            created = client.oauth2.create_secret(app.id)
    except Forbidden:
        raise ValueError("Coder refused: registering an OAuth2 app needs an owner's token") from None
    except Unauthorized:
        raise ValueError("Coder did not accept CODER_SESSION_TOKEN (wrong or expired)") from None
    except CoderError as exc:
        raise ValueError(f"Coder refused to register the app: {exc}") from None
    return "\n".join(
        [
            f"# OAuth2 app {app.name!r} ({app.id}) in Coder; the secret is shown once",
            f"CODER_SLACK_CODER_OAUTH_CLIENT_ID={app.id}",
            f"CODER_SLACK_CODER_OAUTH_CLIENT_SECRET={created.client_secret_full}",
            f"CODER_SLACK_CODER_OAUTH_REDIRECT_URL={callback_url}",
        ]
    )


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title></head>
<body style="font-family: sans-serif; max-width: 36em; margin: 4em auto">
<h1>{title}</h1><p>{text}</p></body></html>
"""


def _page(title: str, text: str, status: int) -> web.Response:
    return web.Response(
        text=PAGE.format(title=html.escape(title), text=html.escape(text)),
        status=status,
        content_type="text/html",
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


__all__ = [
    "CALLBACK_PATH",
    "STATE_TTL",
    "CoderOAuthConfig",
    "CoderSignIn",
    "GrantRefused",
    "SignInFailed",
    "SignedIn",
    "TokenSet",
    "register_coder_app",
]
