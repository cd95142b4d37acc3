"""Installing coder-slack into several Slack workspaces over OAuth, end to end: the real bolt app behind
aiohttp, the Slack stand-in as Slack (its consent page, ``oauth.v2.access``, per-team tokens), coder-sim as
Coder. Each team's requests, status cards and alerts go out with that team's own bot token; an uninstall
forgets one team alone; a forged or replayed ``state`` is refused before any code is exchanged; rotating
tokens are refreshed before they expire."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
import yaml
from coder_slack.oauth_install import BOT_SCOPES, INSTALL_PATH, REDIRECT_PATH, UNINSTALLED, build_slack_oauth
from coder_slack.settings import Settings
from coder_slack.slack_tokens import NoInstallation
from coder_slack.store import Subscription, create_engine_for, create_session_factory, upgrade_database
from slack_harness import BotThread, answer, rendered
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth.installation_store import Installation
from slack_sim import TEAM_ID, RemoteStandIn, SlackStandIn
from slack_sim.oauth import CLIENT_ID, CLIENT_SECRET
from sqlalchemy import select
from test_cards import card_in

ROOT = Path(__file__).resolve().parents[2]
SECOND = "T0SECOND"
STATE_COOKIE = "slack-app-oauth-state"
NO_SWEEP = 600.0


def oauth_bot(
    make_bot: Callable[..., BotThread], standin: SlackStandIn, sim: Any, **settings: Any
) -> BotThread:
    standin.add_team(SECOND, "second")
    bot = make_bot(
        sim,
        slack_bot_token=None,
        slack_client_id=CLIENT_ID,
        slack_client_secret=CLIENT_SECRET,
        slack_authorize_url=standin.authorize_url,
        **settings,
    )
    assert bot.server.service.oauth is not None, "OAuth mode did not start"
    # The app's registered redirect URL (Slack's app settings), where the consent page sends the browser.
    standin.oauth.redirect_uri = bot.server.url + REDIRECT_PATH
    return bot


def start_install(bot: BotThread) -> tuple[str, str]:
    """Open "Add to Slack": the authorize URL it links to, and the state cookie the browser now holds."""
    page = bot.http.get(bot.server.url + INSTALL_PATH)
    assert page.status_code == 200 and "Add to Slack" in page.text
    link = html.unescape(re.search(r'href="([^"]+/oauth/v2/authorize[^"]*)"', page.text).group(1))  # type: ignore[union-attr]
    cookie = page.cookies.get(STATE_COOKIE) or _cookie_of(page)
    return link, cookie


def _cookie_of(response: httpx.Response) -> str:
    found = re.search(STATE_COOKIE + r"=([^;]+)", response.headers.get("set-cookie", ""))
    assert found, f"no {STATE_COOKIE} cookie set by {INSTALL_PATH}"
    return found.group(1)


def allow(link: str, team_id: str) -> str:
    """The person clicks "Allow" for ``team_id`` on Slack's consent page: where Slack redirects them."""
    consent = httpx.get(link + f"&team={team_id}&sim_allow=1", follow_redirects=False)
    assert consent.status_code == 302, consent.text
    return consent.headers["location"]


def come_back(bot: BotThread, redirect: str, cookie: str | None) -> httpx.Response:
    headers = {"Cookie": f"{STATE_COOKIE}={cookie}"} if cookie else {}
    return bot.http.get(redirect, headers=headers)


def install(bot: BotThread, team_id: str) -> None:
    link, cookie = start_install(bot)
    query = parse_qs(urlparse(link).query)
    assert set(query["scope"][0].split(",")) == set(BOT_SCOPES) and query["client_id"] == [CLIENT_ID]
    done = come_back(bot, allow(link, team_id), cookie)
    assert done.status_code == 200, done.text


def calls_with_team_tokens(standin: SlackStandIn, method: str, after: int = 0) -> dict[str, set[str]]:
    """Team id → the teams' tokens ``method`` was called with (every token must be one the team got)."""
    found: dict[str, set[str]] = {}
    for call in standin.calls(method, after):
        team, error = standin.oauth.check(str(call.token))
        if call.token in standin.oauth.tokens_of(team.id) or error:
            found.setdefault(team.id, set()).add(str(call.token))
    return found


