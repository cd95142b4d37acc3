"""`coder_jupyter.monitor(ws)`: a live status card for one workspace."""

from __future__ import annotations

import asyncio
import contextlib
import html
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import ipywidgets as w
import traitlets
from coder_client import AsyncCoderClient, NotFound, Workspace, human_duration

from ..runner import Runner
from ..timings import timings_html, timings_json
from ..view import WorkspaceView, dashboard_url
from .common import CoderWidget, badge, visible_text

LOG_TAIL_LINES = 40
TIMED_OUTCOMES = frozenset({"ready", "start_error", "start_timeout"})  # starts with build timings


async def resolve_workspace(client: AsyncCoderClient, ref: str) -> Workspace:
    """An id, `owner/name` or a bare name (yours), fetched fresh."""
    return await client.workspaces.get(ref)


def timeline_html(view: WorkspaceView, now: datetime | None = None) -> str:
    steps = []
    for phase in view.timeline(now):
        label = human_duration(phase.seconds) if phase.seconds is not None else ""
        steps.append(
            f'<div class="coder-step coder-step-{phase.state}" data-phase="{html.escape(phase.name)}">'
            f"{html.escape(phase.name)}<small>{label}</small></div>"
        )
    if view.outcome is not None and view.transition == "start":
        final = "done" if view.outcome == "ready" else "failed"
        steps.append(
            f'<div class="coder-step coder-step-{final}">{html.escape(view.outcome)}<small></small></div>'
        )
    return f'<div class="coder-timeline">{"".join(steps)}</div>'


