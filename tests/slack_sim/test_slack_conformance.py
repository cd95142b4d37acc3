"""The stand-in is checked against Slack's documented responses: the checker itself, and what it covers."""

from __future__ import annotations

import json
from typing import Any

import pytest
import slack_conformance
from slack_conformance import CORRECTIONS, SUPPLEMENT, Recorder, body_errors, load_spec
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sim import SlackStandIn
from slack_sim.methods import METHODS

TS = "1700000000.000100"
POSTED = {
    "ok": True,
    "channel": "C0GENERAL",
    "ts": TS,
    "message": {"type": "message", "user": "U0BOT", "bot_id": "B0CODEROPS", "text": "hi", "ts": TS},
}


def test_every_method_the_standin_answers_has_a_documented_answer() -> None:
    documented = {path.removeprefix("/") for path in load_spec()["paths"]} | set(SUPPLEMENT)
    assert set(METHODS) <= documented, sorted(set(METHODS) - documented)


def test_a_documented_answer_passes() -> None:
    assert body_errors("chat.postMessage", POSTED) == []


@pytest.mark.parametrize(
    ("method", "body", "expected"),
    [
        (
            "chat.postMessage",
            {**POSTED, "message": {**POSTED["message"], "colour": "red"}},
            "'colour' was unexpected",
        ),
        ("chat.postMessage", {**POSTED, "ts": "yesterday"}, "ts: 'yesterday' does not match"),
        ("chat.update", {"ok": True, "channel": "C1", "ts": TS, "text": "x"}, "'message' is a required"),
        ("users.info", {"ok": True, "user": {"id": "U0ALICE", "name": "alice"}}, "'profile' is a required"),
        ("chat.update", {"ok": False, "error": "no_such_error"}, "not an error chat.update documents"),
        ("chat.update", {"ok": False, "error": "message_not_found", "hint": "x"}, "'hint' was unexpected"),
        ("chat.postMessage", {"ok": True}, "'channel' is a required"),
        ("files.upload", {"ok": True}, "not a method of Slack's Web API document"),
    ],
)
def test_a_body_slack_would_not_send_fails(method: str, body: dict[str, Any], expected: str) -> None:
    problems = body_errors(method, body)
    assert any(expected in problem for problem in problems), problems


def test_a_429_must_say_ratelimited_and_an_injected_fault_is_checked_for_its_shape_only() -> None:
    assert body_errors("chat.postMessage", {"ok": False, "error": "ratelimited"}, status=429) == []
    assert body_errors("chat.postMessage", {"ok": False, "error": "nope"}, status=429)
    assert body_errors("conversations.info", {"ok": False, "error": "not_in_channel"}, injected=True) == []
    assert body_errors("conversations.info", {"ok": False, "error": "not_in_channel"})
    assert body_errors("chat.postMessage", {"ok": False, "error": "x", "extra": 1}, injected=True)


def test_every_correction_changes_the_document_and_names_its_source() -> None:
    for correction in CORRECTIONS:
        assert correction.source.startswith("https://docs.slack.dev/"), correction
        document = json.loads(slack_conformance.SPEC_PATH.read_text())
        before = json.dumps(document, sort_keys=True)
        correction.apply(document)
        assert json.dumps(document, sort_keys=True) != before, correction.why


def test_the_recorder_catches_a_standin_that_drifts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The recorder the Slack tests use flags a body the stand-in serves that Slack would not."""
    drifting = dict(METHODS)
    drifting["auth.test"] = lambda state, args: {**METHODS["auth.test"](state, args), "plan": "free"}
    monkeypatch.setattr("slack_sim.server.METHODS", drifting)
    recorder = Recorder()
    with SlackStandIn() as standin:
        standin.subscribe(recorder.record)
        WebClient(token="xoxb-test", base_url=standin.api_url).auth_test()
        standin.wait_for("auth.test")
    (problem,) = recorder.problems()
    assert problem == "auth.test (200): <root>: Additional properties are not allowed ('plan' was unexpected)"


def test_what_the_standin_answers_slack_documents() -> None:
    """One call of each family through slack_sdk, successes and the stand-in's own refusals alike."""
    recorder = Recorder()
    with SlackStandIn() as standin:
        standin.subscribe(recorder.record)
        web = WebClient(token="xoxb-test", base_url=standin.api_url)
        posted = web.chat_postMessage(
            channel="C0GENERAL",
            text="card",
            blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "*dev* is ready"}}],
            metadata={"event_type": "coderops_alert", "event_payload": {"id": "1"}},
        )
        web.chat_postMessage(channel="C0GENERAL", text="reply", thread_ts=posted["ts"])
        web.chat_update(channel="C0GENERAL", ts=posted["ts"], text="updated")
        web.chat_postEphemeral(channel="C0GENERAL", user="U0ALICE", text="only you")
        web.chat_getPermalink(channel="C0GENERAL", message_ts=posted["ts"])
        web.conversations_history(channel="C0GENERAL", include_all_metadata=True, limit=1)
        web.conversations_replies(channel="C0GENERAL", ts=posted["ts"])
        web.conversations_info(channel="C0GENERAL")
        web.conversations_open(users="U0ALICE")
        web.users_info(user="U0BOB")
        web.users_lookupByEmail(email="admin@example.com")
        web.auth_test()
        web.api_test()
        opened = web.views_open(
            trigger_id="1.2.trigger",
            view={"type": "modal", "title": {"type": "plain_text", "text": "Create"}, "blocks": []},
        )
        web.views_update(view_id=opened["view"]["id"], view={**opened["view"], "blocks": []})
        web.chat_delete(channel="C0GENERAL", ts=posted["ts"])
        for refused in (
            lambda: web.chat_update(channel="C0GENERAL", ts=TS, text="gone"),
            lambda: web.conversations_replies(channel="C0GENERAL", ts=posted["ts"]),
            lambda: web.users_lookupByEmail(email="who@nowhere.example"),
            lambda: web.views_open(trigger_id="1.2.trigger", view={"type": "modal", "blocks": []}),
            lambda: web.api_call("chat.frobnicate"),
        ):
            with pytest.raises(SlackApiError):
                refused()
        standin.wait_for("chat.frobnicate")
    assert recorder.count >= 20
    assert recorder.problems() == []
