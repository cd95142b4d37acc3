"""Sign in with Coder (revision 0007_coder_oauth).

- ``coder_oauth_states``: one row per sign-in started by ``/workspace login``: the SHA-256 of its OAuth
  ``state`` (never the state itself), the Slack user and team it is bound to, the PKCE verifier (encrypted
  with the bot's key) and when it expires. The callback deletes the row it uses (single use) before any code
  is exchanged; an unknown, used or expired state is refused.
- ``coder_oauth_grants``: for a link made by signing in, the refresh token (encrypted) and when the access
  token (kept in ``user_links.token_ciphertext``) expires, so it is refreshed before then and revoked at
  logout.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from coder_slack.store.tables import Base, utcnow


class CoderOAuthState(Base):
    __tablename__ = "coder_oauth_states"
    __table_args__ = (Index("ix_coder_oauth_states_expires_at", "expires_at"),)

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    slack_user_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32), default="")
    verifier_ciphertext: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CoderOAuthGrant(Base):
    __tablename__ = "coder_oauth_grants"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    slack_user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    refresh_token_ciphertext: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
