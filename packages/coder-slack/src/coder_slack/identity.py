"""Who is asking: a Slack user becomes a Coder user, by linked token (preferred) or by e-mail (service token).

Service-token mode: the bot holds one Coder token; members act only on their own workspaces, Coder owners
on all. Linked mode: the user's own token runs their commands, so Coder's RBAC and audit log apply.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from coder_client import AsyncCoderClient, User
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from coder_slack.coder import CoderPool
from coder_slack.crypto import TokenCipher, UndecryptableToken
from coder_slack.store import Identity, SessionFactory, UserLink

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

    @property
    def owner_for_create(self) -> str:
        return "me" if self.linked else self.username


class IdentityResolver:
    def __init__(
        self, pool: CoderPool, sessions: SessionFactory, cipher: TokenCipher | None, slack: AsyncWebClient
    ) -> None:
        self.pool = pool
        self.sessions = sessions
        self.cipher = cipher
        self.slack = slack
        self._cache: dict[tuple[str, str], tuple[float, Actor]] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    def forget(self, team_id: str, slack_user_id: str) -> None:
        self._cache.pop((team_id, slack_user_id), None)

    async def resolve(self, team_id: str, slack_user_id: str) -> Actor:
        key = (team_id, slack_user_id)
        # One lookup per user at a time: a burst of commands from one person costs one round trip.
        async with self._locks.setdefault(key, asyncio.Lock()):
            cached = self._cache.get(key)
            if cached is not None and cached[0] > time.monotonic():
                return cached[1]
            actor = await self._linked(team_id, slack_user_id) or await self._by_email(team_id, slack_user_id)
            self._cache[key] = (time.monotonic() + IDENTITY_TTL_SECONDS, actor)
            await self._remember(actor)
            return actor

    async def _linked(self, team_id: str, slack_user_id: str) -> Actor | None:
        async with self.sessions() as session:
            link = await _find_link(session, team_id, slack_user_id)
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
        client = self.pool.for_token(token)
        user = await client.users.me()
        return Actor(team_id, slack_user_id, user, client, linked=True)

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

    async def link(self, team_id: str, slack_user_id: str, token: str) -> User:
        """Check ``token`` with Coder (``/users/me``) and store it encrypted; Coder errors propagate."""
        if self.cipher is None:
            raise IdentityProblem("Account linking is off: the bot has no CODER_SLACK_ENCRYPTION_KEY.")
        client = self.pool.for_token(token)
        user = await client.users.me()
        ciphertext = self.cipher.encrypt(token)
        async with self.sessions() as session:
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

    async def unlink(self, team_id: str, slack_user_id: str) -> bool:
        async with self.sessions() as session:
            result = await session.execute(delete(UserLink).where(*_link_of(team_id, slack_user_id)))
            await session.commit()
        self.forget(team_id, slack_user_id)
        return bool(getattr(result, "rowcount", 0))
