"""Coder's OAuth2 provider (experiment ``oauth2``, coderd/oauth2provider): apps, codes, tokens.

What the sim keeps: registered apps and their secrets, authorization codes (single use, 10 minutes,
bound to the app, the user, the exact redirect URI and a PKCE S256 challenge), and the token pairs it
issued. An access token is an API key of its user, so it works as a session token on the sim's API until
it expires (``access_token_lifetime`` seconds of the simulated clock), is refreshed (Coder rotates: the old
pair stops working) or is revoked.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

CODE_LIFETIME = timedelta(minutes=10)
DEFAULT_ACCESS_TOKEN_LIFETIME = 3600.0


class OAuth2Failure(Exception):
    """An RFC 6749 error: ``error`` is its code (invalid_grant, invalid_client, …)."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


@dataclass
class AppSecret:
    id: str
    secret: str
    created_at: datetime
    last_used_at: datetime | None = None

    @property
    def truncated(self) -> str:
        return self.secret[:10] + "…"


@dataclass
class App:
    id: str
    name: str
    callback_url: str
    icon: str
    secrets: list[AppSecret] = field(default_factory=list)


@dataclass
class Code:
    app_id: str
    user_id: str
    redirect_uri: str
    challenge: str
    expires_at: datetime


@dataclass
class Grant:
    """One issued pair: its access token (an API key of the user) and its refresh token."""

    app_id: str
    user_id: str
    access_token: str
    refresh_token: str
    expires_at: datetime


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass
class OAuth2Provider:
    """The provider's state; ``enabled`` is the ``oauth2`` experiment switch."""

    enabled: bool = False
    access_token_lifetime: float = DEFAULT_ACCESS_TOKEN_LIFETIME
    apps: dict[str, App] = field(default_factory=dict)
    codes: dict[str, Code] = field(default_factory=dict)
    grants_by_access: dict[str, Grant] = field(default_factory=dict)
    grants_by_refresh: dict[str, Grant] = field(default_factory=dict)
    # what the token endpoint was asked, for tests: (grant_type, outcome)
    token_requests: list[tuple[str, str]] = field(default_factory=list)
    revoked: int = 0

    # -- apps ---------------------------------------------------------------------------------------

    def add_secret(self, app: App, secret_id: str, now: datetime) -> AppSecret:
        secret = AppSecret(secret_id, "coder_" + secrets.token_urlsafe(32), now)
        app.secrets.append(secret)
        return secret

    def client(self, client_id: str, client_secret: str | None, now: datetime) -> App:
        app = self.apps.get(client_id)
        if app is None:
            raise OAuth2Failure("invalid_client", "Unknown client.", 401)
        if client_secret is not None:
            for secret in app.secrets:
                if hmac.compare_digest(secret.secret, client_secret):
                    secret.last_used_at = now
                    return app
        raise OAuth2Failure("invalid_client", "Invalid client secret.", 401)

    # -- authorization codes ------------------------------------------------------------------------

    def issue_code(self, app: App, user_id: str, redirect_uri: str, challenge: str, now: datetime) -> str:
        code = "coder_" + secrets.token_urlsafe(24)
        self.codes[code] = Code(app.id, user_id, redirect_uri, challenge, now + CODE_LIFETIME)
        return code

    def redeem_code(self, app: App, code: str, redirect_uri: str, verifier: str, now: datetime) -> Code:
        found = self.codes.pop(code, None)  # single use, whatever happens next
        if found is None or found.app_id != app.id or found.expires_at <= now:
            raise OAuth2Failure("invalid_grant", "The authorization code is invalid or expired.")
        if redirect_uri != found.redirect_uri:
            raise OAuth2Failure("invalid_grant", "The redirect_uri does not match the authorization request.")
        if not verifier or not hmac.compare_digest(s256(verifier), found.challenge):
            raise OAuth2Failure("invalid_grant", "The code_verifier does not match the code_challenge.")
        return found

    # -- tokens -------------------------------------------------------------------------------------

    def issue(self, app_id: str, user_id: str, now: datetime) -> Grant:
        grant = Grant(
            app_id=app_id,
            user_id=user_id,
            # an API key in Coder's <10-char id>-<22-char secret> shape, so it works as a session token
            access_token=f"{secrets.token_hex(5)}-{secrets.token_urlsafe(16)[:22]}",
            refresh_token="coder_" + secrets.token_urlsafe(32),
            expires_at=now + timedelta(seconds=self.access_token_lifetime),
        )
        self.grants_by_access[grant.access_token] = grant
        self.grants_by_refresh[grant.refresh_token] = grant
        return grant

    def take_refresh(self, app: App, refresh_token: str) -> Grant:
        grant = self.grants_by_refresh.get(refresh_token)
        if grant is None or grant.app_id != app.id:
            raise OAuth2Failure("invalid_grant", "The refresh token is invalid or expired.")
        self.drop(grant)
        return grant

    def drop(self, grant: Grant) -> None:
        self.grants_by_access.pop(grant.access_token, None)
        self.grants_by_refresh.pop(grant.refresh_token, None)

    def find(self, token: str) -> Grant | None:
        return self.grants_by_access.get(token) or self.grants_by_refresh.get(token)

    def user_of_access_token(self, token: str, now: datetime) -> str | None:
        grant = self.grants_by_access.get(token)
        if grant is None or grant.expires_at <= now:
            return None
        return grant.user_id
