"""coder-sim sends Coder's notification webhook: what happens in the sim, to whom, with Coder's retries.

A real HTTP receiver (stdlib ``ThreadingHTTPServer``) stands in for the bot; every body the sim builds is
checked against ``specs/coder-api/notifications/webhook-payload.schema.json`` (the ``make_sim`` fixture's
recorder) and its kind against coder_slack's own reading of Coder's templates.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from coder_sim import SimServer
from coder_slack.notifications.kinds import kind_of
from coder_slack.notifications.payload import WebhookMessage
from sim_conformance import Recorder, notification_errors
from sim_helpers import api, create, wait_for

MakeSim = Callable[..., SimServer]
FAST_RETRY = 0.05
EVERY_KIND = (
    "workspace_created",
    "workspace_deleted",
    "autobuild_failed",
    "manual_build_failed",
    "dormant",
    "autostop_reminder",
    "out_of_memory",
    "out_of_disk",
    "test_notification",
)


@dataclass
class Received:
    headers: dict[str, str]
    body: dict[str, Any]
    answered: int


class _BurstServer(ThreadingHTTPServer):
    request_queue_size = 128  # the stdlib default (5) could refuse a burst of webhooks


class Receiver:
    """A webhook endpoint that records each POST and answers the statuses it is told to (then 200)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.statuses: list[int] = []
        self.hold = threading.Event()
        self.hold.set()
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                receiver.hold.wait(timeout=30)
                with receiver._changed:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.received.append(Received(dict(self.headers.items()), body, status))
                    receiver._changed.notify_all()
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sim gave up on this attempt (it was stopped)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = _BurstServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/coder/notifications/s3cret"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, check: Callable[[list[Received]], bool], timeout: float = 15.0) -> list[Received]:
        with self._changed:
            assert self._changed.wait_for(lambda: check(self.received), timeout), (
                f"the receiver never saw what the test waited for; it got {self.kinds()}"
            )
            return list(self.received)

    def of_kind(self, name: str) -> list[Received]:
        return [r for r in self.received if r.body["payload"]["notification_name"] == name]

    def kinds(self) -> list[tuple[str, str]]:
        return [
            (r.body["payload"]["notification_name"], r.body["payload"]["user_username"])
            for r in self.received
        ]

    def close(self) -> None:
        self.hold.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    endpoint = Receiver()
    yield endpoint
    endpoint.close()


@pytest.fixture
def sim(make_sim: MakeSim, receiver: Receiver) -> SimServer:
    server = make_sim(era="v2", notifications_webhook=receiver.url)
    server.set_notifications_webhook(receiver.url, retry_interval=FAST_RETRY)
    return server


def messages(sim: SimServer, kind: str | None = None) -> list[dict[str, Any]]:
    sent = sim.sent_notifications()
    return [m for m in sent if kind is None or m["kind"] == kind]


def settled(sim: SimServer) -> list[dict[str, Any]]:
    assert sim.wait_for_notifications(timeout=30), "the sim was still sending notifications"
    return messages(sim)