def test_two_teams_install_and_each_is_served_with_its_own_token(
    make_bot: Callable[..., BotThread], standin: SlackStandIn, sim: Any
) -> None:
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "dev", running=True)
    bot = oauth_bot(make_bot, standin, sim)
    install(bot, TEAM_ID)
    install(bot, SECOND)
    first_tokens, second_tokens = standin.oauth.tokens_of(TEAM_ID), standin.oauth.tokens_of(SECOND)
    assert len(first_tokens) == 1 and len(second_tokens) == 1

    seq = standin.last_seq()
    _, request = bot.ask("status dev", channel="C0ONE")
    assert "alice/dev" in rendered(answer(standin, request))
    request = bot.requests.command("restart dev", user_id="U0ALICE", channel_id="C0TWO", team_id=SECOND)
    bot.post(request)
    assert "is on its way" in rendered(answer(standin, request))
    card = standin.wait_for("chat.postMessage", lambda c: c.args.get("channel") == "C0TWO", after=seq)
    assert card.token == second_tokens[0]
    bot.settle()

    # Who asked (users.info) was looked up with each team's token, and nothing used a token of the other team.
    lookups = [c for c in standin.calls("users.info", seq)]
    assert {c.token for c in lookups} == {first_tokens[0], second_tokens[0]}
    for call in standin.calls(after=seq):
        if call.method in {"response_url", "oauth.v2.access"}:
            continue
        channel = str(call.args.get("channel") or "")
        if channel == "C0TWO":
            assert call.token == second_tokens[0], call
        elif channel == "C0ONE":
            assert call.token == first_tokens[0], call
    service = bot.bot.pool.service()
    assert str(bot.run(service.workspaces.get(workspace_id)).latest_build.transition) == "start"


def test_an_uninstall_forgets_that_team_alone(
    make_bot: Callable[..., BotThread], standin: SlackStandIn, sim: Any
) -> None:
    sim.create_workspace_direct("alice", "python-ds", "dev", running=True)
    bot = oauth_bot(make_bot, standin, sim)
    install(bot, TEAM_ID)
    install(bot, SECOND)
    _, request = bot.ask("watch dev", channel="C0ONE")
    assert "lifecycle alerts" in rendered(answer(standin, request))
    request = bot.requests.command("watch dev", channel_id="C0TWO", team_id=SECOND)
    bot.post(request)
    assert "lifecycle alerts" in rendered(answer(standin, request))

    standin.uninstall(SECOND)
    response = bot.post(bot.requests.event({"type": "app_uninstalled"}, team_id=SECOND))
    assert response.status_code == 200
    bot.settle()

    async def subscriptions() -> dict[str, tuple[bool, str | None]]:
        async with bot.bot.sessions() as session:
            rows = (await session.scalars(select(Subscription))).all()
        return {row.team_id: (row.enabled, row.disabled_reason) for row in rows}

    assert bot.run(subscriptions()) == {TEAM_ID: (True, None), SECOND: (False, UNINSTALLED)}
    with pytest.raises(NoInstallation, match="not installed"):
        bot.run(bot.bot.tokens.client_for(SECOND))

    # The uninstalled team's commands are no longer served; the other team's are, with its token.
    seq = standin.last_seq()
    refused_request = bot.requests.command("status dev", channel_id="C0TWO", team_id=SECOND)
    assert bot.post(refused_request).status_code == 200
    assert "reinstall this app" in rendered(answer(standin, refused_request))
    _, request = bot.ask("status dev", channel="C0ONE")
    assert "alice/dev" in rendered(answer(standin, request))
    bot.settle()
    used = {call.token for call in standin.calls(after=seq) if call.token}
    assert used == set(standin.oauth.tokens_of(TEAM_ID))

    # Installing again brings the team's subscriptions back.
    install(bot, SECOND)
    assert bot.run(subscriptions())[SECOND] == (True, None)


