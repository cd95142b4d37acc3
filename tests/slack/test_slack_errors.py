"""Slack's errors, classified once (``coder_slack.slack_errors``): what no retry can fix, what a retry will,
and how long Slack asked us to wait."""

from __future__ import annotations

from typing import Any

import pytest
from coder_slack.slack_errors import (
    DESTINATION_ERRORS,
    PERMANENT_ERRORS,
    TEMPORARY_ERRORS,
    SlackErrorKind,
    classify,
    retry_after,
)
from slack_sdk.errors import SlackApiError
from slack_sdk.web.slack_response import SlackResponse


def _error(code: str, status: int = 200, headers: dict[str, Any] | None = None) -> SlackApiError:
    response = SlackResponse(
        client=None,
        http_verb="POST",
        api_url="https://slack.test/api/chat.postMessage",
        req_args={},
        data={"ok": False, "error": code},
        headers=headers or {},
        status_code=status,
    )
    return SlackApiError(f"The request to the Slack API failed: {code}", response)


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        ("channel_not_found", 200, SlackErrorKind.PERMANENT),
        ("is_archived", 200, SlackErrorKind.PERMANENT),
        ("not_in_channel", 200, SlackErrorKind.PERMANENT),
        ("restricted_action", 200, SlackErrorKind.PERMANENT),
        ("token_revoked", 200, SlackErrorKind.PERMANENT),
        ("invalid_blocks", 200, SlackErrorKind.MESSAGE),
        ("msg_too_long", 200, SlackErrorKind.MESSAGE),
        ("thread_not_found", 200, SlackErrorKind.PARENT_GONE),
        ("message_not_found", 200, SlackErrorKind.PARENT_GONE),
        ("missing_scope", 200, SlackErrorKind.SCOPE),
        ("ratelimited", 429, SlackErrorKind.RATE_LIMITED),
        ("", 429, SlackErrorKind.RATE_LIMITED),
        ("internal_error", 500, SlackErrorKind.TEMPORARY),
        ("", 502, SlackErrorKind.TEMPORARY),
        ("something_slack_added_later", 200, SlackErrorKind.TEMPORARY),
    ],
)
def test_each_error_is_classified_once(code: str, status: int, kind: SlackErrorKind) -> None:
    assert classify(_error(code, status)) is kind


def test_the_one_list_holds_every_error_the_bot_gave_up_on_before() -> None:
    # The alert worker's list, the status cards' "post it to the DM instead" list, and the stand-in's.
    alerts = {"channel_not_found", "is_archived", "not_in_channel", "token_revoked", "account_inactive"}
    alerts |= {"no_permission", "invalid_auth", "user_not_found", "cannot_dm_bot"}
    status_cards = {"not_in_channel", "channel_not_found", "is_archived", "restricted_action"}
    assert alerts | status_cards <= PERMANENT_ERRORS
    assert status_cards <= DESTINATION_ERRORS, "a DM may still work where the channel does not"
    assert not PERMANENT_ERRORS & TEMPORARY_ERRORS


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after": "2"}, 2.0),
        ({"retry-after": ["3"]}, 3.0),
        ({}, 1.0),
        ({"Retry-After": "soon"}, 1.0),
        ({"Retry-After": "-5"}, 0.0),
    ],
)
def test_retry_after_reads_slacks_header(headers: dict[str, Any], expected: float) -> None:
    assert retry_after(_error("ratelimited", 429, headers)) == expected
