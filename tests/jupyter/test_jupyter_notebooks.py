"""The example notebooks, executed with nbclient in a real kernel against coder-sim.

The kernel gets CODER_URL / CODER_SESSION_TOKEN, exactly what a user who ran `coder login` has, so the
notebooks run unchanged. nbclient cannot click, so each test appends a cell that acts like the user.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
from coder_client import CoderClient
from jupyter_test_helpers import CoderLogin
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def run(
    notebook: nbformat.NotebookNode, login: CoderLogin, monkeypatch: pytest.MonkeyPatch
) -> nbformat.NotebookNode:
    monkeypatch.setenv("CODER_URL", login.url)
    monkeypatch.setenv("CODER_SESSION_TOKEN", login.token)
    NotebookClient(notebook, timeout=120, kernel_name="python3", store_widget_state=True).execute()
    return notebook


def outputs_text(notebook: nbformat.NotebookNode) -> str:
    return json.dumps([cell.get("outputs", []) for cell in notebook.cells])


def test_launch_notebook_creates_a_workspace_that_becomes_ready(
    alice: CoderLogin, unique_name: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    notebook = nbformat.read(NOTEBOOKS / "launch.ipynb", as_version=4)
    name = unique_name("nbl")
    notebook.cells.append(
        nbformat.v4.new_code_cell(
            "launcher.wait_loaded()\n"
            "launcher.template.value = 'python-ds'\n"
            "launcher.wait_loaded()\n"
            "launcher.form.fields['project_name'].value = 'churn-model'\n"
            f"launcher.name.value = {name!r}\n"
            "launcher.create.click()\n"
            "import time\n"
            "while launcher.monitor is None and not launcher.error: time.sleep(0.05)\n"
            "assert not launcher.error, launcher.error\n"
            "view = launcher.monitor.wait(timeout=60)\n"
            "print('OUTCOME', view.outcome, view.startup_duration)\n"
            "launcher"
        )
    )
    executed = run(notebook, alice, monkeypatch)
    text = outputs_text(executed)
    assert "OUTCOME ready" in text
    states = executed.metadata["widgets"][WIDGET_STATE]["state"]
    assert any("coder-monitor" in (m["state"].get("_dom_classes") or []) for m in states.values())
    assert "text/html" in executed.cells[1].outputs[0]["data"]  # the static fallback is saved too
    with CoderClient(url=alice.url, token=alice.token) as coder:
        assert coder.workspaces.get(f"alice/{name}").name == name


def test_monitor_notebook_reattaches_by_name(
    alice: CoderLogin, unique_name: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    name = unique_name("nbm")
    with CoderClient(url=alice.url, token=alice.token) as coder:
        coder.workspaces.create(name, "python-ds", parameters={"project_name": "abc"})
    notebook = nbformat.read(NOTEBOOKS / "monitor.ipynb", as_version=4)
    parameters = next(c for c in notebook.cells if "parameters" in c.metadata.get("tags", []))
    parameters.source = f'WORKSPACE = "me/{name}"'
    executed = run(notebook, alice, monkeypatch)
    text = outputs_text(executed)
    assert "ready after" in text
    assert f"Coder workspace me/{name}" in text  # the text fallback, as saved when the cell ran


def test_workspaces_notebook_lists_my_workspaces(
    alice: CoderLogin, unique_name: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    name = unique_name("nbw")
    with CoderClient(url=alice.url, token=alice.token) as coder:
        coder.workspaces.create(name, "python-ds", parameters={"project_name": "abc"})
    notebook = nbformat.read(NOTEBOOKS / "workspaces.ipynb", as_version=4)
    notebook.cells.append(
        nbformat.v4.new_code_cell(
            "mine.wait_refreshed()\nprint('ROWS', sorted(r.view.name for r in mine.rows.values()))"
        )
    )
    executed = run(notebook, alice, monkeypatch)
    assert name in outputs_text(executed)