def test_a_revoked_bot_token_forgets_the_team_like_an_uninstall(
    make_bot: Callable[..., BotThread], standin: SlackStandIn, sim: Any
) -> None:
    bot = oauth_bot(make_bot, standin, sim)
    install(bot, TEAM_ID)
    install(bot, SECOND)
    standin.uninstall(SECOND)
    event = {"type": "tokens_revoked", "tokens": {"oauth": [], "bot": [f"U{SECOND[1:]}BOT"]}}
    assert bot.post(bot.requests.event(event, team_id=SECOND)).status_code == 200
    bot.settle()
    with pytest.raises(NoInstallation):
        bot.run(bot.bot.tokens.client_for(SECOND))
    client = bot.run(bot.bot.tokens.client_for(TEAM_ID))
    assert bot.run(client.auth_test())["team_id"] == TEAM_ID


def test_a_forged_or_replayed_state_is_refused_before_any_code_is_exchanged(
    make_bot: Callable[..., BotThread], standin: SlackStandIn, sim: Any
) -> None:
    bot = oauth_bot(make_bot, standin, sim)
    link, cookie = start_install(bot)
    redirect = allow(link, SECOND)
    code = parse_qs(urlparse(redirect).query)["code"][0]
    callback = bot.server.url + REDIRECT_PATH

    forged = come_back(bot, f"{callback}?code={code}&state=forged", "forged")  # a state we never issued
    missing_cookie = come_back(bot, redirect, None)  # another browser than the one that started
    wrong_cookie = come_back(bot, redirect, "someone-elses-state")
    assert {forged.status_code, missing_cookie.status_code, wrong_cookie.status_code} <= {400, 401}
    assert standin.calls("oauth.v2.access") == []  # refused before the code was exchanged

    assert come_back(bot, redirect, cookie).status_code == 200
    replayed = come_back(bot, redirect, cookie)
    assert replayed.status_code in (400, 401)
    assert len(standin.calls("oauth.v2.access")) == 1  # the replay never reached Slack
    assert len(standin.oauth.tokens_of(SECOND)) == 1


def test_rotating_tokens_are_refreshed_before_they_expire(
    make_bot: Callable[..., BotThread], standin: SlackStandIn, sim: Any
) -> None:
    standin.oauth.rotation = True
    standin.oauth.token_lifetime = 3600  # within the bot's 120-minute refresh window from the start
    sim.create_workspace_direct("alice", "python-ds", "dev", running=True)
    bot = oauth_bot(make_bot, standin, sim)
    install(bot, SECOND)
    (first,) = standin.oauth.tokens_of(SECOND)
    assert first.startswith("xoxe.xoxb-")

    seq = standin.last_seq()
    request = bot.requests.command("status dev", channel_id="C0TWO", team_id=SECOND)
    bot.post(request)
    assert "alice/dev" in rendered(answer(standin, request))
    bot.settle()
    refreshes = [
        c for c in standin.calls("oauth.v2.access", seq) if c.args.get("grant_type") == "refresh_token"
    ]
    assert refreshes and all(c.ok for c in refreshes)
    newest = str(refreshes[-1].response["access_token"])
    assert newest != first
    lookups = standin.calls("users.info", seq)
    assert lookups and {c.token for c in lookups} <= {str(c.response["access_token"]) for c in refreshes}

    # An expired token is refused by Slack; the bot's background clients refresh first and never use one.
    standin.oauth.expire_tokens(SECOND)
    assert standin.oauth.check(newest)[1] == "token_expired"
    client = bot.run(bot.bot.tokens.client_for(SECOND))
    assert client.token not in (first, newest)
    assert bot.run(client.auth_test())["team_id"] == SECOND


def test_alerts_for_a_channel_go_out_with_its_teams_token(
    make_bot: Callable[..., BotThread], standin: SlackStandIn, sim: Any
) -> None:
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "dev", running=True)
    bot = oauth_bot(
        make_bot,
        standin,
        sim,
        alerts=True,
        coder_slack_sweep_interval_seconds=NO_SWEEP,
        coder_slack_alert_poll_seconds=0.1,
        coder_slack_lease_seconds=3,
    )
    engine = bot.server.alert_engine
    assert engine is not None
    bot.run(engine.wait_swept())
    install(bot, TEAM_ID)
    install(bot, SECOND)
    for channel, team in (("C0ONE", TEAM_ID), ("C0TWO", SECOND)):
        request = bot.requests.command("watch dev", channel_id=channel, team_id=team)
        bot.post(request)
        assert "lifecycle alerts" in rendered(answer(standin, request))
    _, request = bot.ask("restart dev", channel="C0ONE")
    assert "is on its way" in rendered(answer(standin, request))
    build = bot.run(bot.bot.pool.service().workspaces.get(workspace_id)).latest_build.build_number

    def ready_in(channel: str) -> Any:
        return standin.wait_for(
            "chat.postMessage",
            lambda c: (
                c.ok
                and c.args.get("channel") == channel
                and f"Build #{build}" in rendered(c)
                and "is ready" in rendered(c)
            ),
            timeout=30,
        )

    assert ready_in("C0ONE").token == standin.oauth.tokens_of(TEAM_ID)[0]
    assert ready_in("C0TWO").token == standin.oauth.tokens_of(SECOND)[0]


