"""Settings from the environment (pydantic-settings).

Field names map to environment variables case-insensitively: ``slack_bot_token`` reads ``SLACK_BOT_TOKEN``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Mode = Literal["http", "socket", "alerts"]

_REQUIRED: dict[Mode, tuple[str, ...]] = {
    "http": ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "CODER_URL", "CODER_SLACK_ENCRYPTION_KEY"),
    "socket": ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "CODER_URL", "CODER_SLACK_ENCRYPTION_KEY"),
    "alerts": ("SLACK_BOT_TOKEN", "CODER_URL", "CODER_SESSION_TOKEN"),
}


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_SECRET_WORDS = ("token", "secret", "key", "database_url")


class SettingsError(Exception):
    """Settings that cannot be used; ``str()`` names every bad variable and never shows a secret."""


def load_settings() -> Settings:
    """``Settings()`` from the environment, or SettingsError naming each variable with a bad value."""
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError(describe_invalid(exc)) from None


def describe_invalid(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"]).upper()
        message = str(error["msg"]).removeprefix("Value error, ")
        if not any(word in name.lower() for word in _SECRET_WORDS) and "input" in error:
            message += f" (got {str(error['input'])[:60]!r})"
        problems.append(f"{name}: {message}")
    return "invalid settings: " + "; ".join(problems)


def default_database_url() -> str:
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return f"sqlite:///{data_home / 'coder-slack' / 'coder-slack.db'}"


class Settings(BaseSettings):
    """Everything coder-slack reads from its environment.

    Secrets are ``SecretStr`` so that printing or logging a ``Settings`` never shows them.
    """

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"

    # OAuth (multi-workspace) mode: SLACK_CLIENT_ID and SLACK_CLIENT_SECRET set and SLACK_BOT_TOKEN unset.
    # `coder-slack serve` then serves GET /slack/install and GET /slack/oauth_redirect (oauth_install.py)
    # and uses each team's own bot token, kept in the database.
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    # The redirect URL registered with the app (…/slack/oauth_redirect); unset: the app's only registered one.
    slack_redirect_uri: str | None = None
    # Where "Add to Slack" sends the browser (Slack's consent page; the Slack stand-in's in tests).
    slack_authorize_url: str = "https://slack.com/oauth/v2/authorize"
    # With token rotation on in the app's settings, bot tokens are refreshed this long before they expire.
    slack_token_rotation_minutes: int = Field(default=120, ge=1, le=720)
    slack_oauth_state_seconds: int = Field(default=600, ge=30, le=3600)

    coder_url: str | None = None
    coder_session_token: SecretStr | None = None

    coder_slack_database_url: str = Field(default_factory=default_database_url)
    coder_slack_encryption_key: SecretStr | None = None

    # Command surface.
    coder_slack_command: str = Field(default="/workspace", pattern=r"^/[a-z0-9_-]{1,31}$")
    coder_slack_log_level: str = "INFO"
    coder_slack_list_page_size: int = Field(default=10, ge=1, le=40)
    coder_slack_card_timeout_seconds: float = Field(default=1800.0, gt=0)
    coder_slack_coder_timeout_seconds: float = Field(default=20.0, gt=0)
    coder_slack_socket_watchdog_seconds: float = Field(default=60.0, gt=0)
    # Socket Mode serves no Slack HTTP; this port serves /healthz, /readyz and /metrics (None: no ops server).
    coder_slack_ops_port: int | None = Field(default=None, ge=0, le=65535)

    # Alert engine (coder_slack.alerts); AlertConfig.from_settings turns these into the engine's config.
    coder_slack_alerts_enabled: bool = True
    coder_slack_sweep_interval_seconds: float = Field(default=30.0, gt=0)
    coder_slack_lease_seconds: float = Field(default=15.0, gt=0)
    coder_slack_autostop_warning_minutes: int = Field(default=30, ge=1)
    coder_slack_stale_after_minutes: int = Field(default=60, ge=1)
    coder_slack_channel_messages_per_second: float = Field(default=1.0, gt=0)
    coder_slack_digest_threshold: int = Field(default=5, ge=1)
    coder_slack_replica_id: str | None = None
    coder_slack_catch_up_after_seconds: float = Field(default=60.0, ge=0)
    coder_slack_alert_poll_seconds: float = Field(default=1.0, gt=0)
    coder_slack_digest_update_seconds: float = Field(default=0.5, gt=0)
    coder_slack_outbox_retention_days: int = Field(default=14, ge=1)
    # watch-all-builds (coder_slack.alerts.build_feed): Coder's deployment-wide build feed, where offered
    coder_slack_build_feed: bool = True
    coder_slack_feed_sweep_interval_seconds: float = Field(default=300.0, gt=0)

    # Build timings (Coder v2.17+) on the status card and the alerts: how long to wait for them (then the card
    # and the alert go without), and how much longer than the template's median startup (besides 1.5×) a
    # startup must take to be called "slower than usual".
    coder_slack_timings_timeout_seconds: float = Field(default=2.0, gt=0)
    coder_slack_slower_min_extra_seconds: float = Field(default=30.0, ge=0)

    # Coder's notification webhook (coder_slack.notifications): POST /coder/notifications/<this secret>.
    # Unset: the route does not exist. Make one with `coder-slack generate-secret`.
    coder_slack_notifications_secret: SecretStr | None = None
    # How long a router's claim on received notifications lasts (another replica takes them over after).
    coder_slack_notifications_claim_seconds: float = Field(default=30.0, gt=0)

    # Sign in with Coder (coder_slack.coder_oauth): an OAuth2 app registered in Coder (`coder-slack
    # register-coder-app`) and this bot's callback URL, exactly as registered (…/coder/oauth/callback).
    # Unset, or Coder without its OAuth2 provider: `/workspace login` opens the token form.
    coder_slack_coder_oauth_client_id: str | None = None
    coder_slack_coder_oauth_client_secret: SecretStr | None = None
    coder_slack_coder_oauth_redirect_url: str | None = None
    # Refresh a signed-in user's access token when it expires within this many seconds.
    coder_slack_coder_oauth_refresh_margin_seconds: float = Field(default=300.0, ge=0)

    @field_validator("coder_slack_notifications_secret")
    @classmethod
    def _long_random_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        text = value.get_secret_value().strip()
        if len(text) < 24:
            raise ValueError(
                "must be at least 24 characters of random text (make one with `coder-slack generate-secret`)"
            )
        if not all(ch.isalnum() or ch in "-_.~" for ch in text):
            raise ValueError("may only contain letters, digits and -_.~ (it is part of a URL path)")
        return SecretStr(text)

    @field_validator("coder_slack_log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return level

    @property
    def oauth_mode(self) -> bool:
        """Multi-workspace installs over OAuth: a client id and secret, and no pasted bot token."""
        return bool(
            self.slack_client_id and secret(self.slack_client_secret) and not secret(self.slack_bot_token)
        )

    def missing_for(self, mode: Mode) -> list[str]:
        """Names of the environment variables this mode needs but that are unset or empty."""
        missing = []
        required = _REQUIRED[mode]
        if self.oauth_mode and mode != "socket":
            # Socket Mode stays single-team: it keeps needing the bot token.
            required = tuple(name for name in required if name != "SLACK_BOT_TOKEN")
        for name in required:
            value = getattr(self, name.lower())
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            if not value:
                missing.append(name)
        return missing

    @property
    def slack_api_base_url(self) -> str:
        """The Web API base URL with the trailing slash slack_sdk expects."""
        url = self.slack_api_url
        return url if url.endswith("/") else url + "/"


def secret(value: SecretStr | str | None) -> str:
    """The plain value of an optional secret ('' when unset)."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return value or ""