def wait_gone(client: httpx.Client, workspace_id: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while client.get(f"/workspaces/{workspace_id}").status_code != 410:
        assert time.monotonic() < deadline, "the workspace was never deleted"
        time.sleep(0.05)


def payload(received: Received) -> dict[str, Any]:
    value: dict[str, Any] = received.body["payload"]
    return value


# -- what happens in the sim ------------------------------------------------------------------------


def test_a_created_workspace_notifies_the_template_admins_but_not_its_creator(
    sim: SimServer, receiver: Receiver
) -> None:
    with api(sim, "alice") as alice:
        workspace = create(alice, "python-ds", "notebook").json()
    got = receiver.wait_for(lambda rs: len(rs) == 1)[0]
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["X-Message-Id"] == got.body["msg_id"]
    assert got.body["_version"] == "1.1"
    assert payload(got)["user_username"] == "admin"
    assert payload(got)["user_email"] == "admin@example.com"
    assert payload(got)["notification_template_id"] == "281fdf73-c6d6-4cbb-8ff5-888baf8a2fff"
    assert payload(got)["labels"] == {
        "workspace": "notebook",
        "template": "python-ds",
        "version": "v1",
        "workspace_owner_username": "alice",
    }
    assert payload(got)["data"]["workspace"] == {"id": workspace["id"], "name": "notebook"}
    assert payload(got)["actions"] == [{"label": "View workspace", "url": f"{sim.url}/@alice/notebook"}]
    assert got.body["title"] == "Workspace 'notebook' has been created"
    assert got.body["body_markdown"] == (
        "The workspace **notebook** has been created from the template **python-ds** using version **v1**."
    )
    assert got.body["body"] == (
        "The workspace notebook has been created from the template python-ds using version v1."
    )
    assert workspace["id"] in payload(got)["targets"]

    # The admin creating their own workspace is the only template admin: nobody is told.
    with api(sim, "admin") as admin:
        create(admin, "python-ds", "mine")
    assert [m["kind"] for m in settled(sim)] == ["workspace_created"]


def test_a_failed_manual_build_notifies_the_template_admins(sim: SimServer, receiver: Receiver) -> None:
    with api(sim, "alice") as alice:
        workspace = create(alice, "failing-build", "gpu-box").json()
        wait_for(alice, workspace["id"], lambda w: w["latest_build"]["job"]["status"] == "failed")
    receiver.wait_for(lambda rs: len(rs) == 2)
    (failed,) = receiver.of_kind("Workspace Manual Build Failed")
    assert payload(failed)["user_username"] == "admin"
    assert payload(failed)["labels"] == {
        "name": "gpu-box",
        "template_name": "Failing build",
        "template_version_name": "v1",
        "initiator": "alice",
        "workspace_owner_username": "alice",
        "workspace_build_number": "1",
    }
    assert failed.body["title"] == 'Workspace "gpu-box" manual build failed'
    assert failed.body["body_markdown"].startswith(
        "Hi Ada Admin,\n\nA manual build of the workspace **gpu-box**"
    )
    assert payload(failed)["actions"] == [
        {"label": "View build", "url": f"{sim.url}/@alice/gpu-box/builds/1"}
    ]


def test_a_failed_autostart_notifies_the_owner(sim: SimServer, receiver: Receiver) -> None:
    workspace_id = sim.create_workspace_direct("alice", "failing-build", "nightly", running=False)
    sim.autostart(workspace_id)
    receiver.wait_for(lambda rs: len(rs) == 1)
    (failed,) = receiver.of_kind("Workspace Autobuild Failed")
    assert payload(failed)["user_username"] == "alice"
    assert payload(failed)["labels"] == {"name": "nightly", "reason": "autostart"}
    assert failed.body["body"] == (
        'Automatic build of your workspace nightly failed.\n\nThe specified reason was "autostart".'
    )
    assert payload(failed)["actions"] == [{"label": "View workspace", "url": f"{sim.url}/@alice/nightly"}]


def test_deleting_someone_elses_workspace_notifies_its_owner_but_deleting_your_own_does_not(
    sim: SimServer, receiver: Receiver
) -> None:
    theirs = sim.create_workspace_direct("alice", "python-ds", "theirs")
    mine = sim.create_workspace_direct("alice", "python-ds", "mine")
    with api(sim, "admin") as admin, api(sim, "alice") as alice:
        assert admin.post(f"/workspaces/{theirs}/builds", json={"transition": "delete"}).status_code == 201
        assert alice.post(f"/workspaces/{mine}/builds", json={"transition": "delete"}).status_code == 201
        for workspace_id in (theirs, mine):
            wait_gone(admin, workspace_id)
    receiver.wait_for(lambda rs: len(rs) == 1)
    (deleted,) = receiver.of_kind("Workspace Deleted")
    assert payload(deleted)["user_username"] == "alice"
    assert payload(deleted)["labels"] == {
        "name": "theirs",
        "reason": "initiated by user",
        "initiator": "admin",
    }
    assert deleted.body["body_markdown"] == (
        'Your workspace **theirs** was deleted.\n\nThe specified reason was "**initiated by user (admin)**".'
    )
    assert [a["label"] for a in payload(deleted)["actions"]] == ["View workspaces", "View templates"]
    # Both deletions finished before the sim settled: the owner's own deletion sent nothing.
    assert [m["kind"] for m in settled(sim)] == ["workspace_deleted"]


def test_marked_dormant_notifies_the_owner_unless_they_did_it(sim: SimServer, receiver: Receiver) -> None:
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "idle")
    assert sim.mark_dormant(workspace_id, initiator="alice") is None
    by_admin = sim.mark_dormant(workspace_id, initiator="admin")
    by_schedule = sim.mark_dormant(workspace_id)
    receiver.wait_for(lambda rs: len(rs) == 2)
    got = {r.body["msg_id"]: payload(r)["labels"] for r in receiver.of_kind("Workspace Marked as Dormant")}
    assert got[by_admin]["reason"] == "a admin request"
    assert got[by_schedule] == {
        "name": "idle",
        "reason": "breached the template's threshold for inactivity",
        "initiator": "autobuild",
        "dormancyHours": "24",
        "timeTilDormant": "24 hours",
    }
    assert all(payload(r)["user_username"] == "alice" for r in receiver.received)


