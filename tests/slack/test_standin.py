"""The Slack Web API stand-in answers like Slack, records calls, and injects the faults tests rely on."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sim import RemoteStandIn, SlackStandIn, render_message


def client(standin: SlackStandIn | RemoteStandIn) -> WebClient:
    return WebClient(token="xoxb-test", base_url=standin.api_url)


def test_post_update_and_render(standin: SlackStandIn) -> None:
    web = client(standin)
    posted = web.chat_postMessage(
        channel="C1",
        text="fallback",
        blocks=[
            {"type": "header", "text": {"type": "plain_text", "text": "dev is building"}},
            {
                "type": "actions",
                "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Stop"}}],
            },
        ],
    )
    assert "." in posted["ts"]
    web.chat_update(channel="C1", ts=posted["ts"], text="dev is ready")
    message = standin.message("C1", posted["ts"])
    assert message is not None
    assert [version[0] for version in message.versions] == ["fallback", "dev is ready"]
    assert render_message(None, message.versions[0][1]) == "# dev is building\n[Stop]"
    assert standin.wait_for("chat.update").args["text"] == "dev is ready"


def test_slack_shaped_errors(standin: SlackStandIn) -> None:
    web = client(standin)
    with pytest.raises(SlackApiError) as missing:
        web.chat_update(channel="C1", ts="1.000001", text="x")
    assert missing.value.response["error"] == "message_not_found"
    too_many = [{"type": "divider"}] * 51
    with pytest.raises(SlackApiError) as invalid:
        web.chat_postMessage(channel="C1", text="x", blocks=too_many)
    assert invalid.value.response["error"] == "invalid_blocks"
    with pytest.raises(SlackApiError) as unknown:
        web.users_lookupByEmail(email="who@nowhere.example")
    assert unknown.value.response["error"] == "users_not_found"


def test_users_match_the_sim_emails(standin: SlackStandIn) -> None:
    web = client(standin)
    assert web.users_info(user="U0ALICE")["user"]["profile"]["email"] == "alice@example.com"
    assert web.users_lookupByEmail(email="admin@example.com")["user"]["id"] == "U0ADMIN"


def test_fault_injection(standin: SlackStandIn) -> None:
    web = client(standin)
    standin.fail_next("chat.postMessage", 2, retry_after=3)
    for _ in range(2):
        with pytest.raises(SlackApiError) as limited:
            web.chat_postMessage(channel="C1", text="x")
        assert limited.value.response.status_code == 429
        assert limited.value.response.headers["Retry-After"] == "3"
    assert web.chat_postMessage(channel="C1", text="x")["ok"]

    standin.channel_error("C9", "is_archived")
    with pytest.raises(SlackApiError) as archived:
        web.chat_postMessage(channel="C9", text="x")
    assert archived.value.response["error"] == "is_archived"

    standin.rate_limit_storm(fraction=0.5, duration=30, seed=7)
    refused = 0
    for _ in range(40):
        try:
            web.chat_postMessage(channel="C2", text="x")
        except SlackApiError:
            refused += 1
    assert 8 <= refused <= 32
    standin.clear_faults()
    assert web.chat_postMessage(channel="C9", text="x")["ok"]


def test_wait_for_sees_calls_from_async_clients(standin: SlackStandIn) -> None:
    async def post_later() -> None:
        await asyncio.sleep(0.2)
        await AsyncWebClient(token="xoxb-test", base_url=standin.api_url).chat_postMessage(
            channel="C3", text="hi"
        )

    started = time.monotonic()
    asyncio.run(post_later())
    call = standin.wait_for("chat.postMessage", lambda c: c.args["channel"] == "C3", timeout=2)
    assert call.token == "xoxb-test"
    assert time.monotonic() - started < 2
    with pytest.raises(TimeoutError):
        standin.wait_for("chat.postMessage", lambda c: c.args["channel"] == "C4", timeout=0.2)


def test_standin_as_subprocess() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "slack_sim", "serve"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("SLACK_API_URL=")
        remote = RemoteStandIn(line.removeprefix("SLACK_API_URL=").removesuffix("/api/"))
        remote.fail_next("chat.postMessage", 1, error="channel_not_found")
        web = client(remote)
        with pytest.raises(SlackApiError):
            web.chat_postMessage(channel="C1", text="x")
        web.chat_postMessage(channel="C1", text="second")
        call = remote.wait_for("chat.postMessage", lambda c: c.ok)
        assert call.args["text"] == "second"
        assert remote.messages("C1")[0]["rendered"] == "second"
    finally:
        process.terminate()
        process.wait(5)


def test_history_and_replies_find_posts_by_metadata(standin: SlackStandIn) -> None:
    web = client(standin)
    metadata = {"event_type": "coderops_alert", "event_payload": {"keys": "ws:1:ready"}}
    first = web.chat_postMessage(channel="C1", text="first")["ts"]
    card = web.chat_postMessage(channel="C1", text="card", metadata=metadata)["ts"]
    reply = web.chat_postMessage(channel="C1", text="in thread", thread_ts=card, metadata=metadata)["ts"]
    web.chat_postMessage(channel="C2", text="elsewhere")
    web.chat_postEphemeral(channel="C1", user="U0ALICE", text="only alice")

    history = web.conversations_history(channel="C1")
    assert [m["text"] for m in history["messages"]] == ["card", "first"]  # newest first, no replies
    assert all("metadata" not in m for m in history["messages"])  # only with include_all_metadata
    assert history["messages"][0]["reply_count"] == 1

    with_metadata = web.conversations_history(channel="C1", include_all_metadata=True, oldest=first)
    assert [m["ts"] for m in with_metadata["messages"]] == [card]  # oldest is exclusive, as in Slack
    assert with_metadata["messages"][0]["metadata"] == metadata
    inclusive = web.conversations_history(channel="C1", oldest=first, inclusive=True)
    assert len(inclusive["messages"]) == 2

    page = web.conversations_history(channel="C1", limit=1)
    assert page["has_more"] is True and [m["text"] for m in page["messages"]] == ["card"]
    rest = web.conversations_history(channel="C1", limit=1, cursor=page["response_metadata"]["next_cursor"])
    assert [m["text"] for m in rest["messages"]] == ["first"] and rest["has_more"] is False

    replies = web.conversations_replies(channel="C1", ts=card, include_all_metadata=True)
    assert [m["ts"] for m in replies["messages"]] == [card, reply]  # parent first, then oldest first
    assert replies["messages"][1]["metadata"] == metadata and replies["messages"][1]["thread_ts"] == card
    with pytest.raises(SlackApiError) as missing:
        web.conversations_replies(channel="C1", ts="1.000000")
    assert missing.value.response["error"] == "thread_not_found"
