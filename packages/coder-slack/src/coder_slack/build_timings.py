"""Where a startup's time went, for the status card and the alerts (Coder v2.17+ build timings).

:func:`timing_note` asks Coder for the build's timings (``client.workspaces.timings``), turns them into
``coder_client.timings``' breakdown and, for a start that reached ``ready``, records its duration for the
template (table ``startup_durations``, once per build) and compares it with the template's recent ones
(``coder_client.slower_than_usual``). It never raises and never waits long: a Coder without timings (404),
an error or a slow answer (``CODER_SLACK_TIMINGS_TIMEOUT_SECONDS``) gives None, and the card and the alert
read as they did before.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from coder_client import AsyncCoderClient, CoderError, Workspace, breakdown, slower_than_usual
from coder_client.timings import SLOWER_MIN_EXTRA_SECONDS, SLOWER_WINDOW
from sqlalchemy import select
from sqlalchemy.orm import Session

from coder_slack.store import StartupDuration, insert_ignoring_conflicts

log = logging.getLogger(__name__)

TIMED_KINDS = frozenset({"ready", "start_error", "start_timeout"})
DEFAULT_TIMEOUT_SECONDS = 2.0

# (template id, build id, workspace id, seconds) → the template's earlier startups, oldest first
Recorder = Callable[[str, str, str, float], Awaitable[list[float]]]


@dataclass(frozen=True)
class TimingNote:
    """What the card and the alerts say of a startup's time: one line, the whole breakdown, and whether
    it was markedly slower than the template's recent startups ("" when not, or not known)."""

    summary: str
    lines: tuple[str, ...] = ()
    slower: str = ""
    seconds: float = 0.0  # the whole start, by the timings

    def to_payload(self) -> dict[str, Any]:
        return {
            "summary": self.summary,
            "lines": list(self.lines),
            "slower": self.slower,
            "seconds": self.seconds,
        }

    @classmethod
    def from_payload(cls, value: Any) -> TimingNote | None:
        if not isinstance(value, Mapping) or not value.get("summary"):
            return None
        lines = value.get("lines") or []
        seconds = value.get("seconds")
        return cls(
            str(value["summary"]),
            tuple(str(line) for line in lines if isinstance(line, str)),
            str(value.get("slower") or ""),
            float(seconds) if isinstance(seconds, int | float) else 0.0,
        )


def record_startup(
    session: Session,
    template_id: str,
    build_id: str,
    workspace_id: str,
    seconds: float,
    window: int = SLOWER_WINDOW,
) -> list[float]:
    """Remember this start (once per build); return the template's ``window`` earlier ones, oldest first."""
    earlier = (
        session.execute(
            select(StartupDuration.seconds)
            .where(StartupDuration.template_id == template_id, StartupDuration.build_id != build_id)
            .order_by(StartupDuration.finished_at.desc())
            .limit(window)
        )
        .scalars()
        .all()
    )
    _insert_startup(session, template_id, build_id, workspace_id, seconds)
    return list(reversed(earlier))


def remember_startups(session: Session, starts: Sequence[tuple[Workspace, float]]) -> None:
    """Add these starts (workspace, seconds to ready) to their templates' history without judging them (their
    alerts went out already)."""
    for workspace, seconds in starts:
        if workspace.template_id and seconds > 0:
            _insert_startup(session, workspace.template_id, workspace.latest_build.id, workspace.id, seconds)


def _insert_startup(
    session: Session, template_id: str, build_id: str, workspace_id: str, seconds: float
) -> None:
    insert_ignoring_conflicts(
        session,
        StartupDuration.__table__,  # type: ignore[arg-type]
        {
            "build_id": build_id,
            "template_id": template_id,
            "workspace_id": workspace_id,
            "seconds": seconds,
            "finished_at": datetime.now(UTC),
        },
    )


async def timing_note(
    client: AsyncCoderClient,
    workspace: Workspace,
    kind: str,
    record: Recorder | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,  # noqa: ASYNC109
    min_extra_seconds: float = SLOWER_MIN_EXTRA_SECONDS,
) -> TimingNote | None:
    """The note for ``workspace``'s latest build settling as ``kind``; None when Coder has no timings."""
    if kind not in TIMED_KINDS:
        return None
    build = workspace.latest_build
    try:
        timings = await asyncio.wait_for(client.workspaces.timings(build), timeout)
    except (CoderError, TimeoutError) as exc:
        log.info("build timings of %s unavailable: %s", workspace.full_name, type(exc).__name__)
        return None
    if timings is None:
        return None
    result = breakdown(timings)
    if result.empty:
        return None
    slower = ""
    if kind == "ready" and record is not None and workspace.template_id:
        try:
            earlier = await record(workspace.template_id, build.id, workspace.id, result.total_seconds)
        except Exception as exc:  # the history is a nicety: never lose the note for it
            log.warning("recording the startup of %s failed: %s", workspace.full_name, type(exc).__name__)
            earlier = []
        found = slower_than_usual(result.total_seconds, earlier, min_extra_seconds=min_extra_seconds)
        slower = found.text() if found else ""
    return TimingNote(result.summary(), tuple(result.lines()), slower, result.total_seconds)


def with_history(
    session: Session, workspace: Workspace, kind: str, note: Mapping[str, Any], min_extra_seconds: float
) -> dict[str, Any]:
    """The alert's note (``TimingNote.to_payload``), its start recorded in the template's history and judged
    against it when it reached ``ready`` (in the caller's transaction)."""
    parsed = TimingNote.from_payload(note)
    if parsed is None or kind != "ready" or not workspace.template_id or parsed.seconds <= 0:
        return dict(note)
    earlier = record_startup(
        session, workspace.template_id, workspace.latest_build.id, workspace.id, parsed.seconds
    )
    found = slower_than_usual(parsed.seconds, earlier, min_extra_seconds=min_extra_seconds)
    return {**note, "slower": found.text() if found else ""}
