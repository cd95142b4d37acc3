"""Who is asking: a Slack user becomes a Coder user, by linked token (preferred) or by e-mail (service token).

Service-token mode: the bot holds one Coder token; members act only on their own workspaces, Coder owners
on all. Linked mode: the user's own token (pasted into the login form, or from Sign in with Coder,
``coder_oauth``) runs their commands, so Coder's RBAC and audit log apply. Every request is judged on the
current facts: the link is read from the database and the token checked with Coder each time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from coder_client import AsyncCoderClient, NotFound, Unauthorized, User
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from coder_slack.coder import CoderPool
from coder_slack.coder_oauth import CoderSignIn, GrantRefused
from coder_slack.crypto import TokenCipher, UndecryptableToken
from coder_slack.store import CoderOAuthGrant, Identity, SessionFactory, UserLink

log = logging.getLogger(__name__)

IDENTITY_TTL_SECONDS = 300.0


def _link_of(team_id: str, slack_user_id: str) -> tuple[ColumnElement[bool], ...]:
    return (UserLink.team_id == team_id, UserLink.slack_user_id == slack_user_id)


async def _find_link(session: AsyncSession, team_id: str, slack_user_id: str) -> UserLink | None:
    return (
        await session.execute(select(UserLink).where(*_link_of(team_id, slack_user_id)))
    ).scalar_one_or_none()


class IdentityProblem(Exception):
    """The Slack user can't be mapped to a Coder user; ``message`` tells them what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Actor:
    team_id: str
    slack_user_id: str
    user: User
    client: AsyncCoderClient
    linked: bool

    @property
    def username(self) -> str:
        return self.user.username

    @property
    def is_owner(self) -> bool:
        return "owner" in self.user.role_names

    def may_act_on(self, owner_name: str) -> bool:
        """Linked users are judged by Coder itself; with the shared token the bot enforces ownership."""
        return self.linked or self.is_owner or owner_name.lower() == self.username.lower()

    def may_delete(self, owner_name: str) -> bool:
        """Deleting is for the workspace's owner or a Coder owner (admin), linked or not (issue 13): a
        template admin's RBAC right to delete other people's workspaces is not offered in Slack."""
        return self.is_owner or owner_name.lower() == self.username.lower()

    @property
    def owner_for_create(self) -> str:
        return "me" if self.linked else self.username


@dataclass(frozen=True)
class Logout:
    """What ``/workspace logout`` did: whether a link was removed, and whether Coder revoked its grant
    (None: the link was a pasted token, which only Coder's own settings can revoke)."""

    removed: bool
    revoked: bool | None = None


