"""The body of Coder's notification webhook, read leniently (versions 1.0 and 1.1, unknown fields ignored).

Source: coder/coder ``coderd/notifications/dispatch/webhook.go`` (``WebhookPayload``: ``_version``,
``msg_id``,
``payload``, ``title``, ``body``; 1.1 adds ``title_markdown`` and ``body_markdown``) and
``coderd/notifications/types/payload.go`` (``MessagePayload``). A newer Coder branch names
``notification_name`` ``alert_name``; both are read.
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from coder_slack.notifications.kinds import NotificationKind, kind_of

SUPPORTED_VERSIONS = ("1.0", "1.1")


class NotificationAction(BaseModel):
    model_config = ConfigDict(extra="ignore")

    label: str = ""
    url: str = ""


class NotificationPayload(BaseModel):
    """Coder's ``MessagePayload``: who it is for, what kind it is, its labels and data."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    version: str = Field(default="", alias="_version")
    notification_name: str = Field(
        default="", validation_alias=AliasChoices("notification_name", "alert_name")
    )
    notification_template_id: str = ""
    user_id: str = ""
    user_email: str = ""
    user_name: str = ""
    user_username: str = ""
    actions: list[NotificationAction] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    data: dict[str, Any] = Field(default_factory=dict)
    targets: list[str] = Field(default_factory=list)

    @field_validator("actions", "targets", mode="before")
    @classmethod
    def _null_list_is_empty(cls, value: Any) -> Any:
        # Go marshals a nil slice or map as null.
        return [] if value is None else value

    @field_validator("labels", mode="before")
    @classmethod
    def _labels_as_text(cls, value: Any) -> Any:
        if value is None or value == []:
            return {}
        if isinstance(value, dict):
            return {str(k): "" if v is None else str(v) for k, v in value.items()}
        return value

    @field_validator("data", mode="before")
    @classmethod
    def _data_or_empty(cls, value: Any) -> Any:
        return {} if value is None or value == [] else value

    @property
    def kind(self) -> NotificationKind:
        return kind_of(self.notification_template_id, self.notification_name)

    @property
    def workspace_name(self) -> str:
        """The workspace the notification is about, or "". Coder puts its name in ``labels.name`` for most
        kinds and in ``labels.workspace`` for some (created, autostop reminder, out of memory/disk)."""
        if not self.kind.about_workspace:
            return ""
        return self.labels.get("name", "") or self.labels.get("workspace", "")

    @property
    def workspace_owner(self) -> str:
        """The username of the workspace's owner: Coder sends some kinds (workspace created, manual build
        failed) to template admins and names the owner in ``labels.workspace_owner_username``; the others go
        to the owner."""
        return self.labels.get("workspace_owner_username", "") or self.user_username


class WebhookMessage(BaseModel):
    """One POST of Coder's notification webhook."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    version: str = Field(default="1.0", alias="_version")
    msg_id: str
    payload: NotificationPayload
    title: str = ""
    title_markdown: str = ""
    body: str = ""
    body_markdown: str = ""

    @field_validator("msg_id")
    @classmethod
    def _msg_id_present(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("msg_id is empty")
        if len(value) > 64:
            raise ValueError("msg_id is longer than 64 characters")
        return value

    @property
    def headline(self) -> str:
        """The plain-text title (Coder renders ``title`` from the markdown title)."""
        return self.title or self.title_markdown

    @property
    def markdown(self) -> str:
        """The body as markdown where Coder sent it (1.1), else the plain body (1.0)."""
        return self.body_markdown or self.body
