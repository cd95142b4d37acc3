"""The App Home tab: each person's dashboard, published when they open it and kept current (debounced).

Through the real bolt app (signed events and clicks) against the Slack stand-in and coder-sim; what a person
sees is read back from the stand-in's stored Home view."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from coder_slack.compose import compose
from coder_slack.home import HomeTabs
from coder_slack.server import RunningSocketMode, start_socket_mode
from coder_slack.slack_tokens import NoInstallation
from coder_slack.store import Subscription
from coder_slack.views.home import NEW_WORKSPACE_ACTION, TEMPLATE_BLOCK
from coder_slack.views.modals import NAME_BLOCK
from slack_harness import BotThread, bot_settings
from slack_sdk.web.async_client import AsyncWebClient
from slack_sim import APP_ID, TEAM_ID, RecordedCall, SlackStandIn, render_view
from slack_sim.methods.views import home_view, home_view_id
from test_oauth_install import SECOND, install, oauth_bot

_events = itertools.count(1)
FAST = 0.3  # the debounce in tests that are not about it


def open_home(
    bot: BotThread, user: str = "U0ALICE", tab: str = "home", team: str = TEAM_ID
) -> httpx.Response:
    """What Slack POSTs when ``user`` opens the app's Home (or Messages) tab."""
    body = {
        "token": "unused",
        "team_id": team,
        "api_app_id": APP_ID,
        "type": "event_callback",
        "event_id": f"Ev{next(_events):08d}",
        "event_time": int(time.time()),
        "event": {
            "type": "app_home_opened",
            "user": user,
            "channel": "D" + user.removeprefix("U"),
            "tab": tab,
            "event_ts": f"{time.time():.6f}",
        },
    }
    response = bot.post(bot.requests.sign(json.dumps(body), content_type="application/json"))
    assert response.status_code == 200
    return response


