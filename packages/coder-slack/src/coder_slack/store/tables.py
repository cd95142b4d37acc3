"""Tables of the command surface (revision 0001_core); the alert engine's are in ``alert_tables``."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Boolean, DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

DEFAULT_EVENTS = "ready,start_error,start_timeout,build_failed,autostop"
ALL_EVENTS = ("ready", "start_error", "start_timeout", "build_failed", "autostop")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class UserLink(Base):
    """A Slack user's own Coder token (linked mode), Fernet-encrypted."""

    __tablename__ = "user_links"
    __table_args__ = (UniqueConstraint("team_id", "slack_user_id", name="uq_user_links_team_user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(32))
    slack_user_id: Mapped[str] = mapped_column(String(32))
    coder_user_id: Mapped[str] = mapped_column(String(64))
    coder_username: Mapped[str] = mapped_column(String(128))
    coder_url: Mapped[str] = mapped_column(String(512))
    token_ciphertext: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Identity(Base):
    """Last known Slack user ↔ Coder user mapping (e-mail match or link); used to route DMs."""

    __tablename__ = "identities"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    slack_user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    coder_user_id: Mapped[str] = mapped_column(String(64), index=True)
    coder_username: Mapped[str] = mapped_column(String(128), index=True)
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Subscription(Base):
    """A channel's wish to hear about one workspace (watch) or every matching one (subscribe)."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        Index("ix_subscriptions_team_channel", "team_id", "channel_id"),
        Index("ix_subscriptions_workspace", "workspace_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    created_by: Mapped[str] = mapped_column(String(32))
    workspace_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    workspace_label: Mapped[str | None] = mapped_column(String(256), nullable=True)
    template: Mapped[str | None] = mapped_column(String(256), nullable=True)
    owner: Mapped[str | None] = mapped_column(String(128), nullable=True)
    events: Mapped[str] = mapped_column(String(1024), default=DEFAULT_EVENTS)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(256), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    @property
    def event_list(self) -> list[str]:
        return [event for event in self.events.split(",") if event]


class UserSettings(Base):
    __tablename__ = "user_settings"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    slack_user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    dm_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    autostop_warning_minutes: Mapped[int] = mapped_column(Integer, default=30)
    # Coder notification kinds (slugs, comma-separated) this person does not want as DMs.
    muted_notifications: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class StatusCard(Base):
    """One message the bot owns and updates in place while a build it started progresses."""

    __tablename__ = "status_cards"
    __table_args__ = (
        UniqueConstraint("channel_id", "message_ts", name="uq_status_cards_message"),
        Index("ix_status_cards_unfinished", "finished"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    message_ts: Mapped[str] = mapped_column(String(32))
    requested_by: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(16))
    workspace_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    workspace_name: Mapped[str] = mapped_column(String(256))
    owner_name: Mapped[str] = mapped_column(String(128))
    build_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    stage: Mapped[str] = mapped_column(String(32), default="queued")
    finished: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class AuditEntry(Base):
    """Who asked the bot to do what, and how it went."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    team_id: Mapped[str] = mapped_column(String(32))
    slack_user_id: Mapped[str] = mapped_column(String(32))
    coder_username: Mapped[str | None] = mapped_column(String(128), nullable=True)
    command: Mapped[str] = mapped_column(String(32))
    target: Mapped[str | None] = mapped_column(String(256), nullable=True)
    result: Mapped[str] = mapped_column(String(512))
