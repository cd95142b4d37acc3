"""The Slack workspace as the stand-in holds it: users, messages, views (thread-safe)."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterable
from typing import Any

from slack_sim.identity import SlackUser
from slack_sim.records import StoredMessage


class SlackState:
    """Everything the Web API methods read and change. ``url`` is where the stand-in is served (set once it
    listens); ``scopes`` the bot token's scopes (None: every scope)."""

    def __init__(self, users: Iterable[SlackUser], scopes: Iterable[str] | None = None) -> None:
        self.url = ""
        self.scopes: frozenset[str] | None = None if scopes is None else frozenset(scopes)
        self.lock = threading.RLock()
        self._users = {user.id: user for user in users}
        self._messages: dict[tuple[str, str], StoredMessage] = {}
        self._deleted: set[tuple[str, str]] = set()  # (channel, ts) of messages deleted here
        self._views: dict[str, dict[str, Any]] = {}
        self._view_stacks: dict[str, list[str]] = {}
        self._used_triggers: set[str] = set()
        self._last_ts = 0.0
        self._ids = itertools.count(1)
        self.files: dict[str, Any] = {}  # file id → methods.files.StoredFile (uploads)

    # ----------------------------------------------------------------- users

    def add_user(self, user: SlackUser) -> None:
        with self.lock:
            self._users[user.id] = user

    def user(self, user_id: str) -> SlackUser | None:
        with self.lock:
            return self._users.get(user_id)

    def users(self) -> list[SlackUser]:
        with self.lock:
            return list(self._users.values())

    def find_user(self, name_or_id: str) -> SlackUser | None:
        """The user with this name or id (case-insensitive; a leading ``@`` is ignored)."""
        wanted = name_or_id.lstrip("@").lower()
        return next((user for user in self.users() if wanted in {user.name.lower(), user.id.lower()}), None)

    def user_by_email(self, email: str) -> SlackUser | None:
        wanted = email.lower()
        return next((user for user in self.users() if user.email.lower() == wanted), None)

    # ----------------------------------------------------------------- messages

    def next_id(self) -> int:
        return next(self._ids)

    def next_ts(self) -> str:
        """A message timestamp later than every one before it, as Slack's are within a channel."""
        with self.lock:
            now = max(time.time(), self._last_ts + 0.000001)
            self._last_ts = now
            return f"{now:.6f}"

    def store_message(self, message: StoredMessage) -> None:
        with self.lock:
            self._messages[(message.channel, message.ts)] = message

    def message(self, channel: str, ts: str) -> StoredMessage | None:
        with self.lock:
            return self._messages.get((channel, ts))

    def messages(self, channel: str | None = None) -> list[StoredMessage]:
        with self.lock:
            return [m for m in self._messages.values() if channel is None or m.channel == channel]

    def visible(self, channel: str) -> list[StoredMessage]:
        """The channel's messages everybody sees (not the ephemeral ones)."""
        return [m for m in self.messages(channel) if m.ephemeral_user is None]

    def was_deleted(self, channel: str, ts: str) -> bool:
        with self.lock:
            return (channel, ts) in self._deleted

    def delete_message(self, channel: str, ts: str) -> bool:
        with self.lock:
            removed = self._messages.pop((channel, ts), None)
            if removed is not None:
                self._deleted.add((channel, ts))
        return removed is not None

    # ----------------------------------------------------------------- views

    def view(self, view_id: str) -> dict[str, Any] | None:
        with self.lock:
            return self._views.get(view_id)

    def store_view(self, view: dict[str, Any]) -> None:
        with self.lock:
            self._views[str(view["id"])] = view

    def view_id_of(self, external_id: str) -> str | None:
        with self.lock:
            return next((vid for vid, v in self._views.items() if v.get("external_id") == external_id), None)

    def open_stack(self, view_id: str) -> None:
        with self.lock:
            self._view_stacks[view_id] = [view_id]

    def deepest_stack(self) -> int:
        with self.lock:
            return max((len(stack) for stack in self._view_stacks.values()), default=0)

    def take_trigger(self, trigger_id: str) -> bool:
        """False when this ``trigger_id`` was used before (Slack lets each open one view)."""
        with self.lock:
            if trigger_id in self._used_triggers:
                return False
            self._used_triggers.add(trigger_id)
            return True

    def clear(self) -> None:
        with self.lock:
            self._messages.clear()
            self._views.clear()
            self._deleted.clear()
            self._view_stacks.clear()
            self.files.clear()