class Monitor(CoderWidget):
    """Follows a workspace over Coder's watch stream and shows where it is in coming up."""

    status = traitlets.Unicode("connecting", help="Coder's workspace status (running, stopped, …).")
    phase = traitlets.Unicode(
        "", help="The current phase: queued, building, agent connecting, starting or the outcome."
    )
    outcome = traitlets.Unicode(
        None,
        allow_none=True,
        help="Where it settled: ready, start_error, start_timeout, build_failed, build_canceled, stopped, "
        "deleted.",
    )
    startup_duration = traitlets.Float(
        None, allow_none=True, help="Seconds from agent start to ready (ready_at − started_at)."
    )
    autostop_in = traitlets.Float(None, allow_none=True, help="Seconds until the workspace stops on its own.")
    log_tail = traitlets.Unicode("", help="The startup log tail, filled when startup fails.")
    extended = traitlets.Unicode("", help="What the last Extend did, in a sentence (e.g. capped).")
    time_spent = traitlets.Unicode(
        "",
        help='Where the start\'s time went (build timings), e.g. "Install Python packages 1m34s of 2m41s".',
    )
    outdated = traitlets.Bool(False, help="The workspace's template has a newer active version.")

    def __init__(
        self,
        workspace: Any,
        *,
        runner: Runner | None = None,
        url: str | None = None,
        token: str | None = None,
        coder_url: str | None = None,
    ) -> None:
        super().__init__(runner=runner, url=url, token=token)
        self.add_class("coder-monitor")
        self.workspace_ref = workspace if isinstance(workspace, str) else str(workspace.id)
        self.view: WorkspaceView | None = None
        self._coder_url = coder_url
        self._changed = threading.Condition()
        self._closed = False

        self._title = w.HTML(f"<b>{html.escape(self.workspace_ref)}</b> {badge('connecting')}")
        self._title.add_class("coder-status")
        self._timeline = w.HTML("")
        self._timeline.add_class("coder-phase-timeline")
        self._startup = w.HTML("")
        self._startup.add_class("coder-startup-duration")
        self._timings = w.HTML("")
        self._timings.add_class("coder-build-timings")
        self._links = w.HTML("")
        self._links.add_class("coder-open-link")
        self._autostop = w.HTML("")
        self._autostop.add_class("coder-autostop")
        self.extend_1h = w.Button(description="Extend +1h", icon="clock", disabled=True)
        self.extend_1h.add_class("coder-extend-1h")
        self.extend_2h = w.Button(description="Extend +2h", icon="clock", disabled=True)
        self.extend_2h.add_class("coder-extend-2h")
        self.extend_1h.on_click(lambda _: self.extend(timedelta(hours=1)))
        self.extend_2h.on_click(lambda _: self.extend(timedelta(hours=2)))
        # template updates: Update shows for an outdated, settled workspace where Coder offers updates
        self._updates_offered = False
        self.update_button = w.Button(
            description="Update", icon="arrow-up", tooltip="Move to the template's newest version"
        )
        self.update_button.add_class("coder-update")
        self.update_button.layout.display = "none"
        self.update_button.on_click(lambda _: self.update())
        self._actions = w.HBox([self._autostop, self.extend_1h, self.extend_2h])
        self._actions.layout.display = "none"
        self._log = w.Textarea(value="", disabled=True, layout=w.Layout(width="100%", height="180px"))
        self._log.add_class("coder-log-tail")
        self._log_box = w.VBox([w.HTML("<b>Startup log (last lines)</b>"), self._log])
        self._log_box.layout.display = "none"
        self.children = (
            self._style,
            self._title,
            self._timeline,
            self._startup,
            self._timings,
            self._links,
            self.update_button,
            self._actions,
            self._log_box,
            self._error_box,
        )
        self._follow = self.runner.spawn(self._follow_forever, self.show_error)
        self._ticker = self.runner.spawn(self._tick_countdown, self.show_error)

    # -- what the card shows (read-only; for scripts and tests) ---------------------------------------

    @property
    def timeline_text(self) -> str:
        """The phase timeline as shown: each phase with how long it took (the active one counts up)."""
        return visible_text(self._timeline.value)

    @property
    def startup_text(self) -> str:
        """The startup line as shown, e.g. "Startup took 42s"; empty until the workspace is ready."""
        return visible_text(self._startup.value)

    @property
    def timings_text(self) -> str:
        """Where the start's time went, as shown (summary and every step); empty without build timings."""
        return visible_text(self._timings.value)

    @property
    def links_text(self) -> str:
        """The links offered once startup settled, as shown (e.g. "Open in Coder · Open jupyter")."""
        return visible_text(self._links.value)

    @property
    def autostop_text(self) -> str:
        """The autostop line beside the Extend buttons as shown (with what the last Extend did)."""
        return visible_text(self._autostop.value)

    @property
    def log_tail_shown(self) -> bool:
        """True while the card shows its startup log box (after a failed startup or build)."""
        return bool(self._log_box.layout.display != "none")

    @property
    def following(self) -> bool:
        """True while the card follows the workspace's watch stream; False once that ended (the workspace
        was deleted or never found, or the card was closed)."""
        return not self._follow.done()

    # -- runner-thread side --------------------------------------------------------------------------

    async def _follow_forever(self) -> None:
        """Follow the workspace until the monitor closes. The client's watch reconnects by itself; what
        reaches here ends the watch: a deleted workspace (404, 410 Gone), or a refusal to show."""
        client = self.client()
        if self._coder_url is None:
            self._coder_url = _base_url(client)
        with contextlib.suppress(Exception):
            self._updates_offered = (await client.capabilities()).template_updates
        try:
            workspace = await resolve_workspace(client, self.workspace_ref)
            self.workspace_ref = str(workspace.id)
            await self._apply(workspace)
            async for snapshot in client.workspaces.watch(workspace):
                self.clear_error()
                await self._apply(snapshot)
                if self._closed:
                    return
        except NotFound as exc:
            if self.view is None:
                self.show_error(exc)  # never found: say so
            else:
                self._deleted()

    def _deleted(self) -> None:
        """Coder no longer has the workspace (404 / 410 Gone after it was followed): deleted."""
        self._ticker.cancel()  # nothing left to count down
        with self.hold_trait_notifications():
            self.phase = self.outcome = "deleted"
            self.autostop_in = None
        name = self.view.workspace.full_name if self.view is not None else self.workspace_ref
        self._title.value = f"<b>{html.escape(name)}</b> {badge('deleted')}"
        self._actions.layout.display = "none"
        self.extend_1h.disabled = self.extend_2h.disabled = True
        with self._changed:
            self._changed.notify_all()

    async def _apply(self, snapshot: Workspace) -> None:
        view = WorkspaceView(snapshot)
        previous = self.view
        if view.outcome in TIMED_OUTCOMES and (previous is None or previous.outcome != view.outcome):
            await self._load_timings()  # before the view is published: waiters see it settled with them
        elif view.outcome is None and self.time_spent:
            self.time_spent = self._timings.value = ""  # a new build: the old one's timings no longer apply
        self.view = view
        self._render(view)
        if view.outcome in {"start_error", "start_timeout"} and (
            previous is None or previous.outcome != view.outcome
        ):
            await self._load_log_tail(view)
        elif view.outcome == "build_failed" and view.job_error:
            self.log_tail = view.job_error
            self._log.value = view.job_error
            self._log_box.layout.display = ""
        with self._changed:
            self._changed.notify_all()

    async def _load_timings(self) -> None:
        """Where the start's time went; nothing on a Coder without build timings or when they fail."""
        try:
            data = timings_json(await self.client().workspaces.timings(self.workspace_ref))
        except Exception:
            data = timings_json(None)
        self.time_spent = data["summary"]
        self._timings.value = timings_html(data)

    async def _load_log_tail(self, view: WorkspaceView) -> None:
        if not view.agent_id:
            return
        try:
            logs = await self.client().agents.logs(view.agent_id)
        except Exception as exc:
            self.show_error(exc)
            return
        lines = [str(getattr(entry, "output", entry)) for entry in logs][-LOG_TAIL_LINES:]
        self.log_tail = "\n".join(lines)
        self._log.value = self.log_tail
        self._log_box.layout.display = ""

    async def _tick_countdown(self) -> None:
        """Once a second: the autostop countdown, and the running phase's duration while one is active."""
        while not self._closed:
            view = self.view
            if view is not None:
                self._render_autostop(view)
                if not view.is_settled:
                    timeline = timeline_html(view, datetime.now(UTC))
                    if timeline != self._timeline.value:
                        self._timeline.value = timeline
            await asyncio.sleep(1.0)

    def _render(self, view: WorkspaceView) -> None:
        now = datetime.now(UTC)
        name = f"{view.owner}/{view.name}" if view.owner else view.name
        label = view.current_phase
        with self.hold_trait_notifications():
            self.status = view.status
            self.phase = label
            self.outcome = view.outcome
            self.startup_duration = view.startup_duration
            self.outdated = view.workspace.outdated
        updatable = self._updates_offered and view.workspace.outdated and view.is_settled
        self.update_button.layout.display = "" if updatable else "none"
        template = f' <span class="coder-muted">{html.escape(view.template)}</span>' if view.template else ""
        if view.workspace.outdated:
            template += ' <span class="coder-muted">(outdated: the template has a newer version)</span>'
        self._title.value = f"<b>{html.escape(name)}</b> {badge(label)}{template}"
        self._timeline.value = timeline_html(view, now)
        if view.startup_duration is not None:
            self._startup.value = f"Startup took <b>{human_duration(view.startup_duration)}</b>"
        else:
            self._startup.value = ""
        self._links.value = self._links_html(view)
        self._render_autostop(view)

    def _render_autostop(self, view: WorkspaceView) -> None:
        remaining = view.seconds_until_autostop()
        self.autostop_in = remaining
        if remaining is None:
            self._actions.layout.display = "none"
            self.extend_1h.disabled = self.extend_2h.disabled = True
            return
        text = "stops now" if remaining <= 0 else f"Stops in <b>{human_duration(remaining)}</b>"
        if self.extended:
            text += f' <span class="coder-muted">{html.escape(self.extended)}</span>'
        if self._autostop.value != text:
            self._autostop.value = text
        self._actions.layout.display = ""
        self.extend_1h.disabled = self.extend_2h.disabled = False

    def _links_html(self, view: WorkspaceView) -> str:
        if view.outcome not in {"ready", "start_error", "start_timeout"}:
            return ""
        links = []
        if self._coder_url:
            dashboard = dashboard_url(self._coder_url, view.owner, view.name)
            links.append(f'<a href="{html.escape(dashboard)}" target="_blank">Open in Coder</a>')
        for app in view.apps:
            if app.healthy:
                links.append(
                    f'<a href="{html.escape(app.url)}" target="_blank">Open {html.escape(app.name)}</a>'
                )
        if view.outcome != "ready" and view.troubleshooting_url:
            links.append(
                f'<a href="{html.escape(view.troubleshooting_url)}" target="_blank">Troubleshooting</a>'
            )
        return " · ".join(links)

    # -- actions (called on the kernel's main thread; hand work to the runner) -----------------------

    def extend(self, by: timedelta) -> None:
        """*Extend +by*: the stop time moves ``by`` later than it is now (the client's rule: never earlier,
        capped at the template's maximum, which the message under the buttons then says)."""

        async def work() -> None:
            self.clear_error()
            plan = await self.client().workspaces.extend(self.workspace_ref, by=by)
            self.extended = plan.message
            await self._apply(await self.client().workspaces.get(self.workspace_ref))

        self.runner.spawn(work, self.show_error)

    def update(self) -> None:
        """Move the workspace to its template's newest version, as ``coder update`` (a running one is
        stopped first); the card then follows the new start."""

        async def work() -> None:
            self.clear_error()
            self.update_button.disabled = True
            try:
                await self.client().workspaces.update(self.workspace_ref)
                await self._apply(await self.client().workspaces.get(self.workspace_ref))
            finally:
                self.update_button.disabled = False

        self.runner.spawn(work, self.show_error)

    def close(self) -> None:
        self._closed = True
        self._follow.cancel()
        self._ticker.cancel()
        super().close()

    # -- waiting, for scripts and tests --------------------------------------------------------------

    def wait(
        self, until: Callable[[WorkspaceView], bool] | None = None, timeout: float = 120.0
    ) -> WorkspaceView:
        """Block until `until(view)` holds (default: the workspace settled). Raises TimeoutError."""
        done = until or (lambda view: view.is_settled and view.outcome != "stopping")
        deadline = time.monotonic() + timeout
        with self._changed:
            while self.view is None or not done(self.view):
                left = deadline - time.monotonic()
                if left <= 0:
                    state = self.view.current_phase if self.view else "unknown"
                    raise TimeoutError(f"workspace {self.workspace_ref} still {state} after {timeout:.0f} s")
                self._changed.wait(min(left, 0.5))
            return self.view

    async def wait_async(
        self,
        until: Callable[[WorkspaceView], bool] | None = None,
        timeout: float = 120.0,  # noqa: ASYNC109 (mirrors wait(); the work happens in a thread)
    ) -> WorkspaceView:
        """The awaitable form of :meth:`wait`, so a waiting cell keeps the kernel responsive."""
        return await asyncio.to_thread(self.wait, until, timeout)

    # -- static fallback -----------------------------------------------------------------------------

    def snapshot_html(self) -> str:
        parts = [self._title.value, self._timeline.value, self._startup.value, self._links.value]
        if self._actions.layout.display != "none":
            parts.append(self._autostop.value)
        if self.log_tail:
            parts.append(f"<pre>{html.escape(self.log_tail)}</pre>")
        parts.append(self._error_box.value)
        return "".join(f"<div>{p}</div>" for p in parts if p)

    def snapshot_text(self) -> str:
        view = self.view
        if view is None:
            return f"Coder workspace {self.workspace_ref}: {self.phase or 'connecting'}"
        text = f"Coder workspace {view.owner}/{view.name}: {view.current_phase}"
        if view.startup_duration is not None:
            text += f" (startup {human_duration(view.startup_duration)})"
        if self.error:
            text += f" — error: {self.error}"
        return text


def _base_url(client: Any) -> str | None:
    for attribute in ("base_url", "url"):
        value = getattr(client, attribute, None)
        if value:
            return str(value)
    return None


def monitor(
    workspace: Any,
    *,
    url: str | None = None,
    token: str | None = None,
) -> Monitor:
    """A live card for `workspace` (an id, `owner/name`, your workspace's name, or a Workspace)."""
    return Monitor(workspace, url=url, token=token)
