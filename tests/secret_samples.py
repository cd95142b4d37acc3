"""Samples of every secret shape the suite handles, and of ordinary text that must survive redaction.

Shared by the core's redaction tests (tests/client/test_redaction.py) and the bot's log tests
(tests/deploy/test_ops_logging.py), which redact through the core with their own marker.
"""

from __future__ import annotations

CODER_TOKEN = "Ab3dE5gH9k-aBcDeFgHiJkLmNoPqRsTuV"
FERNET_KEY = "q0bXnF3o5y0O3fX8u8v3wzJ0m1y2Q9cJw3VbYkq9aBc="

# (text, the secret in it, text around it that must be kept)
SECRET_SAMPLES: list[tuple[str, str, str]] = [
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
]

ORDINARY_TEXT: list[str] = [
    "Slack refused the bot token (auth.test: invalid_auth)",
    "workspace alice/dev-env is ready after 1m32s (build 7f9c2a1e-6b1d-4c52-9b4f-3f1f0a7c1b2d)",
    "chat.postMessage failed: token_revoked; subscription disabled",
    "GET https://coder.example.com/api/v2/workspaces?q=owner:me 200",
    "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "template python-3-11-data-science-gpu-large-v2 started",
    "Installing pandas==2.2 numpy",
]
