"""deploy/coder: the Coder template module, parsed with python-hcl2, and its start script run for real."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import hcl2
import httpx
import pytest
from hcl2 import SerializationOptions

REPO = Path(__file__).resolve().parents[2]
CODER = REPO / "deploy" / "coder"
MODULE = CODER / "jupyterlab-coderops"
OPTIONS = SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)


def parse(path: Path) -> dict[str, Any]:
    with path.open() as file:
        parsed: dict[str, Any] = hcl2.load(file, serialization_options=OPTIONS)
    return parsed


def blocks(parsed: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    """`resource`/`data` blocks as {"type.name": body}; `variable`/`module` as {name: body}."""
    found: dict[str, dict[str, Any]] = {}
    for entry in parsed.get(kind, []):
        for first, body in entry.items():
            if kind in {"resource", "data"}:
                for second, inner in body.items():
                    found[f"{first}.{second}"] = inner
            else:
                found[first] = body
    return found


@pytest.fixture(scope="module")
def module() -> dict[str, Any]:
    return parse(MODULE / "main.tf")


def defaults(module: dict[str, Any]) -> dict[str, Any]:
    return {name: body.get("default") for name, body in blocks(module, "variable").items()}


def test_jupyterlab_is_a_coder_app_like_coders_own_module(module: dict[str, Any]) -> None:
    app = blocks(module, "resource")["coder_app.jupyterlab"]
    assert app["slug"] == "${local.slug}"
    assert module["locals"][0]["slug"] == "jupyterlab"
    assert app["url"] == "http://127.0.0.1:${var.port}${local.base_url}"
    assert app["subdomain"] == "${var.subdomain}"
    assert app["share"] == "${var.share}"
    (healthcheck,) = app["healthcheck"] if isinstance(app["healthcheck"], list) else [app["healthcheck"]]
    assert healthcheck["url"] == "http://127.0.0.1:${var.port}${local.base_url}/api"
    assert (healthcheck["interval"], healthcheck["threshold"]) == (5, 6)
    settings = defaults(module)
    assert (settings["port"], settings["subdomain"], settings["share"]) == (19999, True, "owner")


def test_the_share_level_is_validated(module: dict[str, Any]) -> None:
    share = blocks(module, "variable")["share"]
    (validation,) = share["validation"] if isinstance(share["validation"], list) else [share["validation"]]
    for level in ("owner", "authenticated", "public"):
        assert f'"{level}"' in validation["condition"]


def test_the_path_based_url_matches_coders_app_route(module: dict[str, Any]) -> None:
    (local_values,) = module["locals"]
    assert local_values["base_url"] == (
        '${var.subdomain ? "" : "/@${data.coder_workspace_owner.me.name}/${data.coder_workspace.me.name}'
        '/apps/${local.slug}"}'
    )
    assert local_values["slug"] == "jupyterlab"


def template_variables(module: dict[str, Any]) -> set[str]:
    script = blocks(module, "resource")["coder_script.jupyterlab"]["script"]
    return set(re.findall(r"\b([A-Z_]+)\s*=", script))


def test_the_start_script_gets_exactly_the_values_it_uses(module: dict[str, Any]) -> None:
    script = blocks(module, "resource")["coder_script.jupyterlab"]
    assert script["run_on_start"] is True
    assert 'templatefile("${path.module}/run.sh"' in script["script"]
    used = set(re.findall(r"(?<!\$)\$\{([A-Z_]+)\}", (MODULE / "run.sh").read_text()))
    assert used == template_variables(module)


def test_the_owners_token_is_passed_only_when_asked(module: dict[str, Any]) -> None:
    script = blocks(module, "resource")["coder_script.jupyterlab"]["script"]
    assert "var.pass_session_token ? data.coder_workspace_owner.me.session_token" in script
    assert defaults(module)["pass_session_token"] is True


def test_the_template_snippet_uses_the_module_with_declared_arguments(module: dict[str, Any]) -> None:
    snippet = blocks(parse(CODER / "template-snippet.tf"), "module")["coderops_jupyterlab"]
    assert (CODER / snippet["source"]).resolve() == MODULE
    assert snippet["agent_id"] == "${coder_agent.main.id}"
    arguments = set(snippet) - {"source", "count"}
    assert arguments <= set(blocks(module, "variable"))


def render(values: dict[str, str]) -> str:
    """What Terraform's templatefile() makes of run.sh: ${NAME} filled in, $${ unescaped."""
    text = (MODULE / "run.sh").read_text()
    rendered = re.sub(r"(?<!\$)\$\{([A-Z_]+)\}", lambda match: values[match.group(1)], text)
    return rendered.replace("$${", "${")