def click_home(
    bot: BotThread, view: dict[str, Any], action_id: str, value: str = "", user: str = "U0ALICE"
) -> httpx.Response:
    """A click on a button of ``view`` (a published Home), as Slack sends it: no channel, no response_url."""
    block_id = next(
        str(block.get("block_id") or "")
        for block in view["blocks"]
        for element in [*(block.get("elements") or []), block.get("accessory") or {}]
        if element.get("action_id") == action_id and (not value or element.get("value") == value)
    )
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM_ID, "domain": "coderops"},
        "user": {"id": user, "team_id": TEAM_ID},
        "api_app_id": APP_ID,
        "container": {"type": "view", "view_id": view["id"]},
        "view": view,
        "trigger_id": bot.requests.new_trigger_id(),
        "actions": [
            {
                "action_id": action_id,
                "block_id": block_id,
                "type": "button",
                "value": value,
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    response = bot.post(bot.requests.interaction(payload))
    assert response.status_code == 200
    return response


def publishes(standin: SlackStandIn, user: str = "U0ALICE") -> list[RecordedCall]:
    return [c for c in standin.calls("views.publish") if c.args.get("user_id") == user and c.ok]


def wait_home(
    standin: SlackStandIn, user: str = "U0ALICE", shows: str = "", after: int = 0, timeout: float = 20
) -> str:
    """The Home as ``user`` sees it, once a publish after ``after`` shows ``shows``."""
    standin.wait_for(
        "views.publish",
        lambda c: (
            c.ok
            and c.args.get("user_id") == user
            and c.seq > after
            and shows in render_view(c.response["view"])
        ),
        timeout=timeout,
    )
    view = home_view(standin.state, user)
    assert view is not None
    return render_view(view)


def home_of(bot: BotThread) -> HomeTabs:
    home = bot.bot.home
    assert isinstance(home, HomeTabs)
    return home


@pytest.fixture
def fast_bot(bot: BotThread) -> BotThread:
    home_of(bot).min_interval = FAST
    return bot


# ------------------------------------------------------------------------------------------- what it shows


def test_home_shows_workspaces_account_settings_and_subscriptions(
    fast_bot: BotThread, standin: SlackStandIn, sim: Any
) -> None:
    sim.create_workspace_direct("alice", "python-ds", "analysis")
    sim.create_workspace_direct("alice", "python-ds", "parked", running=False)
    sim.create_workspace_direct("bob", "python-ds", "bobs")
    fast_bot.command("subscribe template=python-ds")
    fast_bot.command("settings warn=15")
    fast_bot.settle()
    open_home(fast_bot)
    shown = wait_home(standin, shows="analysis")
    assert "You are *alice* in Coder (found by your Slack e-mail)" in shown
    assert "[Link your Coder account]" in shown
    assert "[New workspace]" in shown
    lines = shown.splitlines()
    running = next(i for i, line in enumerate(lines) if "*analysis*" in line)
    assert "running" in lines[running] and "stops" in lines[running]
    assert "[Extend +1h]" in lines[running + 1] and "[!Stop]" in lines[running + 1]
    assert "[Open → " in lines[running + 1] and "[Start]" not in lines[running + 1]
    parked = next(i for i, line in enumerate(lines) if "*parked*" in line)
    assert "stopped" in lines[parked] and "stops" not in lines[parked]
    assert "[Start]" in lines[parked + 1] and "Stop]" not in lines[parked + 1]
    assert "bobs" not in shown  # only their own
    assert "autostop warning: *15 minutes before autostop*" in shown
    assert "Subscriptions you created" in shown and "template=python-ds" in shown
    view = home_view(standin.state, "U0ALICE")
    assert view is not None and view["type"] == "home"
    opens = [
        e
        for b in view["blocks"]
        for e in b.get("elements") or []
        if e.get("action_id") == "open_home_workspace"
    ]
    assert any(e["url"].endswith("/@alice/analysis") for e in opens)


def test_someone_without_a_coder_account_is_told_and_offered_a_link(
    fast_bot: BotThread, standin: SlackStandIn
) -> None:
    open_home(fast_bot, user="U0NOBODY")
    shown = wait_home(standin, user="U0NOBODY", shows="No Coder account")
    assert "[Link your Coder account]" in shown
    assert "[New workspace]" in shown


def test_the_messages_tab_publishes_nothing(fast_bot: BotThread, standin: SlackStandIn) -> None:
    open_home(fast_bot, user="U0BOB", tab="messages")
    open_home(fast_bot)  # Alice's Home: its publish shows that events were handled
    wait_home(standin)
    fast_bot.settle()
    assert not publishes(standin, "U0BOB")
    assert not fast_bot.run(home_of(fast_bot).tracks(TEAM_ID, "U0BOB"))


# ------------------------------------------------------------------------------------------- its buttons


def test_stop_on_the_home_stops_the_workspace_and_the_home_follows(
    fast_bot: BotThread, standin: SlackStandIn, sim: Any
) -> None:
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "analysis")
    open_home(fast_bot)
    wait_home(standin, shows="analysis")
    before = standin.last_seq()
    view = home_view(standin.state, "U0ALICE")
    assert view is not None
    click_home(fast_bot, view, "ws_stop", workspace_id)
    # The clicker hears back in their DM (a Home click has no channel and no response_url) ...
    told = standin.wait_for(
        "chat.postMessage",
        lambda c: "is on its way; progress in our DM" in str(c.args.get("text")),
        timeout=30,
    )
    assert told.args["channel"] == "D0ALICE" and "not in this channel" not in told.args["text"]
    # ... and the Home shows the stop without being opened again.
    shown = wait_home(standin, shows="stop", after=before)
    assert "analysis" in shown
    fast_bot.settle()
    final = render_view(home_view(standin.state, "U0ALICE") or {})
    line = next(line for line in final.splitlines() if "*analysis*" in line)
    assert "stopped" in line or "stopping" in line


def test_home_buttons_check_the_clicker_again(fast_bot: BotThread, standin: SlackStandIn, sim: Any) -> None:
    """A Home is only ever published to its owner, but a forged click on someone else's workspace is refused
    like any other."""
    bobs = sim.create_workspace_direct("bob", "python-ds", "bobs")
    open_home(fast_bot)
    wait_home(standin)
    view = home_view(standin.state, "U0ALICE")
    assert view is not None
    view = {
        **view,
        "blocks": [
            *view["blocks"],
            {
                "type": "actions",
                "block_id": "forged",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "ws_stop",
                        "value": bobs,
                        "text": {"type": "plain_text", "text": "Stop"},
                    }
                ],
            },
        ],
    }
    click_home(fast_bot, view, "ws_stop", bobs)
    refusal = standin.wait_for("chat.postMessage", lambda c: "belongs to bob" in str(c.args.get("text")))
    assert refusal.args["channel"] == "D0ALICE"
    fast_bot.settle()
    workspace = fast_bot.run(fast_bot.bot.pool.service().workspaces.get(bobs))
    assert str(workspace.latest_build.transition) == "start"


