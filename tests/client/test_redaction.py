"""One redaction for every place text reaches people: each secret shape goes, ordinary text stays."""

from __future__ import annotations

import pytest
from coder_client import REDACTED, redact, redact_tail, register_secret
from coder_client.redaction import is_secret_name
from secret_samples import ORDINARY_TEXT, SECRET_SAMPLES


@pytest.mark.parametrize(("text", "secret", "kept"), SECRET_SAMPLES)
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


@pytest.mark.parametrize("text", ORDINARY_TEXT)
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
