"""The two Coder API eras the sim can speak, and what differs between them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

EraName = Literal["v2", "v0.25"]
ERA_NAMES: tuple[EraName, ...] = ("v2", "v0.25")


@dataclass(frozen=True)
class Era:
    """Behaviour switches for one era; ``v2`` is coder main @c9a1e2b, ``v0.25`` is coder v0.25.0."""

    name: EraName
    version: str
    external_url: str
    # v2 sends a `data` event right after the first `ping` on /watch (added in v2.1.4).
    initial_watch_data: bool
    has_watch_ws: bool
    has_user_create_route: bool
    has_agent_logs_route: bool
    bearer_auth: bool
    max_ttl_days: int
    # v0.25 caps ttl at the template's max_ttl_ms; v2 moved that policy to autostop requirements.
    ttl_capped_by_template: bool
    # v2 sets ready_at on start_timeout too; v0.25 only on ready/start_error.
    ready_at_on_start_timeout: bool
    # v0.25 keys rate limits by client IP; v2 by user id when a valid key is present.
    rate_limit_by_user: bool
    org_param_by_name: bool
    create_status: int
    # Coder's notifications (webhook, autostop reminder) arrived in 2024–2026; v0.25 has none.
    has_notifications: bool


V2 = Era(
    name="v2",
    version="v2.36.1-devel+c9a1e2b",
    external_url="https://github.com/coder/coder/commit/c9a1e2b",
    initial_watch_data=True,
    has_watch_ws=True,
    has_user_create_route=True,
    has_agent_logs_route=True,
    bearer_auth=True,
    max_ttl_days=30,
    ttl_capped_by_template=False,
    ready_at_on_start_timeout=True,
    rate_limit_by_user=True,
    org_param_by_name=True,
    create_status=201,
    has_notifications=True,
)

V0_25 = Era(
    name="v0.25",
    version="v0.25.0+d843735",
    external_url="https://github.com/coder/coder/commit/d843735c02af",
    initial_watch_data=False,
    has_watch_ws=False,
    has_user_create_route=False,
    has_agent_logs_route=False,
    bearer_auth=False,
    max_ttl_days=7,
    ttl_capped_by_template=True,
    ready_at_on_start_timeout=False,
    rate_limit_by_user=False,
    org_param_by_name=False,
    create_status=201,
    has_notifications=False,
)


def era_by_name(name: str) -> Era:
    for era in (V2, V0_25):
        if era.name == name:
            return era
    raise ValueError(f"unknown era {name!r}: choose one of {', '.join(ERA_NAMES)}")
