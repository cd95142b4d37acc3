"""Shared helpers for the real-browser tests and the panel benchmark: a JupyterLab server process pointed at
coder-sim, Debian Chromium through Playwright, and a page object for the "Coder workspaces" sidebar.

Everything here follows the REST/DOM contract of issue 15: panel id ``coder-workspaces-panel``, rows
``[data-workspace-id]`` with ``[data-field=...]`` children, buttons ``[data-action=...]``, the connection
indicator ``[data-connection]``, form fields ``[data-param=...]``, errors ``[data-error-for=...]``.

Never ``playwright install``: Playwright drives /usr/bin/chromium (docs/reference/jupyter.md §3c).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page, Playwright

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts"
PANEL_ID = "coder-workspaces-panel"
PANEL = f"#{PANEL_ID}"
CAPTION = "Coder workspaces"
TAB = f'.jp-SideBar li[title="{CAPTION}"]'
CHROMIUM_ARGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]
KERNEL_IDLE = """() => { const t = document.querySelector('#jp-main-statusbar')?.textContent ?? '';
  return t.includes('Idle') && !['Connecting','Initializing','Starting'].some(s => t.includes(s)); }"""
BUSY_CELL = "import time\nprint('sleeping', flush=True)\ntime.sleep(120)"

# An in-page recorder: one MutationObserver on the panel that notes, for every row whose visible fields
# change, the new field texts with a wall-clock time in ms (performance.timeOrigin + performance.now(), so
# comparable with Python's time.time() on the same machine). Timestamps are taken inside the observer
# callback, i.e. in the same task as the DOM change, not by polling from Playwright.
RECORDER_JS = """(panelSelector) => {
  if (window.__coderRecorder) { return; }
  const panel = document.querySelector(panelSelector);
  if (!panel) { throw new Error('no panel ' + panelSelector); }
  const last = new Map();
  const events = [];
  const read = (row) => {
    const out = {};
    for (const f of row.querySelectorAll('[data-field]')) {
      if (f.closest('[data-workspace-id]') === row) { out[f.dataset.field] = (f.textContent || '').trim(); }
    }
    return out;
  };
  const scan = () => {
    const now = performance.timeOrigin + performance.now();
    for (const row of panel.querySelectorAll('[data-workspace-id]')) {
      const id = row.dataset.workspaceId;
      const fields = read(row);
      const key = JSON.stringify(fields);
      if (last.get(id) !== key) { last.set(id, key); events.push({ id, t: now, fields }); }
    }
  };
  const observer = new MutationObserver(scan);
  observer.observe(panel, { subtree: true, childList: true, characterData: true, attributes: true });
  scan();
  window.__coderRecorder = { events, observer };
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LabServer:
    """A JupyterLab server in its own process, with token auth and XSRF checks on (the defaults).

    The browser logs in once with ``?token=`` (a cookie), so the panel's requests go through Jupyter's own
    cookie auth and XSRF, as a user's would. ``restart()`` stops and starts it on the same port with the
    same runtime dir (same cookie secret), so a page's EventSource loses its stream and may reconnect.
    """

    def __init__(
        self,
        root: Path,
        coder_url: str,
        coder_token: str,
        *,
        keepalive_seconds: float | None = None,
        sweep_seconds: float | None = None,
    ) -> None:
        self.root = root
        self.port = free_port()
        self.token = "lab-browser-" + os.urandom(8).hex()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log_path = root / "lab.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: Any = None
        settings = root / "user-settings" / "@jupyterlab"
        (settings / "apputils-extension").mkdir(parents=True, exist_ok=True)
        (settings / "apputils-extension" / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False})
        )
        (settings / "notebook-extension").mkdir(parents=True, exist_ok=True)
        (settings / "notebook-extension" / "tracker.jupyterlab-settings").write_text(
            json.dumps({"windowingMode": "none"})
        )
        config_dir = root / "config"
        config_dir.mkdir(exist_ok=True)
        coder_config: dict[str, Any] = {}
        if keepalive_seconds is not None:
            coder_config["events_keepalive_seconds"] = keepalive_seconds
        if sweep_seconds is not None:
            coder_config["panel_sweep_seconds"] = sweep_seconds
        (config_dir / "jupyter_server_config.json").write_text(json.dumps({"CoderConfig": coder_config}))
        self.env = {
            **os.environ,
            "CODER_URL": coder_url,
            "CODER_SESSION_TOKEN": coder_token,
            "JUPYTER_CONFIG_DIR": str(config_dir),
            "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
            # The extension keeps per-user preferences (the last template) in the data dir: one per server.
            "JUPYTER_DATA_DIR": str(root / "data"),
        }

    def command(self) -> list[str]:
        root = self.root
        return [
            sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1",
            f"--port={self.port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
            "--ServerApp.password=", f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
            f"--LabApp.user_settings_dir={root / 'user-settings'}",
            f"--LabApp.workspaces_dir={root / 'workspaces'}",
        ]  # fmt: skip

    def start(self) -> LabServer:
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            self.command(), env=self.env, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            try:
                if httpx.get(f"{self.url}api/status", headers=self.headers, timeout=1).is_success:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"JupyterLab did not start; log:\n{self.log_tail()}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    @property
    def login_url(self) -> str:
        return f"{self.url}lab?token={self.token}"

    def lab_url(self, path: str = "") -> str:
        return f"{self.url}lab/{path}?token={self.token}" if path else self.login_url

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A call to the server with token auth (no XSRF needed for token-authenticated requests)."""
        return httpx.request(method, f"{self.url}{path}", headers=self.headers, timeout=30, **kwargs)

    def kernels(self) -> list[dict[str, Any]]:
        response = self.api("GET", "api/kernels")
        response.raise_for_status()
        kernels: list[dict[str, Any]] = response.json()
        return kernels

    def row(self, workspace_id: str) -> dict[str, Any]:
        response = self.api("GET", f"coder/api/workspaces/{workspace_id}/row")
        response.raise_for_status()
        row: dict[str, Any] = response.json()
        return row

    def write_notebook(self, name: str, source: str) -> None:
        notebook = {
            "cells": [
                {"cell_type": "code", "execution_count": None, "id": "busy", "metadata": {}, "outputs": [],
                 "source": source}
            ],
            "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
            "nbformat": 4,
            "nbformat_minor": 5,
        }  # fmt: skip
        (self.root / name).write_text(json.dumps(notebook))


@contextmanager
def lab_server(root: Path, coder_url: str, coder_token: str, **kwargs: Any) -> Iterator[LabServer]:
    server = LabServer(root, coder_url, coder_token, **kwargs)
    try:
        yield server.start()
    finally:
        server.stop()


def launch_chromium(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def start_busy_notebook(page: Page, lab: LabServer, name: str = "busy.ipynb") -> str:
    """Open a notebook whose one cell prints ``sleeping``, then runs ``time.sleep(120)``; run it; return its
    kernel's id once the cell shows as running (``[*]``) and its output says ``sleeping``: the kernel is
    executing it (``[*]`` alone only says the request was sent).

    (Neither the server's ``/api/kernels`` execution_state nor the status bar's Busy is used: with ipykernel
    7's comm subshell, an idle status from the subshell can overwrite the busy one while the cell still runs;
    a clean-clone CI run saw the status bar say Idle for 30 s with the cell running.)"""
    from playwright.sync_api import expect

    lab.write_notebook(name, BUSY_CELL)
    page.goto(lab.lab_url(f"tree/{name}"))
    page.wait_for_function(KERNEL_IDLE, timeout=90_000)
    page.evaluate("() => { void window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    expect(page.locator(".jp-InputPrompt").first).to_contain_text("[*]", timeout=30_000)
    expect(page.locator(".jp-OutputArea-output").first).to_contain_text("sleeping", timeout=30_000)
    kernels = lab.kernels()
    assert len(kernels) == 1, kernels
    return str(kernels[0]["id"])


def cell_still_running(page: Page) -> bool:
    """The busy notebook's cell still shows ``[*]`` (it has not finished)."""
    text = page.locator(".jp-InputPrompt").first.inner_text()
    return "[*]" in text