def test_the_autostop_reminder_comes_once_per_deadline_before_it_when_the_template_asks(
    sim: SimServer, receiver: Receiver
) -> None:
    sim.set_autostop_notify("python-ds", 30 * 60 * 1000)
    reminded = sim.create_workspace_direct("alice", "python-ds", "long-run")
    silent = sim.create_workspace_direct("bob", "max-deadline", "no-reminder")
    with api(sim, "alice") as alice:
        template = alice.get(f"/workspaces/{reminded}").json()
        deadline = template["latest_build"]["deadline"]
        assert (
            alice.get(f"/templates/{template['template_id']}").json()["time_til_autostop_notify_ms"]
            == 1800000
        )
    sim.advance_clock(8 * 3600 - 40 * 60)  # 40 minutes before the 8 h deadline: not yet
    assert messages(sim) == []
    sim.advance_clock(15 * 60)  # 25 minutes before it
    receiver.wait_for(lambda rs: len(rs) == 1)
    (reminder,) = receiver.of_kind("Workspace Autostop Reminder")
    assert payload(reminder)["user_username"] == "alice"
    assert payload(reminder)["labels"]["workspace"] == "long-run"
    assert payload(reminder)["labels"]["timeTilShutdown"].endswith("minutes from now")
    assert reminder.body["title"] == 'Your workspace "long-run" will stop soon'
    assert payload(reminder)["notification_template_id"] == "6f6cb984-c167-4fa5-bb87-1058dd642779"
    sim.advance_clock(60)  # still inside the window: no second reminder for the same deadline
    assert [m["kind"] for m in settled(sim)] == ["autostop_reminder"]
    assert deadline is not None
    # Extending sets a new deadline: one more reminder before that one.
    with api(sim, "alice") as alice:
        new_deadline = (sim.now().replace(microsecond=0)).timestamp() + 3 * 3600
        iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(new_deadline))
        assert alice.put(f"/workspaces/{reminded}/extend", json={"deadline": iso}).status_code == 200
    sim.advance_clock(3 * 3600 - 10 * 60)
    receiver.wait_for(lambda rs: len(rs) == 2)
    # bob's workspace (a template without the setting) never got one, and nothing else was sent.
    assert [m["kind"] for m in settled(sim)] == ["autostop_reminder", "autostop_reminder"]
    assert all(payload(r)["user_username"] == "alice" for r in receiver.received)
    assert silent


@pytest.mark.parametrize("kind", EVERY_KIND)
def test_every_kind_on_demand_is_coders_body_and_the_bot_reads_it_as_that_kind(
    sim: SimServer, receiver: Receiver, kind: str
) -> None:
    sim.create_workspace_direct("alice", "python-ds", "box")
    workspace = None if kind == "test_notification" else "alice/box"
    msg_id = sim.send_notification(kind, "alice", workspace=workspace)
    got = receiver.wait_for(lambda rs: len(rs) == 1)[0]
    assert got.body["msg_id"] == msg_id == got.headers["X-Message-Id"]
    assert notification_errors(got.body) == []
    message = WebhookMessage.model_validate(got.body)
    assert message.payload.kind.slug == kind
    assert kind_of(payload(got)["notification_template_id"], "").slug == kind
    assert "**" not in got.body["body"] and "**" not in got.body["title"]
    assert got.body["title"] and got.body["body_markdown"]
    for action in payload(got)["actions"]:
        assert action["url"].startswith(sim.url + "/")


