"""deploy/compose.yaml, checked by Debian's `docker-compose config`, the way Docker reads it."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_support import require_tool

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "deploy" / "compose.yaml"
ENV_EXAMPLE = REPO / "deploy" / ".env.example"

SETTINGS = {
    "CODER_SESSION_TOKEN": "abcdefghij-abcdefghijabcdefghijkl",
    "SLACK_BOT_TOKEN": "xoxb-1-2-test",
    "SLACK_SIGNING_SECRET": "signing-secret",
    "CODER_SLACK_ENCRYPTION_KEY": "q3cdB8Yl0iWq5vQbqf3Ll8ZQmDIRt3nYk7Q0XkVJx1s=",
    "POSTGRES_PASSWORD": "pg-password",
    "JUPYTER_TOKEN": "jupyter-token",
    "CODER_SLACK_NOTIFICATIONS_SECRET": "notifications-secret-0123456789abcdef",
}


def compose_config(settings: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    docker_compose = require_tool("docker-compose")
    # A clean environment: only what a person would have put in deploy/.env, so nothing leaks in from CI.
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **settings}
    return subprocess.run(
        [docker_compose, "--project-directory", str(COMPOSE.parent), "-f", str(COMPOSE), *extra, "config"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


@pytest.fixture(scope="module")
def rendered() -> dict[str, Any]:
    result = compose_config(SETTINGS)
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


def test_compose_config_accepts_the_stack(rendered: dict[str, Any]) -> None:
    # docker-compose 1.x lists profiled services too; Compose v2 lists them only with --profile.
    always = {"coder-sim", "postgres", "slack-bot", "jupyterlab"}
    assert set(rendered["services"]) - {"slack-standin"} == always


def test_bot_runs_in_http_mode_against_the_sim_and_postgres(rendered: dict[str, Any]) -> None:
    bot = rendered["services"]["slack-bot"]
    assert bot["command"][:1] == ["serve"] and "--socket-mode" not in bot["command"]
    env = bot["environment"]
    assert env["CODER_URL"] == "http://coder-sim:3001"
    assert env["CODER_SLACK_DATABASE_URL"] == "postgresql://coderops:pg-password@postgres:5432/coderops"
    assert env["SLACK_API_URL"] == "https://slack.com/api/"
    assert bot["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "coder-sim": {"condition": "service_healthy"},
    }
    assert bot["build"]["dockerfile"] == "deploy/docker/bot.Dockerfile"
    assert Path(bot["build"]["context"]).resolve() == REPO


def test_the_sim_token_is_the_one_the_bot_and_jupyter_use(rendered: dict[str, Any]) -> None:
    services = rendered["services"]
    assert f"--token={SETTINGS['CODER_SESSION_TOKEN']}" in services["coder-sim"]["command"]
    for name in ("slack-bot", "jupyterlab"):
        assert services[name]["environment"]["CODER_SESSION_TOKEN"] == SETTINGS["CODER_SESSION_TOKEN"]
        assert services[name]["environment"]["CODER_URL"] == "http://coder-sim:3001"


def test_ports_are_published_on_loopback_only(rendered: dict[str, Any]) -> None:
    for name, service in rendered["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond this machine"


@pytest.mark.parametrize("missing", sorted(SETTINGS))
def test_a_missing_setting_stops_compose_with_a_message_naming_it(missing: str) -> None:
    result = compose_config({name: value for name, value in SETTINGS.items() if name != missing})
    assert result.returncode != 0
    assert f"set {missing} in deploy/.env" in result.stderr


def test_no_secret_is_written_into_the_compose_file() -> None:
    raw = yaml.safe_load(COMPOSE.read_text())
    secret_name = re.compile(r"TOKEN|SECRET|PASSWORD|KEY")
    for name, service in raw["services"].items():
        for variable, value in (service.get("environment") or {}).items():
            if secret_name.search(variable):
                assert str(value).startswith("${"), f"{name}.{variable} must come from the environment"
    for setting in SETTINGS.values():
        assert setting not in COMPOSE.read_text()


def test_env_example_lists_every_variable_compose_reads_and_holds_no_values_for_secrets() -> None:
    used = set(re.findall(r"\$\{([A-Z_]+)", COMPOSE.read_text()))
    lines = [line for line in ENV_EXAMPLE.read_text().splitlines() if line and not line.startswith("#")]
    example = dict(line.split("=", 1) for line in lines)
    assert used <= set(example), f"missing from .env.example: {sorted(used - set(example))}"
    for name in SETTINGS:
        assert example[name] == "", f"{name} has a value in .env.example"
    assert ".env" in (REPO / "deploy" / ".gitignore").read_text().split()


def test_every_variable_given_to_the_bot_is_a_setting_it_reads(rendered: dict[str, Any]) -> None:
    from coder_slack.settings import Settings

    known = {name.upper() for name in Settings.model_fields}
    given = set(rendered["services"]["slack-bot"]["environment"])
    assert given <= known, f"the bot ignores {sorted(given - known)}"
