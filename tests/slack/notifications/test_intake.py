"""The webhook intake through the real bot's HTTP port: status codes, the secret, durable recording."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from coder_sim import SimServer
from notify_helpers import PATH, SECRET, encoded, headers, notifications, webhook_body
from pydantic import SecretStr
from slack_harness import BotThread
from slack_sim import SlackStandIn


@pytest.fixture
def intake_bot(make_bot: Callable[..., BotThread], sim: SimServer) -> BotThread:
    return make_bot(sim, coder_slack_notifications_secret=SecretStr(SECRET))


def _url(bot: BotThread, secret: str = SECRET) -> str:
    return bot.server.url + PATH + secret


def test_a_notification_is_recorded_once_and_answered_200(intake_bot: BotThread) -> None:
    body = webhook_body("workspace_created")
    first = intake_bot.http.post(_url(intake_bot), content=encoded(body), headers=headers(body))
    again = intake_bot.http.post(_url(intake_bot), content=encoded(body), headers=headers(body))
    assert first.status_code == 200, first.text
    assert first.json() == {"status": "recorded", "msg_id": body["msg_id"]}
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    rows = notifications(intake_bot.settings.coder_slack_database_url)
    assert [(r.msg_id, r.kind, r.workspace_name, r.user_username) for r in rows] == [
        (body["msg_id"], "workspace_created", "box1", "alice")
    ]


def test_version_1_0_and_alert_name_are_read(intake_bot: BotThread) -> None:
    body = webhook_body("autobuild_failed", version="1.0")
    body["payload"]["alert_name"] = body["payload"].pop("notification_name")
    body["payload"]["notification_template_id"] = ""
    body["payload"]["something_new"] = {"ignored": True}
    response = intake_bot.http.post(_url(intake_bot), content=encoded(body), headers=headers(body))
    assert response.status_code == 200, response.text
    (row,) = notifications(intake_bot.settings.coder_slack_database_url)
    assert row.kind == "autobuild_failed"


@pytest.mark.parametrize(
    ("content", "content_type", "status", "reason"),
    [
        (b"{not json", "application/json", 400, "the body is not JSON"),
        (b"[1, 2]", "application/json", 400, "the body is not a JSON object"),
        (b'{"payload": {}}', "application/json", 400, "missing msg_id"),
        (b'{"msg_id": "m-1"}', "application/json", 400, "missing payload"),
        (b'{"msg_id": "  ", "payload": {}}', "application/json", 400, "msg_id: msg_id is empty"),
        (b'{"_version": "2.0", "msg_id": "m", "payload": {}}', "application/json", 400, "unsupported"),
        (b'{"msg_id": "m-1", "payload": {}}', "text/plain", 415, "send the notification as application/json"),
        (b"x" * (256 * 1024 + 1), "application/json", 413, "the body is larger than 256 KiB"),
    ],
)
def test_bad_input_gets_a_status_and_one_line(
    intake_bot: BotThread, standin: SlackStandIn, content: bytes, content_type: str, status: int, reason: str
) -> None:
    before = standin.last_seq()
    response = intake_bot.http.post(_url(intake_bot), content=content, headers={"Content-Type": content_type})
    assert response.status_code == status
    assert response.text.startswith(reason)
    assert response.text.count("\n") == 1
    assert notifications(intake_bot.settings.coder_slack_database_url) == []
    assert standin.calls("chat.postMessage", after=before) == []


def test_a_header_that_names_another_message_is_refused(intake_bot: BotThread) -> None:
    body = webhook_body("workspace_created")
    response = intake_bot.http.post(
        _url(intake_bot), content=encoded(body), headers={**headers(body), "X-Message-Id": "other"}
    )
    assert response.status_code == 400
    assert "X-Message-Id" in response.text


def test_a_chunked_body_over_the_limit_is_413(intake_bot: BotThread) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(300):
            yield b"x" * 1024

    response = intake_bot.http.post(
        _url(intake_bot), content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413


@pytest.mark.parametrize("secret", ["wrong-secret-wrong-secret-wrong", "", SECRET[:-1], SECRET + "x"])
def test_a_wrong_secret_is_404_and_never_logged(
    intake_bot: BotThread, secret: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # everything the bot logs, whatever an earlier test configured
    body = webhook_body("workspace_created")
    response = intake_bot.http.post(_url(intake_bot, secret), content=encoded(body), headers=headers(body))
    assert response.status_code == 404
    assert notifications(intake_bot.settings.coder_slack_database_url) == []
    metrics = intake_bot.http.get(intake_bot.server.url + "/metrics").text
    # The test's own HTTP client (httpx, the sender's side) logs the URL it calls; the bot is everything else.
    logged = "\n".join(
        record.getMessage() for record in caplog.records if not record.name.startswith(("httpx", "httpcore"))
    )
    for text in (logged, metrics, response.text):
        assert SECRET not in text
        if secret:
            assert secret not in text


def test_without_a_secret_the_route_does_not_exist(
    make_bot: Callable[..., BotThread], sim: SimServer
) -> None:
    bot = make_bot(sim)
    body = webhook_body("workspace_created")
    response = bot.http.post(bot.server.url + PATH + SECRET, content=encoded(body), headers=headers(body))
    assert response.status_code in (404, 405)
    assert notifications(bot.settings.coder_slack_database_url) == []


def test_outcomes_are_counted(intake_bot: BotThread) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    def counts() -> dict[str, float]:
        text = intake_bot.http.get(intake_bot.server.url + "/metrics").text
        return {
            sample.labels["outcome"]: sample.value
            for family in text_string_to_metric_families(text)
            if family.name == "coderops_slack_notifications"
            for sample in family.samples
            if sample.name.endswith("_total")
        }

    before = counts()
    body = webhook_body("workspace_created")
    intake_bot.http.post(_url(intake_bot), content=encoded(body), headers=headers(body))
    intake_bot.http.post(_url(intake_bot), content=encoded(body), headers=headers(body))
    intake_bot.http.post(_url(intake_bot), content=b"nope", headers={"Content-Type": "application/json"})
    after = counts()
    for outcome in ("received", "duplicate", "rejected"):
        assert after.get(outcome, 0) - before.get(outcome, 0) == 1, outcome