def test_labels_override_and_out_of_disk_names_its_volume(sim: SimServer, receiver: Receiver) -> None:
    sim.create_workspace_direct("alice", "python-ds", "box")
    sim.send_notification(
        "out_of_disk", "alice", workspace="alice/box", labels={"volume": "/data", "threshold": "95%"}
    )
    got = receiver.wait_for(lambda rs: len(rs) == 1)[0]
    assert got.body["body_markdown"] == "Volume **`/data`** is over 95% full in workspace **box**."
    assert got.body["body"] == "Volume /data is over 95% full in workspace box."
    assert payload(got)["data"] == {"volumes": [{"path": "/data", "threshold": "95%"}]}
    assert payload(got)["labels"] == {"workspace": "box"}


# -- Coder's retries --------------------------------------------------------------------------------


def test_a_non_2xx_answer_is_retried_with_the_same_msg_id_until_it_succeeds(
    sim: SimServer, receiver: Receiver
) -> None:
    receiver.statuses = [500, 503, 429]
    msg_id = sim.send_notification("test_notification", "alice")
    receiver.wait_for(lambda rs: len(rs) == 4)
    (message,) = settled(sim)
    assert message["state"] == "sent"
    assert [a["status"] for a in message["attempts"]] == [500, 503, 429, 200]
    assert {r.body["msg_id"] for r in receiver.received} == {msg_id}
    assert {r.headers["X-Message-Id"] for r in receiver.received} == {msg_id}
    assert len({json.dumps(r.body, sort_keys=True) for r in receiver.received}) == 1


def test_five_attempts_in_all_then_coder_gives_up(sim: SimServer, receiver: Receiver) -> None:
    receiver.statuses = [500] * 10
    sim.send_notification("test_notification", "bob")
    (message,) = settled(sim)
    assert message["state"] == "failed"
    assert [a["status"] for a in message["attempts"]] == [500] * 5
    assert len(receiver.received) == 5


def test_a_refused_connection_is_retried_too(make_sim: MakeSim) -> None:
    closed = Receiver()
    url = closed.url
    closed.close()  # nothing listens there any more
    sim = make_sim(era="v2")
    sim.set_notifications_webhook(url, retry_interval=FAST_RETRY, max_attempts=3)
    sim.send_notification("test_notification", "alice")
    (message,) = settled(sim)
    assert message["state"] == "failed"
    assert [a["status"] for a in message["attempts"]] == [None, None, None]
    assert all(a["error"].startswith("request failed") for a in message["attempts"])


def test_the_retry_interval_is_coders_five_minutes_scaled_by_speed(
    make_sim: MakeSim, receiver: Receiver
) -> None:
    sim = make_sim(era="v2", speed=600.0, notifications_webhook=receiver.url)
    assert sim.context.notifications.notifier.retry_interval == pytest.approx(0.5)
    receiver.statuses = [500]
    sim.send_notification("test_notification", "alice")
    first, second = receiver.wait_for(lambda rs: len(rs) == 2)
    (message,) = settled(sim)
    assert message["state"] == "sent"
    assert second.answered == 200
    internal = sim.context.notifications.notifier.messages[0].attempts
    assert internal[1].at - internal[0].at >= 0.45
    assert first.body == second.body


def test_sending_is_off_the_request_path(sim: SimServer, receiver: Receiver) -> None:
    receiver.hold.clear()  # the webhook does not answer until released
    with api(sim, "alice") as alice:
        started = time.monotonic()
        response = create(alice, "python-ds", "fast")
        assert response.status_code == 201
        assert alice.get("/users/me").status_code == 200
        assert time.monotonic() - started < 5
    assert [m["state"] for m in messages(sim)] == ["pending"]
    receiver.hold.set()
    assert [m["state"] for m in settled(sim)] == ["sent"]


