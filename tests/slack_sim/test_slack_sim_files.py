"""slack-sim's files_upload_v2 flow: slack_sdk's own client against the stand-in, every answer checked against
Slack's documented answers (the conftest recorder)."""

from __future__ import annotations

from typing import Any

import pytest
from slack_conformance import Recorder
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sim import SlackStandIn


@pytest.fixture
def recorded() -> Any:
    recorder = Recorder()
    with SlackStandIn() as standin:
        standin.subscribe(recorder.record)
        yield standin, recorder
    assert recorder.problems() == []


def test_files_upload_v2_shares_the_bytes_in_the_channel(recorded: Any) -> None:
    standin, recorder = recorded
    client = WebClient(token="xoxb-files", base_url=standin.api_url)
    content = "line one\n" * 500
    answer = client.files_upload_v2(
        channel="D0ALICE", content=content, filename="dev.log", title="Logs", initial_comment="here"
    )
    assert answer["ok"] and answer["file"]["title"] == "Logs"
    (shared,) = standin.files("D0ALICE")
    assert shared.text == content and shared.filename == "dev.log" and shared.initial_comment == "here"
    assert [call.method for call in standin.calls()] == [
        "files.getUploadURLExternal",
        "file.upload",
        "files.completeUploadExternal",
    ]
    assert recorder.count == 2  # the upload POST is not a Web API method


def test_completing_an_upload_without_its_bytes_is_refused(recorded: Any) -> None:
    standin, _ = recorded
    client = WebClient(token="xoxb-files", base_url=standin.api_url)
    started = client.files_getUploadURLExternal(filename="x.log", length=3)
    with pytest.raises(SlackApiError) as refused:
        client.files_completeUploadExternal(files=[{"id": started["file_id"]}], channel_id="C0GENERAL")
    assert refused.value.response["error"] == "file_not_found"
    assert standin.files() == []


def test_the_methods_need_files_write() -> None:
    with SlackStandIn(scopes={"chat:write"}) as standin:
        client = WebClient(token="xoxb-scoped", base_url=standin.api_url)
        with pytest.raises(SlackApiError) as refused:
            client.files_upload_v2(channel="C0GENERAL", content="x", filename="x.log")
        assert refused.value.response["needed"] == "files:write"