def test_settings_pick_oauth_mode_and_ask_for_what_it_needs() -> None:
    oauth = Settings(slack_client_id="1.2", slack_client_secret="s", slack_signing_secret="x")
    assert oauth.oauth_mode
    assert "SLACK_BOT_TOKEN" not in oauth.missing_for("http")
    assert "SLACK_BOT_TOKEN" in oauth.missing_for("socket")  # Socket Mode stays single-team
    pasted = Settings(slack_client_id="1.2", slack_client_secret="s", slack_bot_token="xoxb-1")
    assert not pasted.oauth_mode
    assert "SLACK_BOT_TOKEN" in Settings().missing_for("http")


def test_the_http_manifest_has_the_redirect_url_and_the_uninstall_events() -> None:
    manifest = yaml.safe_load((ROOT / "deploy" / "slack" / "manifest.yaml").read_text())
    assert [url.endswith(REDIRECT_PATH) for url in manifest["oauth_config"]["redirect_urls"]] == [True]
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert {"app_uninstalled", "tokens_revoked"} <= events
    assert manifest["settings"]["event_subscriptions"]["request_url"].endswith("/slack/events")
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == set(BOT_SCOPES)


@pytest.mark.parametrize("database", ["sqlite_url", "postgres_url"])
def test_installations_and_states_live_in_the_bots_database(
    database: str, request: pytest.FixtureRequest, standin: SlackStandIn
) -> None:
    """slack_sdk's stores on the migrated tables, SQLite and PostgreSQL: a state is good once; an installation
    gives its team's token; uninstalling one team leaves the other's."""
    url = str(request.getfixturevalue(database))
    upgrade_database(url)
    settings = Settings(
        slack_client_id=CLIENT_ID,
        slack_client_secret=CLIENT_SECRET,
        slack_api_url=standin.api_url,
        coder_slack_database_url=url,
    )

    async def scenario() -> None:
        engine = create_engine_for(url)
        oauth = build_slack_oauth(settings, create_session_factory(engine))
        try:
            state = await oauth.states.async_issue()
            assert await oauth.states.async_consume(state)
            assert not await oauth.states.async_consume(state)  # single use
            assert not await oauth.states.async_consume("forged")
            for team, token in ((TEAM_ID, "xoxb-one"), (SECOND, "xoxb-two")):
                await oauth.installations.async_save(
                    Installation(
                        app_id="A0CODEROPS",
                        team_id=team,
                        user_id="U0ADMIN",
                        bot_token=token,
                        bot_id="B1",
                        bot_user_id="U0BOT",
                        bot_scopes=list(BOT_SCOPES),
                    )
                )
            assert (await oauth.tokens.client_for(SECOND)).token == "xoxb-two"
            await oauth.forget(SECOND, None, UNINSTALLED)
            with pytest.raises(NoInstallation):
                await oauth.tokens.client_for(SECOND)
            assert (await oauth.tokens.client_for(TEAM_ID)).token == "xoxb-one"
        finally:
            await engine.dispose()

    asyncio.run(scenario())


