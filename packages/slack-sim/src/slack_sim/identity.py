"""Who is in the stand-in's Slack workspace: the team, the bot, and the people who use it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TEAM_ID = "T0CODEROPS"
TEAM_NAME = "coderops"
APP_ID = "A0CODEROPS"
BOT_USER_ID = "U0BOT"
BOT_ID = "B0CODEROPS"
UPDATED = 1_700_000_000  # when the stand-in's users last changed their profiles (Unix seconds)


@dataclass(frozen=True)
class SlackUser:
    id: str
    name: str
    email: str
    real_name: str = ""
    tz: str = "Europe/Berlin"
    is_bot: bool = False
    deleted: bool = False

    def as_slack(self) -> dict[str, Any]:
        """The user object of ``users.info`` and ``users.lookupByEmail``."""
        real_name = self.real_name or self.name.title()
        return {
            "id": self.id,
            "team_id": TEAM_ID,
            "name": self.name,
            "deleted": self.deleted,
            "real_name": real_name,
            "tz": self.tz,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "updated": UPDATED,
            "profile": {
                "email": self.email,
                "real_name": real_name,
                "real_name_normalized": real_name,
                "display_name": self.name,
                "display_name_normalized": self.name,
                "avatar_hash": "",
            },
        }

    def dm_channel(self) -> str:
        """The id of the bot's direct-message conversation with this user (``conversations.open``)."""
        return "D" + self.id.removeprefix("U")


# The coder-sim's users have the same e-mail addresses, so the bot links them by e-mail.
DEFAULT_USERS = (
    SlackUser("U0ALICE", "alice", "alice@example.com", "Alice Example"),
    SlackUser("U0ADMIN", "admin", "admin@example.com", "Ada Admin"),
    SlackUser("U0BOB", "bob", "bob@example.com", "Bob Example"),
    SlackUser("U0NOBODY", "nobody", "nobody@elsewhere.example", "No Coder Account"),
)
