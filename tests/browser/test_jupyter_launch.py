"""One real-browser check: JupyterLab + Debian Chromium + Playwright, launch.ipynb end to end.

Recipe: docs/reference/jupyter.md §3c. Never `playwright install`: Playwright drives /usr/bin/chromium.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from coder_client import CoderClient
from coder_sim import SimServer

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts"
KERNEL_IDLE = """() => { const t = document.querySelector('#jp-main-statusbar')?.textContent ?? '';
  return t.includes('Idle') && !['Connecting','Initializing','Starting'].some(s => t.includes(s)); }"""

pytestmark = pytest.mark.browser


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="module")
def browser_sim() -> Iterator[SimServer]:
    with SimServer(era="v2", speed=10.0, seed=7) as server:
        yield server


@pytest.fixture(scope="module")
def lab_url(tmp_path_factory: pytest.TempPathFactory, browser_sim: SimServer) -> Iterator[str]:
    root = tmp_path_factory.mktemp("lab")
    shutil.copy(REPO / "notebooks" / "launch.ipynb", root / "launch.ipynb")
    settings = root / "user-settings" / "@jupyterlab"
    (settings / "apputils-extension").mkdir(parents=True)
    (settings / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    (settings / "notebook-extension").mkdir(parents=True)
    (settings / "notebook-extension" / "tracker.jupyterlab-settings").write_text(
        json.dumps({"windowingMode": "none"})
    )
    port = free_port()
    env = {
        **os.environ,
        "CODER_URL": browser_sim.url,
        "CODER_SESSION_TOKEN": browser_sim.user_tokens["alice"],
        "JUPYTER_CONFIG_DIR": str(root / "config"),
        "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
        "JUPYTER_DATA_DIR": str(root / "data"),
    }
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1",
        f"--port={port}", "--ServerApp.port_retries=0", "--IdentityProvider.token=", "--ServerApp.password=",
        "--ServerApp.disable_check_xsrf=True", f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True", f"--LabApp.user_settings_dir={root / 'user-settings'}",
        f"--LabApp.workspaces_dir={root / 'workspaces'}",
    ]  # fmt: skip
    log = (root / "lab.log").open("wb")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/api/status", timeout=1).is_success:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            pytest.fail(f"JupyterLab did not start; log:\n{(root / 'lab.log').read_text()[-3000:]}")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def test_launch_notebook_in_a_real_browser(chromium: Path, lab_url: str, browser_sim: SimServer) -> None:
    from playwright.sync_api import expect, sync_playwright

    with CoderClient(url=browser_sim.url, token=browser_sim.user_tokens["alice"]) as coder:
        label = coder.templates.get_by_name("python-ds").display_name or "python-ds"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        try:
            page.goto(f"{lab_url}/lab/tree/launch.ipynb")
            page.wait_for_function(KERNEL_IDLE, timeout=60_000)
            page.evaluate("() => { void window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
            template = page.locator(".coder-template select")
            expect(template).to_be_enabled(timeout=60_000)
            template.select_option(label=label)
            project = page.locator(".coder-param-project_name input")
            expect(project).to_be_visible(timeout=30_000)
            project.fill("churn-model")
            page.locator(".coder-name input").fill("browser-box")
            create = page.locator("button.coder-create")
            expect(create).to_be_enabled(timeout=10_000)
            create.click()
            expect(page.locator(".coder-monitor .coder-status")).to_contain_text("ready", timeout=60_000)
            expect(page.locator(".coder-startup-duration")).to_contain_text("Startup took", timeout=10_000)
            expect(page.locator(".coder-open-link a").first).to_have_text("Open in Coder")
            expect(page.locator(".coder-timeline .coder-step-done")).to_have_count(5)
        finally:
            page.screenshot(path=str(ARTIFACTS / "jupyter-launch.png"), full_page=True)
            browser.close()


def test_launcher_starts_without_a_template_and_its_fields_line_up(
    chromium: Path, lab_url: str, browser_sim: SimServer
) -> None:
    """The launcher does not preselect the alphabetically first template ("Broken startup"), but none or
    the user's last one; Name and Stop-after line up with the parameter fields above them."""
    from playwright.sync_api import expect, sync_playwright

    last = httpx.get(f"{lab_url}/coder/api/preferences", timeout=10).json().get("last_template")
    with CoderClient(url=browser_sim.url, token=browser_sim.user_tokens["alice"]) as coder:
        labels = {t.name: t.display_name or t.name for t in coder.templates.list()}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        try:
            page.goto(f"{lab_url}/lab/tree/launch.ipynb")
            page.wait_for_function(KERNEL_IDLE, timeout=60_000)
            page.evaluate("() => { void window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
            template = page.locator(".coder-template select")
            expect(template).to_be_enabled(timeout=60_000)
            chosen = template.evaluate(
                "s => s.selectedIndex < 0 ? '' : s.options[s.selectedIndex].text.replace(/\\s+/g, ' ')"
            )
            assert chosen == (labels[last] if last else ""), (chosen, last)
            template.select_option(label=labels["python-ds"])
            project = page.locator(".coder-param-project_name input")
            expect(project).to_be_visible(timeout=30_000)
            lefts = {
                selector: page.locator(selector).first.bounding_box()
                for selector in (".coder-param-project_name input", ".coder-name input", ".coder-ttl input")
            }
            xs = {selector: round(box["x"]) for selector, box in lefts.items() if box is not None}
            assert len(xs) == 3 and max(xs.values()) - min(xs.values()) <= 1, xs
        finally:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "jupyter-launcher-form.png"), full_page=True)
            browser.close()