def test_the_standins_consent_page_and_code_exchange_answer_like_slack(standin: SlackStandIn) -> None:
    standin.add_team(SECOND, "second")
    standin.oauth.redirect_uri = "http://127.0.0.1:9/slack/oauth_redirect"
    consent = httpx.get(
        standin.authorize_url, params={"client_id": CLIENT_ID, "scope": "commands", "state": "s1"}
    )
    assert consent.status_code == 200 and "Allow in second (T0SECOND)" in consent.text
    assert httpx.get(standin.authorize_url, params={"client_id": "someone-else"}).status_code == 400

    link = standin.authorize_url + f"?client_id={CLIENT_ID}&scope=commands&state=s1"
    back = urlparse(allow(link, SECOND))
    assert back.path == "/slack/oauth_redirect" and parse_qs(back.query)["state"] == ["s1"]
    code = parse_qs(back.query)["code"][0]

    slack = WebClient(base_url=standin.api_url)
    with pytest.raises(SlackApiError, match="invalid_client_id"):
        slack.oauth_v2_access(client_id=CLIENT_ID, client_secret="wrong", code=code)
    with pytest.raises(SlackApiError, match="bad_redirect_uri"):
        slack.oauth_v2_access(
            client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code, redirect_uri="http://elsewhere/"
        )
    granted = slack.oauth_v2_access(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code)
    assert granted["team"] == {"id": SECOND, "name": "second"} and "refresh_token" not in granted.data
    with pytest.raises(SlackApiError, match="invalid_code"):  # a code is good once
        slack.oauth_v2_access(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code)
    me = WebClient(token=str(granted["access_token"]), base_url=standin.api_url).auth_test()
    assert (me["team_id"], me["user_id"]) == (SECOND, "U0SECONDBOT")
    standin.uninstall(SECOND)
    with pytest.raises(SlackApiError, match="token_revoked"):
        WebClient(token=str(granted["access_token"]), base_url=standin.api_url).auth_test()
    assert WebClient(token="xoxb-test", base_url=standin.api_url).auth_test()["team_id"] == TEAM_ID


async def _followed(bot: BotThread) -> None:
    async with asyncio.timeout(15):
        while not bot.bot.cards.following:
            await asyncio.sleep(0.05)


def test_a_card_resumed_after_a_restart_is_updated_with_its_teams_token(
    make_bot: Callable[..., BotThread], make_sim: Any, standin: SlackStandIn, tmp_path: Path
) -> None:
    sim = make_sim(era="v2", speed=1.0)  # slow enough that the build outlives the first bot
    shared = {
        "coder_slack_database_url": f"sqlite:///{tmp_path / 'shared.db'}",
        "coder_slack_lease_seconds": 1.0,
    }
    first = oauth_bot(make_bot, standin, sim, **shared)
    install(first, SECOND)
    request = first.requests.command(
        "create python-ds dev project_name=oauth-cards cpu=8", channel_id="C0TWO", team_id=SECOND
    )
    first.post(request)
    card_in(standin, "C0TWO", "alice/dev", "queued")
    first.run(_followed(first))  # the card is recorded and followed
    first.stop()  # the card is left unfinished

    seq = standin.last_seq()
    key = first.settings.coder_slack_encryption_key
    second = oauth_bot(make_bot, standin, sim, coder_slack_encryption_key=key, **shared)
    card_in(standin, "C0TWO", "alice/dev", "ready", timeout=60)
    assert second.server.service.card_keeper.resumed
    updates = [c for c in standin.calls("chat.update", seq) if c.args.get("channel") == "C0TWO"]
    assert updates and {c.token for c in updates} <= set(standin.oauth.tokens_of(SECOND))


def test_another_process_drives_the_standins_oauth_through_its_control_routes(standin: SlackStandIn) -> None:
    remote = RemoteStandIn(standin.url)
    remote.apply_fault("add_team", {"team_id": "T0THIRD", "name": "third"})
    remote.apply_fault(
        "oauth_app", {"redirect_uri": "http://127.0.0.1:9/slack/oauth_redirect", "rotation": True}
    )
    assert standin.oauth.team("T0THIRD") is not None and standin.oauth.rotation
    link = standin.authorize_url + f"?client_id={CLIENT_ID}&scope=commands&state=s2"
    code = parse_qs(urlparse(allow(link, "T0THIRD")).query)["code"][0]
    granted = WebClient(base_url=standin.api_url).oauth_v2_access(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code
    )
    assert str(granted["refresh_token"]).startswith("xoxe-") and granted["expires_in"] == 43200
    remote.apply_fault("uninstall", {"team_id": "T0THIRD"})
    assert standin.oauth.tokens_of("T0THIRD") == []