class IdentityResolver:
    """Slack user → Coder user, judged afresh at every command or click.

    A linked user's token is read from the database and checked with Coder (``/users/me``) each time, so
    a logout on any replica, a token Coder no longer accepts (401) or a changed Coder role counts at the
    very next request. A signed-in user's access token is refreshed first when it is about to expire. Only
    the e-mail lookup of service-token mode is cached (``IDENTITY_TTL_SECONDS``), and even then the Coder
    user is read again by id, for its current role and status.
    """

    def __init__(
        self,
        pool: CoderPool,
        sessions: SessionFactory,
        cipher: TokenCipher | None,
        slack: AsyncWebClient,
        sign_in: CoderSignIn | None = None,
    ) -> None:
        self.pool = pool
        self.sessions = sessions
        self.cipher = cipher
        self.slack = slack
        self.sign_in = sign_in if cipher is not None else None
        if self.sign_in is not None:
            self.sign_in.check_user = self._check_token
        self._cache: dict[tuple[str, str], tuple[float, Actor]] = {}
        self._remembered: dict[tuple[str, str], tuple[str, str, str]] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    async def _check_token(self, token: str) -> User:
        return await self.pool.for_token(token).users.me()

    async def aclose(self) -> None:
        if self.sign_in is not None:
            await self.sign_in.aclose()

    def forget(self, team_id: str, slack_user_id: str) -> None:
        self._cache.pop((team_id, slack_user_id), None)

    async def resolve(self, team_id: str, slack_user_id: str) -> Actor:
        key = (team_id, slack_user_id)
        # One lookup per user at a time: a burst of commands from one person costs one round trip each.
        async with self._locks.setdefault(key, asyncio.Lock()):
            linked = await self._linked(team_id, slack_user_id)
            if linked is not None:
                self.forget(team_id, slack_user_id)
                actor = linked
            else:
                actor = await self._cached_by_email(key) or await self._by_email(team_id, slack_user_id)
                self._cache[key] = (time.monotonic() + IDENTITY_TTL_SECONDS, actor)
            await self._remember(actor)
            return actor

    async def _cached_by_email(self, key: tuple[str, str]) -> Actor | None:
        """The cached e-mail match, with its Coder user read again (role, status); None: look up anew."""
        cached = self._cache.get(key)
        if cached is None or cached[0] <= time.monotonic():
            return None
        actor = cached[1]
        try:
            user = await actor.client.users.get(actor.user.id)
        except NotFound:
            self._cache.pop(key, None)
            return None
        return Actor(actor.team_id, actor.slack_user_id, user, actor.client, linked=False)

    async def _load_link(
        self, team_id: str, slack_user_id: str
    ) -> tuple[UserLink | None, CoderOAuthGrant | None]:
        async with self.sessions() as session:
            link = await _find_link(session, team_id, slack_user_id)
            grant = await session.get(CoderOAuthGrant, (team_id, slack_user_id)) if link is not None else None
        return link, grant

    async def _linked(self, team_id: str, slack_user_id: str) -> Actor | None:
        link, grant = await self._load_link(team_id, slack_user_id)
        if link is None:
            return None
        if self.cipher is None:
            raise IdentityProblem(
                "Your account is linked, but the bot has no encryption key configured to read it."
            )
        try:
            token = self.cipher.decrypt(link.token_ciphertext)
        except UndecryptableToken:
            raise IdentityProblem(
                "Your linked Coder token can't be read any more (the bot's encryption key changed). "
                "Run `/workspace login` to link it again."
            ) from None
        sign_in = self.sign_in if grant is not None else None
        if sign_in is not None and grant is not None and sign_in.needs_refresh(grant):
            token = await self._refresh(sign_in, team_id, slack_user_id, grant)
        client = self.pool.for_token(token)
        try:
            user = await client.users.me()
        except Unauthorized:
            if sign_in is None or grant is None:
                raise IdentityProblem(
                    "Coder no longer accepts your linked token (it was revoked or has expired). "
                    "Run `/workspace login` to link your account again."
                ) from None
            token = await self._refresh(sign_in, team_id, slack_user_id, grant)
            client = self.pool.for_token(token)
            user = await client.users.me()
        return Actor(team_id, slack_user_id, user, client, linked=True)

    async def _refresh(
        self, sign_in: CoderSignIn, team_id: str, slack_user_id: str, grant: CoderOAuthGrant
    ) -> str:
        """A fresh access token for a signed-in user; a refused grant ends the link."""
        try:
            return (await sign_in.refresh(team_id, slack_user_id, grant)).access_token
        except GrantRefused:
            pass
        # Another replica may have refreshed first (Coder rotates refresh tokens): use what it stored.
        link, current = await self._load_link(team_id, slack_user_id)
        if (
            link is not None
            and current is not None
            and current.refresh_token_ciphertext != grant.refresh_token_ciphertext
            and not sign_in.needs_refresh(current)
            and self.cipher is not None
        ):
            return self.cipher.decrypt(link.token_ciphertext)
        await self._drop_link(team_id, slack_user_id)
        raise IdentityProblem(
            "Your Coder sign-in has ended (revoked in Coder, or expired). "
            "Run `/workspace login` to sign in again."
        )

    async def _by_email(self, team_id: str, slack_user_id: str) -> Actor:
        if not self.pool.has_service_token:
            raise IdentityProblem(
                "Link your Coder account first: `/workspace login` opens a private form for a token."
            )
        try:
            info = await self.slack.users_info(user=slack_user_id)
        except SlackApiError as exc:
            raise IdentityProblem(
                f"Slack wouldn't tell me who you are ({exc.response.get('error', 'error')}). "
                "Link your Coder account with `/workspace login` instead."
            ) from None
        user_info = info.get("user") or {}
        email = str((user_info.get("profile") or {}).get("email") or "")
        if not email:
            raise IdentityProblem(
                "Slack didn't share your e-mail address with the bot "
                "(it needs the `users:read.email` scope), "
                "so I can't find your Coder account. Link it with `/workspace login`."
            )
        user = await self.pool.find_user_by_email(email)
        if user is None:
            raise IdentityProblem(
                f"No Coder account uses your Slack e-mail ({email}). Ask a Coder admin to create one, "
                "or link an existing account with `/workspace login`."
            )
        return Actor(team_id, slack_user_id, user, self.pool.service(), linked=False)

    async def _remember(self, actor: Actor) -> None:
        key = (actor.team_id, actor.slack_user_id)
        known = (actor.user.id, actor.username, actor.user.email or "")
        if self._remembered.get(key) == known:
            return
        try:
            await self._store_identity(actor)
        except IntegrityError:  # another replica stored it first; store again as an update
            await self._store_identity(actor)

    async def _store_identity(self, actor: Actor) -> None:
        async with self.sessions() as session:
            row = await session.get(Identity, (actor.team_id, actor.slack_user_id))
            if row is None:
                session.add(
                    Identity(
                        team_id=actor.team_id,
                        slack_user_id=actor.slack_user_id,
                        coder_user_id=actor.user.id,
                        coder_username=actor.username,
                        email=actor.user.email or None,
                    )
                )
            else:
                row.coder_user_id = actor.user.id
                row.coder_username = actor.username
                row.email = actor.user.email or None
            await session.commit()
        self._remembered[(actor.team_id, actor.slack_user_id)] = (
            actor.user.id,
            actor.username,
            actor.user.email or "",
        )

    async def link(self, team_id: str, slack_user_id: str, token: str) -> User:
        """Check ``token`` with Coder (``/users/me``) and store it encrypted; Coder errors propagate."""
        if self.cipher is None:
            raise IdentityProblem("Account linking is off: the bot has no CODER_SLACK_ENCRYPTION_KEY.")
        client = self.pool.for_token(token)
        user = await client.users.me()
        ciphertext = self.cipher.encrypt(token)
        _, previous_grant = await self._load_link(team_id, slack_user_id)
        if previous_grant is not None and self.sign_in is not None:  # a pasted token replaces a sign-in
            try:
                await self.sign_in.revoke(previous_grant)
            except Exception as exc:
                log.warning("revoking the replaced Coder grant failed: %s", type(exc).__name__)
        async with self.sessions() as session:
            await session.execute(
                delete(CoderOAuthGrant).where(
                    CoderOAuthGrant.team_id == team_id, CoderOAuthGrant.slack_user_id == slack_user_id
                )
            )
            link = await _find_link(session, team_id, slack_user_id)
            if link is None:
                session.add(
                    UserLink(
                        team_id=team_id,
                        slack_user_id=slack_user_id,
                        coder_user_id=user.id,
                        coder_username=user.username,
                        coder_url=self.pool.url,
                        token_ciphertext=ciphertext,
                    )
                )
            else:
                link.coder_user_id = user.id
                link.coder_username = user.username
                link.coder_url = self.pool.url
                link.token_ciphertext = ciphertext
            await session.commit()
        self.forget(team_id, slack_user_id)
        return user

    async def _drop_link(self, team_id: str, slack_user_id: str) -> bool:
        async with self.sessions() as session:
            result = await session.execute(delete(UserLink).where(*_link_of(team_id, slack_user_id)))
            await session.execute(
                delete(CoderOAuthGrant).where(
                    CoderOAuthGrant.team_id == team_id, CoderOAuthGrant.slack_user_id == slack_user_id
                )
            )
            await session.commit()
        self.forget(team_id, slack_user_id)
        self._remembered.pop((team_id, slack_user_id), None)
        return bool(getattr(result, "rowcount", 0))

    async def unlink(self, team_id: str, slack_user_id: str) -> bool:
        return (await self.logout(team_id, slack_user_id)).removed

    async def logout(self, team_id: str, slack_user_id: str) -> Logout:
        """Forget the link (on every replica: the next request reads the database) and, for a sign-in,
        revoke its grant at Coder so the tokens stop working there too."""
        _, grant = await self._load_link(team_id, slack_user_id)
        revoked: bool | None = None
        if grant is not None:
            revoked = False
            if self.sign_in is not None:
                try:
                    revoked = await self.sign_in.revoke(grant)
                except Exception as exc:  # Coder unreachable: the link goes anyway; the user is told
                    log.warning("revoking a Coder grant failed: %s", type(exc).__name__)
        removed = await self._drop_link(team_id, slack_user_id)
        return Logout(removed, revoked)
