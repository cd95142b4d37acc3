"""`coder_jupyter.workspaces()`: your workspaces with status and actions, refreshed with backoff."""

from __future__ import annotations

import asyncio
import contextlib
import html
import threading

import ipywidgets as w
import traitlets
from coder_client import without_prebuilds

from ..runner import Runner, describe_error
from ..view import WorkspaceView
from .common import CoderWidget, badge
from .monitor import Monitor

REFRESH_SECONDS = 5.0
MAX_BACKOFF_SECONDS = 60.0


class WorkspaceRow:
    def __init__(self, listing: WorkspaceList, view: WorkspaceView) -> None:
        self.view = view
        self.label = w.HTML(_row_label(view), layout=w.Layout(width="380px"))
        self.start = w.Button(description="Start", icon="play", layout=w.Layout(width="90px"))
        self.start.add_class("coder-row-start")
        self.stop = w.Button(description="Stop", icon="stop", layout=w.Layout(width="90px"))
        self.stop.add_class("coder-row-stop")
        self.watch = w.Button(description="Monitor", icon="eye", layout=w.Layout(width="100px"))
        self.watch.add_class("coder-row-monitor")
        self.start.disabled = view.status not in {"stopped", "failed", "canceled"}
        self.stop.disabled = view.status not in {"running", "starting", "pending"}
        self.start.on_click(lambda _: listing.act(view.workspace_id, "start"))
        self.stop.on_click(lambda _: listing.act(view.workspace_id, "stop"))
        self.watch.on_click(lambda _: listing.show_monitor(view.workspace_id))
        self.box = w.HBox([self.label, self.start, self.stop, self.watch])
        self.box.add_class("coder-row")
        self.box.add_class(f"coder-row-{view.name}")


class WorkspaceList(CoderWidget):
    """Polls `owner:me` (or another Coder search query); backs off while Coder is failing."""

    count = traitlets.Int(0, help="How many workspaces the last refresh found.")
    refreshes = traitlets.Int(0, help="Successful refreshes so far.")
    interval = traitlets.Float(
        REFRESH_SECONDS, help="Seconds until the next refresh (grows while Coder fails)."
    )

    def __init__(
        self,
        query: str = "owner:me",
        *,
        refresh_seconds: float = REFRESH_SECONDS,
        runner: Runner | None = None,
        url: str | None = None,
        token: str | None = None,
    ) -> None:
        super().__init__(runner=runner, url=url, token=token)
        self.add_class("coder-workspaces")
        self.query = query
        self.refresh_seconds = refresh_seconds
        self.interval = refresh_seconds
        self.rows: dict[str, WorkspaceRow] = {}
        self.monitor: Monitor | None = None
        self._closed = False
        self._wake: asyncio.Event | None = None
        self._refreshed = threading.Condition()

        self._title = w.HTML(f"<b>Coder workspaces</b> <span class='coder-muted'>{html.escape(query)}</span>")
        self.refresh_button = w.Button(description="Refresh", icon="refresh", layout=w.Layout(width="100px"))
        self.refresh_button.add_class("coder-refresh")
        self.refresh_button.on_click(lambda _: self.refresh())
        self._table = w.VBox([w.HTML("Loading…")])
        self._table.add_class("coder-table")
        self._detail = w.VBox([])
        self.children = (
            self._style,
            w.HBox([self._title, self.refresh_button]),
            self._table,
            self._error_box,
            self._detail,
        )
        self._poller = self.runner.spawn(self._poll_forever, self.show_error)

    async def _poll_forever(self) -> None:
        self._wake = asyncio.Event()
        while not self._closed:
            try:
                await self._refresh_once()
                self.clear_error()
                self.interval = self.refresh_seconds
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.interval = min(max(self.interval, self.refresh_seconds) * 2, MAX_BACKOFF_SECONDS)
                self.show_error(f"{describe_error(exc)}\nRetrying in {self.interval:.0f} s.")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval)

    async def _refresh_once(self) -> None:
        found = without_prebuilds(await self.client().workspaces.list(query=self.query))  # presets
        views = [WorkspaceView(ws) for ws in found]
        rows = {}
        for view in sorted(views, key=lambda v: (v.owner, v.name)):
            existing = self.rows.get(view.workspace_id)
            if existing is not None and _row_label(existing.view) == _row_label(view):
                rows[view.workspace_id] = existing
            else:
                rows[view.workspace_id] = WorkspaceRow(self, view)
        self.rows = rows
        self._table.children = (
            [r.box for r in rows.values()]
            if rows
            else [w.HTML("<span class='coder-muted'>No workspaces.</span>")]
        )
        self.count = len(rows)
        self.refreshes += 1
        with self._refreshed:
            self._refreshed.notify_all()

    def refresh(self) -> None:
        """Refresh now (from any thread)."""
        if self._wake is not None:
            self.runner.loop.call_soon_threadsafe(self._wake.set)

    def act(self, workspace_id: str, action: str) -> None:
        async def work() -> None:
            self.clear_error()
            if action == "start":
                await self.client().workspaces.start(workspace_id)
            else:
                await self.client().workspaces.stop(workspace_id)
            self.refresh()

        self.runner.spawn(work, self.show_error)

    @property
    def detail(self) -> tuple[w.Widget, ...]:
        """What the detail area under the rows shows: the monitor a row's *Monitor* button opened, if any."""
        return tuple(self._detail.children)

    def show_monitor(self, workspace_id: str) -> None:
        if self.monitor is not None:
            self.monitor.close()
        self.monitor = Monitor(workspace_id, runner=self.runner, url=self._url, token=self._token)
        self._detail.children = (self.monitor,)

    def wait_refreshed(self, after: int = 1, timeout: float = 30.0) -> WorkspaceList:
        """Block until at least `after` refreshes have completed."""
        with self._refreshed:
            if not self._refreshed.wait_for(lambda: self.refreshes >= after, timeout):
                raise TimeoutError(f"workspace list did not refresh within {timeout:.0f} s: {self.error}")
        return self

    def close(self) -> None:
        self._closed = True
        self._poller.cancel()
        if self.monitor is not None:
            self.monitor.close()
        super().close()

    def snapshot_html(self) -> str:
        rows = "".join(f"<li>{_row_label(r.view)}</li>" for r in self.rows.values())
        return f"<b>Coder workspaces</b><ul>{rows}</ul>{self._error_box.value}"

    def snapshot_text(self) -> str:
        lines = [f"{r.view.owner}/{r.view.name}: {r.view.status}" for r in self.rows.values()]
        return "Coder workspaces\n" + ("\n".join(lines) if lines else "(none)")


def _row_label(view: WorkspaceView) -> str:
    owner = f"{html.escape(view.owner)}/" if view.owner else ""
    template = f" <span class='coder-muted'>{html.escape(view.template)}</span>" if view.template else ""
    return f"<b>{owner}{html.escape(view.name)}</b> {badge(view.current_phase)}{template}"


def workspaces(query: str = "owner:me", *, url: str | None = None, token: str | None = None) -> WorkspaceList:
    """Your workspaces (or those matching a Coder search query), with Start / Stop / Monitor."""
    return WorkspaceList(query, url=url, token=token)
