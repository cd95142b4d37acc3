"""The served OpenAPI document, checked by schemathesis against a real Jupyter server + coder-sim.

Property-based: schemathesis generates requests from the document (valid and invalid) and checks that
no route answers 5xx other than the documented 502, and that statuses, content types and bodies match.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from coder_sim import SimServer
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import ignored_auth, positive_data_acceptance

JUPYTER_TOKEN = "schemathesis-test-token"
AUTH = {"Authorization": f"token {JUPYTER_TOKEN}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def coder_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("server")
    with SimServer(era="v2", speed=40.0, seed=8) as sim:
        port = free_port()
        command = [
            sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root", "--ip=127.0.0.1",
            f"--port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={JUPYTER_TOKEN}",
            "--ServerApp.allow_unauthenticated_access=False", f"--ServerApp.root_dir={root}",
            f"--CoderConfig.url={sim.url}", f"--CoderConfig.token={sim.user_tokens['alice']}",
        ]  # fmt: skip
        env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(root / "config"),
            "JUPYTER_RUNTIME_DIR": str(root / "rt"),
            "JUPYTER_DATA_DIR": str(root / "data"),  # PUT preferences writes there
        }
        log = (root / "server.log").open("wb")
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for(url, process, root / "server.log")
            yield f"{url}/coder/api"
        finally:
            process.terminate()
            process.wait(timeout=15)
            log.close()


def wait_for(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"jupyter server exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/api/status", headers=AUTH, timeout=1).is_success:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail("jupyter server did not start within 60 s")


@pytest.fixture(scope="module")
def api_schema(coder_api: str) -> schemathesis.schemas.BaseSchema:
    # The event streams never end on their own; they have their own tests in server/.
    return schemathesis.openapi.from_url(f"{coder_api}/openapi.json", headers=AUTH).exclude(
        path_regex="events|stream"
    )


def test_routes_conform_to_their_openapi_document(
    api_schema: schemathesis.schemas.BaseSchema, coder_api: str
) -> None:
    # schemathesis.pytest.from_fixture does not work with pytest 9 yet, so drive its strategies directly.
    # A schema-valid body can still name a template or workspace that does not exist: Coder's 400/404
    # answer is right, so "valid data must be accepted" does not apply here. The auth probe would reuse
    # the token passed below; server/test_jupyter_routes.py checks every route refuses unauthenticated calls.
    checked = []
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def conforms(case: schemathesis.Case) -> None:
            case.call_and_validate(
                base_url=coder_api, headers=AUTH, excluded_checks=[positive_data_acceptance, ignored_auth]
            )

        conforms()
        checked.append(operation.label)
    assert len(checked) == 23, checked  # 17 + timings; rename, cancel; update, autoupdates; form (dynamic)


def test_the_document_itself_is_valid_openapi(coder_api: str) -> None:
    loaded = schemathesis.openapi.from_url(f"{coder_api}/openapi.json", headers=AUTH)
    operations = [op.ok() for op in loaded.get_all_operations()]
    assert len(operations) == 25
