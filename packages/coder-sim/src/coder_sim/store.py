"""Indexes over the sim's records; every lookup the routes need, in one place."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .model import Agent, Build, Organization, Template, User, Workspace
from .oauth2 import OAuth2Provider


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Store:
    users: dict[str, User] = field(default_factory=dict)
    organizations: dict[str, Organization] = field(default_factory=dict)
    templates: dict[str, Template] = field(default_factory=dict)
    workspaces: dict[str, Workspace] = field(default_factory=dict)
    builds: dict[str, Build] = field(default_factory=dict)
    agents: dict[str, tuple[Agent, Build]] = field(default_factory=dict)
    _users_by_name: dict[str, User] = field(default_factory=dict)
    _users_by_token: dict[str, User] = field(default_factory=dict)
    _workspace_names: dict[tuple[str, str], str] = field(default_factory=dict)
    oauth2: OAuth2Provider = field(default_factory=OAuth2Provider)
    # the simulated clock (OAuth2 access tokens expire by it); new_sim sets it
    now: Callable[[], datetime] = _utcnow

    def add_user(self, user: User) -> None:
        self.users[user.id] = user
        self._users_by_name[user.username.lower()] = user
        self._users_by_token[user.token] = user

    def user_by_name(self, username: str) -> User | None:
        return self._users_by_name.get(username.lower())

    def user_by_token(self, token: str) -> User | None:
        user = self._users_by_token.get(token)
        if user is None and self.oauth2.grants_by_access:
            user_id = self.oauth2.user_of_access_token(token, self.now())
            user = self.users.get(user_id) if user_id else None
        return user

    def set_token(self, user: User, token: str) -> None:
        self._users_by_token.pop(user.token, None)
        user.token = token
        self._users_by_token[token] = user

    def template_by_name(self, organization_id: str, name: str) -> Template | None:
        for template in self.templates.values():
            if template.organization_id == organization_id and template.name == name and not template.deleted:
                return template
        return None

    def template_by_version(self, version_id: str) -> Template | None:
        for template in self.templates.values():
            if template.active_version_id == version_id:
                return template
        return None

    def add_workspace(self, workspace: Workspace) -> None:
        self.workspaces[workspace.id] = workspace
        self._workspace_names[(workspace.owner_id, workspace.name.lower())] = workspace.id

    def workspace_by_name(self, owner_id: str, name: str) -> Workspace | None:
        workspace_id = self._workspace_names.get((owner_id, name.lower()))
        return self.workspaces.get(workspace_id) if workspace_id else None

    def deleted_workspace_by_name(self, owner_id: str, name: str) -> Workspace | None:
        matches = [
            ws
            for ws in self.workspaces.values()
            if ws.deleted and ws.owner_id == owner_id and ws.name.lower() == name.lower()
        ]
        return max(matches, key=lambda ws: ws.updated_at) if matches else None

    def rename_workspace(self, workspace: Workspace, new_name: str) -> None:
        self._workspace_names.pop((workspace.owner_id, workspace.name.lower()), None)
        workspace.name = new_name
        self._workspace_names[(workspace.owner_id, new_name.lower())] = workspace.id

    def transfer_workspace(self, workspace: Workspace, owner_id: str, name: str) -> None:
        """A prebuilt workspace claimed: it becomes ``owner_id``'s, named ``name``."""
        key = (workspace.owner_id, workspace.name.lower())
        if self._workspace_names.get(key) == workspace.id:
            del self._workspace_names[key]
        workspace.owner_id = owner_id
        workspace.name = name
        self._workspace_names[(owner_id, name.lower())] = workspace.id

    def mark_deleted(self, workspace: Workspace) -> None:
        workspace.deleted = True
        key = (workspace.owner_id, workspace.name.lower())
        if self._workspace_names.get(key) == workspace.id:
            del self._workspace_names[key]

    def add_build(self, build: Build) -> None:
        self.builds[build.id] = build
        for agent in build.agents():
            self.agents[agent.id] = (agent, build)