def test_new_workspace_picks_a_template_then_the_create_form_creates_it(
    fast_bot: BotThread, standin: SlackStandIn, sim: Any
) -> None:
    open_home(fast_bot)
    wait_home(standin)
    view = home_view(standin.state, "U0ALICE")
    assert view is not None
    click_home(fast_bot, view, NEW_WORKSPACE_ACTION, "new")
    picker = standin.wait_for("views.open", lambda c: c.ok).response["view"]
    assert "Template: <static select of" in render_view(picker) and "python-ds" in json.dumps(picker)
    chosen = fast_bot.post(fast_bot.requests.view_submission(picker, {TEMPLATE_BLOCK: "python-ds"}))
    answer = chosen.json()
    assert answer["response_action"] == "update"
    form = answer["view"]
    assert form["callback_id"] == "create_workspace"
    ids = [b.get("block_id") for b in form["blocks"]]
    assert NAME_BLOCK in ids and "p:project_name" in ids
    stored = {**form, "id": picker["id"]}
    created = fast_bot.post(
        fast_bot.requests.view_submission(stored, {NAME_BLOCK: "from-home", "p:project_name": "home-proj"})
    )
    assert created.status_code == 200 and not created.content  # the form closes
    card = standin.wait_for(
        "chat.postMessage", lambda c: "alice/from-home" in str(c.args.get("text")), timeout=30
    )
    assert card.args["channel"] == "D0ALICE"  # the status card goes to the person's DM with the bot
    wait_home(standin, shows="from-home", timeout=30)


def test_new_workspace_with_no_picked_template_says_so(fast_bot: BotThread, standin: SlackStandIn) -> None:
    open_home(fast_bot)
    wait_home(standin)
    view = home_view(standin.state, "U0ALICE")
    assert view is not None
    click_home(fast_bot, view, NEW_WORKSPACE_ACTION, "new")
    picker = standin.wait_for("views.open", lambda c: c.ok).response["view"]
    empty = fast_bot.post(fast_bot.requests.view_submission(picker, {}))
    assert empty.json() == {"response_action": "errors", "errors": {TEMPLATE_BLOCK: "Pick a template."}}
    bogus = fast_bot.post(fast_bot.requests.view_submission(picker, {TEMPLATE_BLOCK: "no-such-template"}))
    body = bogus.json()
    assert body["response_action"] == "errors" and "no-such-template" in body["errors"][TEMPLATE_BLOCK]