def test_the_rendered_script_is_valid_bash() -> None:
    script = render(
        {
            "VENV_DIR": "$HOME/.local/share/coderops/jupyterlab",
            "LOG_PATH": "/tmp/jupyterlab.log",
            "PORT": "19999",
            "BASE_URL": "",
            "REQUIREMENTS": "'jupyterlab>=4.2,<5' 'coder-jupyter'",
            "PIP_EXTRA_ARGS": "",
            "CODER_URL": "https://coder.example.com",
            "SESSION_TOKEN": "abcdefghij-abcdefghijabcdefghijkl",
        }
    )
    result = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def locked_version(package: str) -> str:
    match = re.search(
        rf'\[\[package\]\]\nname = "{package}"\nversion = "([^"]+)"', (REPO / "uv.lock").read_text()
    )
    assert match is not None
    return match.group(1)


@pytest.mark.slow
def test_the_start_script_installs_and_serves_jupyterlab_with_coder_jupyter(tmp_path: Path) -> None:
    """What a workspace does on start: install into a venv, start JupyterLab behind the app's base URL."""
    port, coder_port = free_port(), free_port()
    base_url = "/@alice/dev/apps/jupyterlab"
    packages = REPO / "packages"
    venv = tmp_path / "jupyterlab-venv"
    script = render(
        {
            "VENV_DIR": str(venv),
            "LOG_PATH": str(tmp_path / "jupyterlab.log"),
            "PORT": str(port),
            "BASE_URL": base_url,
            "REQUIREMENTS": f"'jupyterlab=={locked_version('jupyterlab')}' "
            f"'{packages / 'coder-client'}' '{packages / 'coder-jupyter'}'",
            "PIP_EXTRA_ARGS": "",
            "CODER_URL": f"http://127.0.0.1:{coder_port}",
            "SESSION_TOKEN": "abcdefghij-abcdefghijabcdefghijkl",
        }
    )
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith(("CODER_", "JUPYTER"))},
        "HOME": str(home),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    env.pop("VIRTUAL_ENV", None)
    result = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "abcdefghij-abcdefghijabcdefghijkl" not in result.stdout + result.stderr, (
        "the token is never echoed"
    )
    pid = int((venv / "jupyterlab.pid").read_text())
    try:
        health_url = f"http://127.0.0.1:{port}{base_url}/api"
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(health_url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            log = (tmp_path / "jupyterlab.log").read_text()[-3000:]
            assert Path(f"/proc/{pid}").exists(), f"JupyterLab exited:\n{log}"
            assert time.monotonic() < deadline, f"JupyterLab did not answer {health_url}:\n{log}"
            time.sleep(0.5)

        # coder_jupyter's routes are there, and answer Coder being unreachable with a JSON message.
        routes = httpx.get(f"http://127.0.0.1:{port}{base_url}/coder/api/templates", timeout=30)
        assert routes.status_code != 404, routes.text
        assert "message" in routes.json()
        # A request as Coder's proxy sends it (another Host) is not refused, and may be framed by Coder.
        lab = httpx.get(
            f"http://127.0.0.1:{port}{base_url}/lab",
            headers={"Host": "jupyterlab--dev--alice.coder.example.com"},
            timeout=30,
        )
        assert lab.status_code == 200
        assert (
            f"frame-ancestors 'self' http://127.0.0.1:{coder_port}" in lab.headers["Content-Security-Policy"]
        )
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