class Panel:
    """The "Coder workspaces" sidebar of one page, by the DOM contract."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.root = page.locator(PANEL)

    @property
    def tab(self) -> Locator:
        return self.page.locator(TAB)

    def open(self) -> Panel:
        from playwright.sync_api import expect

        expect(self.tab).to_be_visible(timeout=60_000)
        # Wait for the shell to restore its saved layout first: it may open (or close) the panel itself,
        # and a click before that would toggle it the wrong way.
        self.page.evaluate("() => window.jupyterapp.restored.then(() => true)")
        if not self.root.is_visible():
            self.tab.click()
        expect(self.root).to_be_visible(timeout=10_000)
        return self

    def row(self, workspace_id: str) -> Locator:
        return self.root.locator(f'[data-workspace-id="{workspace_id}"]')

    def row_named(self, name: str) -> Locator:
        exact = re.compile(rf"^\s*{re.escape(name)}\s*$")
        return self.root.locator("[data-workspace-id]").filter(
            has=self.page.locator('[data-field="name"]', has_text=exact)
        )

    def field(self, workspace_id: str, name: str) -> Locator:
        return self.row(workspace_id).locator(f'[data-field="{name}"]').first

    def action(self, workspace_id: str, name: str) -> Locator:
        return self.row(workspace_id).locator(f'[data-action="{name}"]').first

    def row_ids(self) -> list[str]:
        ids: list[str] = self.root.locator("[data-workspace-id]").evaluate_all(
            "rows => rows.map(r => r.dataset.workspaceId)"
        )
        return ids

    @property
    def connection(self) -> Locator:
        return self.root.locator("[data-connection]").first

    def param(self, name: str) -> Locator:
        """The input of a form field: the ``[data-param]`` element itself when it is one, else the first
        input inside it."""
        holder = self.root.locator(f'[data-param="{name}"]').first
        return holder.locator(
            "xpath=self::input|self::select|self::textarea|.//input|.//select|.//textarea"
        ).first

    def error_for(self, name: str) -> Locator:
        return self.root.locator(f'[data-error-for="{name}"]').first

    def choose_template(self, name: str, display_name: str) -> None:
        select = self.param("__template")
        values: list[str] = select.locator("option").evaluate_all("os => os.map(o => o.value)")
        if name in values:
            select.select_option(value=name)
        else:
            select.select_option(label=display_name)

    def details(self, workspace_id: str) -> Locator:
        return self.page.locator(f'[data-details-for="{workspace_id}"]')

    def start_recorder(self) -> None:
        self.page.evaluate(RECORDER_JS, PANEL)

    def wait_until_ready_again(self, workspace_id: str, timeout_ms: float = 60_000) -> None:
        """Wait (with the recorder started before the change) until the row showed some other stage, then
        Ready: a stale "Ready" from before the change does not count."""
        self.page.wait_for_function(
            """(id) => {
                 const stages = window.__coderRecorder.events.filter(e => e.id === id)
                   .map(e => (e.fields.stage || '').toLowerCase());
                 const away = stages.findIndex(s => s && !/\\bready\\b/.test(s));
                 return away >= 0 && stages.slice(away + 1).some(s => /\\bready\\b/.test(s));
               }""",
            arg=workspace_id,
            timeout=timeout_ms,
        )

    def recorded(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self.page.evaluate("() => window.__coderRecorder.events.slice()")
        return events


def dialog(page: Page) -> Locator:
    return page.locator(".jp-Dialog")


def toasts(page: Page) -> Locator:
    return page.locator(".Toastify__toast")