def test_link_on_the_home_opens_the_link_form_and_linking_refreshes_the_home(
    fast_bot: BotThread, standin: SlackStandIn, sim: Any
) -> None:
    open_home(fast_bot)
    wait_home(standin, shows="found by your Slack e-mail")
    view = home_view(standin.state, "U0ALICE")
    assert view is not None
    click_home(fast_bot, view, "home_link_account", "link")
    form = standin.wait_for("views.open", lambda c: c.ok).response["view"]
    assert form["callback_id"] == "link_account"
    before = standin.last_seq()
    token = sim.user_tokens["alice"]
    linked = fast_bot.post(fast_bot.requests.view_submission(form, {"coder_token": token}))
    assert linked.status_code == 200
    shown = wait_home(standin, shows="Linked to Coder as *alice*", after=before)
    assert "[Link again]" in shown


# ------------------------------------------------------------------------------------------- refreshes


def test_a_burst_of_changes_is_one_refresh_at_most_once_per_interval(
    bot: BotThread, standin: SlackStandIn, sim: Any
) -> None:
    home = home_of(bot)
    home.min_interval = 1.5
    open_home(bot)
    wait_home(standin)
    first = publishes(standin)[0]

    async def burst() -> None:
        for _ in range(20):
            home.changed(TEAM_ID, "U0ALICE", "alice/anything")
            home.owners_changed(["alice"])

    bot.run(burst())
    bot.settle()
    calls = publishes(standin)
    assert len(calls) == 2, [c.seq for c in calls]  # the open, then one refresh for the whole burst
    assert calls[1].at - first.at >= 1.5 - 0.05


def test_only_people_who_opened_their_home_are_refreshed(
    fast_bot: BotThread, standin: SlackStandIn, sim: Any
) -> None:
    workspace_id = sim.create_workspace_direct("bob", "python-ds", "bobs", running=False)
    open_home(fast_bot)  # Alice looks; Bob never did
    wait_home(standin)
    fast_bot.command("start bobs", user="U0BOB")
    fast_bot.settle()
    assert not publishes(standin, "U0BOB")
    assert workspace_id


def test_changes_the_alert_engine_sees_refresh_the_owners_home(
    make_bot: Callable[..., BotThread], standin: SlackStandIn, sim: Any
) -> None:
    """A stop made outside Slack (here: straight through Coder's API) reaches the Home through the alert
    engine's observations."""
    bot = make_bot(
        sim, alerts=True, coder_slack_sweep_interval_seconds=600.0, coder_slack_alert_poll_seconds=0.1
    )
    engine = bot.server.alert_engine
    assert engine is not None
    bot.run(engine.wait_swept())
    home_of(bot).min_interval = FAST
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "analysis")
    open_home(bot)
    wait_home(standin, shows="analysis")
    before = standin.last_seq()
    bot.run(bot.bot.pool.service().workspaces.stop(workspace_id))
    bot.run(engine.settle(), timeout=60)
    shown = wait_home(standin, shows="stop", after=before)
    assert "analysis" in shown


# ------------------------------------------------------------------------------------------- the stand-in


def test_the_standin_publishes_homes_like_slack(standin: SlackStandIn) -> None:
    api = httpx.Client(base_url=standin.api_url, headers={"Authorization": "Bearer xoxb-test-bot"})

    def publish(**args: Any) -> dict[str, Any]:
        body: dict[str, Any] = api.post("views.publish", json=args).json()
        return body

    home = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]}
    first = publish(user_id="U0ALICE", view=home)
    assert first["ok"] and first["view"]["id"] == home_view_id("U0ALICE")
    second = publish(user_id="U0ALICE", view=home, hash=first["view"]["hash"])
    assert second["ok"] and second["view"]["id"] == first["view"]["id"]  # one Home per person
    assert publish(user_id="U0ALICE", view=home, hash=first["view"]["hash"])["error"] == "hash_conflict"
    unknown = publish(user_id="U0NOSUCH", view=home)
    assert unknown["error"] == "invalid_arguments"
    assert unknown["response_metadata"]["messages"] == ["invalid `user_id`"]
    assert (
        publish(
            user_id="U0ALICE", view={**home, "type": "modal", "title": {"type": "plain_text", "text": "x"}}
        )["error"]
        == "invalid_arguments"
    )
    too_many = {"type": "home", "blocks": [{"type": "divider"}] * 101}
    assert publish(user_id="U0ALICE", view=too_many)["error"] == "invalid_arguments"
    huge = {"type": "home", "private_metadata": "x" * 260_000, "blocks": []}
    assert publish(user_id="U0ALICE", view=huge)["error"] == "view_too_large"
    shown = home_view(standin.state, "U0ALICE")
    assert shown is not None and shown["hash"] == second["view"]["hash"]
    assert home_view(standin.state, "U0BOB") is None
    api.close()


