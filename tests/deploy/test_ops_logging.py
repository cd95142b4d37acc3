"""JSON log lines and the redaction of every kind of secret the bot handles."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from coder_slack.ops import REDACTED, bind_request_id, configure_logging, redact
from hypothesis import given
from hypothesis import strategies as st
from secret_samples import CODER_TOKEN, FERNET_KEY, ORDINARY_TEXT, SECRET_SAMPLES


@pytest.mark.parametrize(("text", "secret", "kept"), SECRET_SAMPLES)
def test_redact_removes_each_kind_of_secret_and_keeps_the_rest(text: str, secret: str, kept: str) -> None:
    redacted = redact(text)
    assert secret not in redacted
    assert REDACTED in redacted
    assert kept in redacted


@pytest.mark.parametrize("text", ORDINARY_TEXT)
def test_redact_leaves_ordinary_operational_text_alone(text: str) -> None:
    assert redact(text) == text


def test_redact_is_idempotent() -> None:
    once = redact(f"Authorization: Bearer abc {CODER_TOKEN} postgresql://u:p@h/db")
    assert redact(once) == once


coder_tokens = st.from_regex(r"\A[A-Za-z0-9]{10}-[A-Za-z0-9]{22}\Z")
slack_tokens = st.from_regex(r"\Axox[abpr]-[0-9]{3,12}-[A-Za-z0-9]{8,24}\Z")
surrounding = st.text(alphabet=st.characters(codec="ascii", exclude_characters="\r"), max_size=40)


@given(before=surrounding, token=st.one_of(coder_tokens, slack_tokens), after=surrounding)
def test_no_token_survives_redaction_wherever_it_appears(before: str, token: str, after: str) -> None:
    assert token not in redact(f"{before} {token} {after}")


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("DEBUG", stream=stream)
    yield stream
    logging.getLogger().handlers.clear()
    logging.getLogger().setLevel(logging.WARNING)


def parsed(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_each_event_is_one_json_line_with_level_logger_and_request_id(log_lines: io.StringIO) -> None:
    log = logging.getLogger("coder_slack.commands")
    with bind_request_id("req-7"):
        log.info("command %s by %s", "create", "U123", extra={"subcommand": "create", "elapsed": 0.12})
    log.warning("no request here")
    first, second = parsed(log_lines)
    assert first["level"] == "info"
    assert first["logger"] == "coder_slack.commands"
    assert first["message"] == "command create by U123"
    assert first["request_id"] == "req-7"
    assert first["subcommand"] == "create"
    assert first["elapsed"] == 0.12
    assert str(first["ts"]).endswith("+00:00")
    assert "request_id" not in second


def test_secrets_in_arguments_extras_and_tracebacks_never_reach_the_log(log_lines: io.StringIO) -> None:
    log = logging.getLogger("coder_slack.store")
    log.info("linking %s", CODER_TOKEN, extra={"headers": {"Coder-Session-Token": "abc123secretvalue"}})
    log.info("linked", extra={"session_token": "plainvalue42", "user": "U1"})
    try:
        raise RuntimeError(f"could not decrypt with {FERNET_KEY} at postgresql://bot:hunter2@db/x")
    except RuntimeError:
        log.exception("store failed for xoxb-123-456-abcdefgh")
    output = log_lines.getvalue()
    for secret in (
        CODER_TOKEN,
        "abc123secretvalue",
        "plainvalue42",
        FERNET_KEY,
        "hunter2",
        "xoxb-123-456-abcdefgh",
    ):
        assert secret not in output
    lines = parsed(log_lines)
    assert len(lines) == 3, "a traceback stays inside its one JSON line"
    assert lines[1]["user"] == "U1"
    assert "RuntimeError: could not decrypt" in str(lines[2]["exc"])


def test_third_party_loggers_are_redacted_too(log_lines: io.StringIO) -> None:
    logging.getLogger("slack_sdk.web.base_client").debug(
        "Sending a request - url: https://slack.com/api/auth.test, "
        "headers: {'Authorization': 'Bearer xoxb-9-9-z'}"
    )
    assert "xoxb-9-9-z" not in log_lines.getvalue()


def test_configuring_twice_does_not_print_every_line_twice(log_lines: io.StringIO) -> None:
    second = io.StringIO()
    configure_logging("INFO", stream=second)
    logging.getLogger("coder_slack").info("once")
    assert second.getvalue().count("once") == 1
    assert log_lines.getvalue() == ""


def test_plain_text_mode_still_redacts() -> None:
    stream = io.StringIO()
    configure_logging("INFO", stream=stream, json_lines=False)
    try:
        logging.getLogger("coder_slack").info("token xoxb-1-2-secret")
    finally:
        logging.getLogger().handlers.clear()
    assert "xoxb-1-2-secret" not in stream.getvalue()
    assert "INFO coder_slack: token [REDACTED]" in stream.getvalue()