def test_clearing_the_webhook_stops_sending(sim: SimServer) -> None:
    sim.set_notifications_webhook(None)
    assert sim.send_notification("test_notification", "alice") is None
    with api(sim, "alice") as alice:
        create(alice, "python-ds", "quiet")
    assert settled(sim) == []


# -- control surface and CLI ------------------------------------------------------------------------


def test_control_calls_over_http_say_what_is_wrong_in_one_line(sim: SimServer, receiver: Receiver) -> None:
    control = sim.url + "/_sim"
    bad = httpx.post(control + "/notify", json={"kind": "no_such_kind", "user": "alice"})
    assert bad.status_code == 400
    assert "unknown notification kind 'no_such_kind'" in bad.json()["message"]
    assert "\n" not in bad.json()["message"]
    needs_workspace = httpx.post(control + "/notify", json={"kind": "out_of_memory", "user": "alice"})
    assert needs_workspace.status_code == 400 and "pass 'workspace'" in needs_workspace.json()["message"]
    bad_url = httpx.post(control + "/notifications-webhook", json={"url": "ftp://x"})
    assert bad_url.status_code == 400 and "http(s) URL" in bad_url.json()["message"]
    sent = httpx.post(control + "/notify", json={"kind": "test_notification", "user": "bob"})
    assert sent.status_code == 200
    receiver.wait_for(lambda rs: len(rs) == 1)
    listed = httpx.get(control + "/notifications").json()
    assert listed[0]["msg_id"] == sent.json()["result"]


def test_the_v025_era_has_no_notifications(make_sim: MakeSim, receiver: Receiver) -> None:
    with pytest.raises(ValueError, match="has no notifications"):
        SimServer(era="v0.25", notifications_webhook=receiver.url)
    old = make_sim(era="v0.25")
    with pytest.raises(ValueError, match="has no notifications"):
        old.set_notifications_webhook(receiver.url)


def test_the_cli_flag_sends_to_the_webhook(receiver: Receiver) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "coder_sim", "--port", "0", "--notifications-webhook", receiver.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = ""
        while not url:
            line = process.stdout.readline()
            assert line, "coder-sim exited early"
            if line.startswith("CODER_URL="):
                url = line.strip().removeprefix("CODER_URL=")
        httpx.post(
            url + "/_sim/notify", json={"kind": "test_notification", "user": "alice"}
        ).raise_for_status()
        got = receiver.wait_for(lambda rs: len(rs) == 1)[0]
        assert payload(got)["actions"][0]["url"] == url + "/deployment/notifications?tab=settings"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--notifications-webhook", "not-a-url"], "must be an http:// or https:// URL"),
        (["--era", "v0.25", "--notifications-webhook", "http://127.0.0.1:9/x"], "needs the v2 era"),
    ],
)
def test_the_cli_refuses_a_bad_webhook_in_one_line(args: list[str], message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "coder_sim", "--port", "0", *args], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_the_recorder_checks_each_webhook_body_against_coders_structs(receiver: Receiver) -> None:
    recorder = Recorder()
    with SimServer(
        era="v2", speed=10.0, response_hook=recorder.record, notifications_webhook=receiver.url
    ) as sim:
        sim.send_notification(
            "out_of_memory", "alice", workspace=sim.create_workspace_direct("alice", "python-ds", "m")
        )
        receiver.wait_for(lambda rs: len(rs) == 1)
    assert recorder.problems() == []
    (item,) = [seen for seen in recorder.seen.values() if seen.kind == "notification"]
    wrong = copy.deepcopy(item.body)
    wrong["payload"]["labels"]["threshold"] = 90
    wrong["payload"]["extra"] = True
    del wrong["title_markdown"]
    problems = notification_errors(wrong)
    assert "<root>: 'title_markdown' is a required property" in problems
    assert any("'extra' was unexpected" in problem for problem in problems)
    assert any(problem.startswith("payload/labels: ") for problem in problems)