def test_a_long_list_stays_within_a_homes_limits(
    fast_bot: BotThread, standin: SlackStandIn, sim: Any
) -> None:
    sim.seed_workspaces("alice", "python-ds", "ws", 45)

    async def subscribe_many() -> None:
        async with fast_bot.bot.sessions() as session:
            for n in range(20):
                session.add(
                    Subscription(
                        team_id=TEAM_ID,
                        channel_id=f"C{n:04d}",
                        created_by="U0ALICE",
                        template=f"t{'x' * 200}{n}",
                    )
                )
            await session.commit()

    fast_bot.run(subscribe_many())
    open_home(fast_bot)
    shown = wait_home(standin, shows="…and 25 more")  # the stand-in refuses a Home beyond Slack's limits
    assert "`/workspace list` shows them all" in shown
    assert "ws-0" in shown and "ws-9" in shown
    view = home_view(standin.state, "U0ALICE")
    assert view is not None and len(view["blocks"]) <= 100
    subscriptions = shown[shown.index("Subscriptions you created") :]
    listed = subscriptions.count("template=t")
    assert 5 <= listed < 20 and f"…and {20 - listed} more" in subscriptions  # cut to fit one section


def test_the_home_works_in_socket_mode(standin: SlackStandIn, sim: Any, tmp_path: Any) -> None:
    settings = bot_settings(sim.url, sim.token, standin, f"sqlite:///{tmp_path / 'socket.db'}").model_copy(
        update={"slack_app_token": "xapp-test", "slack_signing_secret": None}
    )
    sim.create_workspace_direct("alice", "python-ds", "analysis")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def run(coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(60)

    async def start() -> RunningSocketMode:
        return await start_socket_mode(await compose(settings, socket_mode=True), alerts=False)

    running: RunningSocketMode = run(start())
    try:
        standin.wait_for("apps.connections.open", timeout=10)
        event = {
            "team_id": TEAM_ID,
            "api_app_id": APP_ID,
            "type": "event_callback",
            "event_id": "Ev0SOCKET",
            "event_time": int(time.time()),
            "event": {"type": "app_home_opened", "user": "U0ALICE", "channel": "D0ALICE", "tab": "home"},
        }
        deadline = time.monotonic() + 10
        while standin.open_sockets < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        standin.socket_send("events_api", event)
        shown = wait_home(standin, shows="analysis")
        assert "[New workspace]" in shown
    finally:
        run(running.stop())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def test_coder_failing_shows_on_the_home_instead_of_breaking_it(
    fast_bot: BotThread, standin: SlackStandIn, sim: Any
) -> None:
    sim.create_workspace_direct("alice", "python-ds", "analysis")
    open_home(fast_bot)
    wait_home(standin, shows="analysis")  # Alice is known now; listing her workspaces is what fails next
    before = standin.last_seq()
    sim.inject_status(500, count=20, path_prefix="/api/v2/workspaces")
    changed(fast_bot)
    shown = wait_home(standin, shows=":warning:", after=before, timeout=60)
    assert "[New workspace]" in shown and "analysis" not in shown
    sim.clear_faults()
    before = standin.last_seq()
    changed(fast_bot)
    wait_home(standin, shows="analysis", after=before)


def test_a_team_that_uninstalled_the_app_is_no_longer_refreshed(
    fast_bot: BotThread, standin: SlackStandIn
) -> None:
    open_home(fast_bot)
    wait_home(standin)
    home = home_of(fast_bot)
    assert fast_bot.run(home.tracks(TEAM_ID, "U0ALICE"))

    class Uninstalled:
        async def client_for(self, team_id: str, enterprise_id: str | None = None) -> AsyncWebClient:
            raise NoInstallation(team_id)

        async def teams(self) -> list[str]:
            return []

    fast_bot.bot.slack_tokens = Uninstalled()
    changed(fast_bot)
    fast_bot.settle()
    assert not fast_bot.run(home.tracks(TEAM_ID, "U0ALICE"))
    assert len(publishes(standin)) == 1


def test_opening_the_home_again_at_once_is_debounced_too(bot: BotThread, standin: SlackStandIn) -> None:
    home_of(bot).min_interval = 1.0
    open_home(bot)
    wait_home(standin)
    for _ in range(5):
        open_home(bot)
    bot.settle()
    calls = publishes(standin)
    assert len(calls) == 2
    assert calls[1].at - calls[0].at >= 1.0


def changed(bot: BotThread, user: str = "U0ALICE", team: str = TEAM_ID) -> None:
    """What a command does after it changed a workspace (on the bot's loop)."""

    async def tell() -> None:
        bot.bot.home_changed(team, user)

    bot.run(tell())


def test_in_oauth_mode_each_teams_home_is_published_with_that_teams_token(
    make_bot: Callable[..., BotThread], standin: SlackStandIn, sim: Any
) -> None:
    sim.create_workspace_direct("alice", "python-ds", "analysis")
    bot = oauth_bot(make_bot, standin, sim)
    install(bot, TEAM_ID)
    install(bot, SECOND)
    home_of(bot).min_interval = FAST
    second_token = standin.oauth.tokens_of(SECOND)[0]
    before = standin.last_seq()
    open_home(bot, team=SECOND)
    opened = standin.wait_for("views.publish", lambda c: c.ok, after=before)
    assert opened.token == second_token  # bolt's client in the listener: the team's own token
    assert "analysis" in render_view(opened.response["view"])
    before = standin.last_seq()
    changed(bot, team=SECOND)
    refreshed = standin.wait_for("views.publish", lambda c: c.ok, after=before)
    assert refreshed.token == second_token  # a background refresh: SlackTokens.client_for(team)
    bot.settle()
    assert bot.run(home_of(bot).tracks(SECOND, "U0ALICE"))
    assert not bot.run(home_of(bot).tracks(TEAM_ID, "U0ALICE"))


def test_without_a_service_token_the_home_asks_to_link_first(
    make_bot: Callable[..., BotThread], standin: SlackStandIn, sim: Any
) -> None:
    sim.create_workspace_direct("alice", "python-ds", "analysis")
    bot = make_bot(sim, service_token=False)
    home_of(bot).min_interval = FAST
    open_home(bot)
    shown = wait_home(standin, shows="Link your Coder account first")
    assert "[Link your Coder account]" in shown and "analysis" not in shown
    view = home_view(standin.state, "U0ALICE")
    assert view is not None
    click_home(bot, view, NEW_WORKSPACE_ACTION, "new")
    told = standin.wait_for("views.open", lambda c: c.ok).response["view"]
    assert "Link your Coder account first" in render_view(told)  # instead of a template list
    click_home(bot, view, "home_link_account", "link")
    form = standin.wait_for(
        "views.open", lambda c: c.ok and c.response["view"].get("callback_id") == "link_account"
    )
    before = standin.last_seq()
    linked = bot.post(
        bot.requests.view_submission(form.response["view"], {"coder_token": sim.user_tokens["alice"]})
    )
    assert linked.status_code == 200
    shown = wait_home(standin, shows="analysis", after=before)
    assert "Linked to Coder as *alice*" in shown  # listed with her own token now
