"""One redaction for every place text reaches people: each secret shape goes, ordinary text stays."""

from __future__ import annotations

import pytest
from coder_client import REDACTED, redact, redact_tail, register_secret
from coder_client.redaction import is_secret_name

CODER_TOKEN = "Ab3dE5gH9k-aBcDeFgHiJkLmNoPqRsTuV"
FERNET_KEY = "q0bXnF3o5y0O3fX8u8v3wzJ0m1y2Q9cJw3VbYkq9aBc="


@pytest.mark.parametrize(
    ("text", "secret", "kept"),
    [
        ("posting with xoxb-1234-5678-AbCdEfGh", "xoxb-1234-5678-AbCdEfGh", "posting with"),
        ("user token xoxp-11-22-33-abcdef", "xoxp-11-22-33-abcdef", "user token"),
        ("socket mode xapp-1-A0123-456-abcdef0123", "xapp-1-A0123-456-abcdef0123", "socket mode"),
        ("config token xoxe.xoxp-1-Mi0yLTE", "xoxp-1-Mi0yLTE", "config token"),
        (f"linked {CODER_TOKEN} for U123", CODER_TOKEN, "for U123"),
        ("headers: {'Coder-Session-Token': 'abc123secretvalue'}", "abc123secretvalue", "Coder-Session-Token"),
        ("Coder-Session-Token: abc123secretvalue", "abc123secretvalue", "Coder-Session-Token"),
        ("Authorization: Bearer sk_live_abcdef", "sk_live_abcdef", "Authorization: Bearer"),
        ('{"authorization": "Basic dXNlcjpwYXNz"}', "dXNlcjpwYXNz", "Basic"),
        (f"key {FERNET_KEY} loaded", FERNET_KEY, "loaded"),
        (f"CODER_SLACK_ENCRYPTION_KEY={FERNET_KEY}", FERNET_KEY, "CODER_SLACK_ENCRYPTION_KEY="),
        ("db postgresql://bot:hunter2@db:5432/coderops", "hunter2", "db:5432/coderops"),
        ("clone https://ghp_abcdef@github.com/org/repo", "ghp_abcdef", "github.com/org/repo"),
        ("SLACK_SIGNING_SECRET=8f742231b10e8888abcd", "8f742231b10e8888abcd", "SLACK_SIGNING_SECRET="),
        ("startup: export DB_PASSWORD=s3cr3t; run", "s3cr3t", "run"),
        ('{"api_key": "AKIA123456"}', "AKIA123456", "api_key"),
        ("export GITHUB_TOKEN=ghp_abcdefghijklmnopqrstuvwxyz1234", "ghp_", "export GITHUB_TOKEN="),
        ("pip install from ghp_abcdefghijklmnopqrstuvwxyz1234 now", "ghp_", "pip install from"),
        ("aws AKIAABCDEFGHIJKLMNOP configured", "AKIAABCDEFGHIJKLMNOP", "configured"),
        ("jwt eyJhbGciOiJIUzI1.eyJzdWIiOiIx.SflKxwRJSMeKKF2Q", "eyJhbGciOiJIUzI1", "jwt"),
        ("key sk-abcdefghijklmnopqrstuvwxyz", "sk-abcdefghijklmnopqrstuvwxyz", "key"),
        ("blob 0123456789abcdef0123456789abcdef01 end", "0123456789abcdef0123456789abcdef01", "end"),
        ("cookie: session=abcdef123456", "abcdef123456", "cookie"),
    ],
)
def test_each_kind_of_secret_is_removed_and_the_rest_kept(text: str, secret: str, kept: str) -> None:
    redacted = redact(text)
    assert secret not in redacted
    assert REDACTED in redacted
    assert kept in redacted


def test_the_exact_shape_of_redacted_text() -> None:
    assert (
        redact("git clone https://alice:s3cr3t@github.com/x.git")
        == "git clone https://[redacted]@github.com/x.git"
    )
    assert redact("Authorization: Bearer abc.def.ghi-jkl") == "Authorization: Bearer [redacted]"
    assert redact("DB_PASSWORD=hunter2 other=1") == "DB_PASSWORD=[redacted] other=1"
    assert redact("token xoxb-1-2-secret", marker="[REDACTED]") == "token [REDACTED]"


@pytest.mark.parametrize(
    "text",
    [
        "workspace alice/dev-env is ready after 1m32s (build 7f9c2a1e-6b1d-4c52-9b4f-3f1f0a7c1b2d)",
        "chat.postMessage failed: token_revoked; subscription disabled",
        "GET https://coder.example.com/api/v2/workspaces?q=owner:me 200",
        "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "template python-3-11-data-science-gpu-large-v2 started",
        "Installing pandas==2.2 numpy",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact(text) == text


def test_a_registered_token_goes_wherever_it_appears() -> None:
    register_secret("plain-looking-value-42")
    assert redact("echo plain-looking-value-42 | login") == f"echo {REDACTED} | login"


def test_the_tail_is_redacted_and_fits_a_slack_section() -> None:
    lines = [f"step {n}" for n in range(40)] + ["DB_PASSWORD=hunter2"]
    tail = redact_tail(lines)
    assert len(tail) == 15 and tail[-1] == "DB_PASSWORD=[redacted]" and tail[0] == "step 26"
    long = redact_tail(["word " * 200] * 10, limit=10, max_chars=2500)
    assert all(len(line) == 300 for line in long) and sum(len(line) + 1 for line in long) <= 2500


def test_secret_field_names() -> None:
    assert all(map(is_secret_name, ["token", "db_password", "Authorization", "SLACK_SIGNING_SECRET"]))
    assert not any(map(is_secret_name, ["workspace", "owner", "template_name"]))