def test_coders_send_test_notification_route(sim: SimServer, receiver: Receiver) -> None:
    with api(sim, "alice") as alice:
        refused = alice.post("/notifications/test")
        assert refused.status_code == 403
    with api(sim, "admin") as admin:
        assert admin.post("/notifications/test").status_code == 200
    got = receiver.wait_for(lambda rs: len(rs) == 1)[0]
    assert payload(got)["user_username"] == "admin"
    assert payload(got)["notification_template_id"] == "c425f63e-716a-4bf4-ae24-78348f706c3f"
    assert got.body["body"] == "Hi Ada Admin,\n\nThis is a test notification."


def test_a_reminder_already_due_is_sent_by_the_sims_own_timer(sim: SimServer, receiver: Receiver) -> None:
    sim.set_autostop_notify("python-ds", 9 * 3600 * 1000)  # longer than the 8 h ttl: due at once
    sim.create_workspace_direct("bob", "python-ds", "soon")
    got = receiver.wait_for(lambda rs: len(rs) == 1)[0]  # no advance_clock: the timer sent it
    assert payload(got)["notification_name"] == "Workspace Autostop Reminder"
    assert payload(got)["labels"]["timeTilShutdown"] in ("7 hours from now", "8 hours from now")


def test_reminders_for_many_workspaces_come_once_each(sim: SimServer, receiver: Receiver) -> None:
    sim.set_autostop_notify("max-deadline", 60 * 60 * 1000)
    ids = sim.seed_workspaces("alice", "max-deadline", "fleet", 300)
    sim.advance_clock(8 * 3600 - 30 * 60)
    receiver.wait_for(lambda rs: len(rs) == 300, timeout=60)
    sim.advance_clock(10 * 60)
    sent = settled(sim)
    assert len(sent) == 300 and {m["state"] for m in sent} == {"sent"}
    named = Counter(payload(r)["labels"]["workspace"] for r in receiver.received)
    assert set(named) == {f"fleet-{n}" for n in range(300)} and set(named.values()) == {1}
    assert len(ids) == 300


def test_stopping_the_sim_cancels_what_is_still_being_sent(make_sim: MakeSim, receiver: Receiver) -> None:
    receiver.hold.clear()
    sim = make_sim(era="v2", notifications_webhook=receiver.url)
    sim.send_notification("test_notification", "alice")
    notifier = sim.context.notifications.notifier
    started = time.monotonic()
    sim.stop()
    assert time.monotonic() - started < 10
    assert [m.state for m in notifier.messages] == ["cancelled"]


def test_the_webhook_url_never_appears_in_what_the_sim_reports(make_sim: MakeSim) -> None:
    secret = "never-show-this-0123456789abcdef"
    sim = make_sim(era="v2")
    with pytest.raises(ValueError) as refused:
        sim.set_notifications_webhook(f"ftp://bot/coder/notifications/{secret}")
    assert secret not in str(refused.value)
    closed = Receiver()
    url = closed.url.replace("s3cret", secret)
    closed.close()
    sim.set_notifications_webhook(url, retry_interval=FAST_RETRY, max_attempts=2)
    sim.send_notification("test_notification", "alice")
    settled(sim)
    listed = httpx.get(sim.url + "/_sim/notifications").text + httpx.get(sim.url + "/_sim/state").text
    assert secret not in listed


def test_every_active_template_admin_hears_of_a_failed_manual_build(
    sim: SimServer, receiver: Receiver
) -> None:
    sim.create_user("carol", "carol@example.com", name="Carol Ops", owner=True)
    sim.create_user("dave", "dave@example.com", owner=True, status="suspended")
    with api(sim, "bob") as bob:
        workspace = create(bob, "failing-build", "quota").json()
        wait_for(bob, workspace["id"], lambda w: w["latest_build"]["job"]["status"] == "failed")
    settled(sim)
    failed = receiver.of_kind("Workspace Manual Build Failed")
    assert sorted(payload(r)["user_username"] for r in failed) == ["admin", "carol"]
    created = receiver.of_kind("Workspace Created")
    assert sorted(payload(r)["user_username"] for r in created) == ["admin", "carol"]
    assert {payload(r)["labels"]["workspace_owner_username"] for r in failed + created} == {"bob"}
    assert len({r.body["msg_id"] for r in receiver.received}) == 4
