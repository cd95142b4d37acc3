"""Sign in with Coder: the real bot (bolt + aiohttp) against coder-sim's OAuth2 provider and the stand-in.

The browser's part is played by httpx: it opens the "Sign in with Coder" link with the sim-only
``sim_user`` parameter (the consent page's "Allow" for that user) and follows Coder's redirect to the
bot's callback.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from coder_sim import SimServer
from coder_slack.coder_oauth import CALLBACK_PATH, CoderOAuthConfig, CoderSignIn, register_coder_app
from coder_slack.crypto import TokenCipher, generate_key
from coder_slack.settings import Settings
from coder_slack.store import CoderOAuthGrant, CoderOAuthState, UserLink, rotate_link_tokens
from pydantic import SecretStr
from slack_harness import BotThread, answer, rendered
from slack_sim import TEAM_ID, RecordedCall, SlackStandIn
from sqlalchemy import func, select

PENDING = "http://127.0.0.1:9/coder/oauth/callback"


@pytest.fixture
def oauth_sim(make_sim: Callable[..., SimServer]) -> SimServer:
    return make_sim(era="v2", oauth2=True)


def _sign_in(bot: BotThread) -> CoderSignIn:
    sign_in = bot.bot.identities.sign_in
    assert sign_in is not None
    return sign_in


def start_bot(make_bot: Callable[..., BotThread], sim: SimServer, **overrides: Any) -> BotThread:
    """A bot whose OAuth2 app is registered in the sim with its real callback URL (known once it listens),
    through ``coder-slack register-coder-app``'s own code."""
    overrides.setdefault("service_token", False)
    bot = make_bot(
        sim,
        coder_slack_coder_oauth_client_id="pending",
        coder_slack_coder_oauth_client_secret=SecretStr("pending"),
        coder_slack_coder_oauth_redirect_url=PENDING,
        **overrides,
    )
    callback = f"http://127.0.0.1:{bot.server.port}{CALLBACK_PATH}"
    lines = register_coder_app(
        Settings(coder_url=sim.url, coder_session_token=SecretStr(sim.token)), "coder-slack", callback
    )
    settings = dict(line.split("=", 1) for line in lines.splitlines() if not line.startswith("#"))
    sign_in = _sign_in(bot)
    sign_in.config = dataclasses.replace(
        sign_in.config,
        client_id=settings["CODER_SLACK_CODER_OAUTH_CLIENT_ID"],
        client_secret=settings["CODER_SLACK_CODER_OAUTH_CLIENT_SECRET"],
        redirect_url=settings["CODER_SLACK_CODER_OAUTH_REDIRECT_URL"],
    )
    return bot


def _button_url(call: RecordedCall) -> str:
    blocks = call.args.get("blocks")
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    for block in blocks or []:
        for element in block.get("elements", []):
            if element.get("url"):
                return str(element["url"])
    raise AssertionError(f"no link button in {rendered(call)!r}")


def login_link(bot: BotThread, standin: SlackStandIn, user: str = "U0ALICE") -> str:
    _, request = bot.ask("login", user=user)
    reply = answer(standin, request)
    assert "Sign in with Coder" in rendered(reply)
    return _button_url(reply)


def allow(link: str, sim_user: str) -> str:
    """What the browser does on Coder's consent page ("Allow" as ``sim_user``): the redirect to the bot."""
    response = httpx.get(f"{link}&sim_user={sim_user}", timeout=10)
    assert response.status_code == 302, response.text
    return response.headers["location"]


def sign_in(bot: BotThread, standin: SlackStandIn, user: str = "U0ALICE", sim_user: str = "alice") -> str:
    callback = allow(login_link(bot, standin, user), sim_user)
    page = httpx.get(callback, timeout=10)
    assert page.status_code == 200, page.text
    assert f"Coder user {sim_user}" in page.text
    standin.wait_for(
        "chat.postEphemeral",
        lambda c: c.args.get("user") == user and "Signed in with Coder" in c.args.get("text", ""),
    )
    return callback


async def _rows(bot: BotThread) -> tuple[list[UserLink], list[CoderOAuthGrant], int]:
    async with bot.bot.sessions() as session:
        links = list((await session.execute(select(UserLink))).scalars())
        grants = list((await session.execute(select(CoderOAuthGrant))).scalars())
        states = (await session.execute(select(func.count()).select_from(CoderOAuthState))).scalar_one()
    return links, grants, int(states)


def token_requests(sim: SimServer) -> list[list[str]]:
    requests: list[list[str]] = sim.oauth2_state()["token_requests"]
    return requests


def live_tokens(sim: SimServer) -> list[str]:
    return list(sim.context.store.oauth2.grants_by_access)


def coder_me(sim: SimServer, token: str) -> int:
    return httpx.get(
        sim.api_url + "/users/me", headers={"Coder-Session-Token": token}, timeout=10
    ).status_code


# ---------------------------------------------------------------------------------------------------------


def test_sign_in_links_the_account_and_commands_run_as_the_user(
    make_bot: Callable[..., BotThread],
    oauth_sim: SimServer,
    standin: SlackStandIn,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    bot = start_bot(make_bot, oauth_sim)
    oauth_sim.create_workspace_direct("alice", "python-ds", "signed-in-ws", running=True)

    link = login_link(bot, standin)
    assert "code_challenge_method=S256" in link and "code_challenge=" in link and "state=" in link
    callback = allow(link, "alice")
    assert callback.startswith(f"http://127.0.0.1:{bot.server.port}{CALLBACK_PATH}?")
    assert httpx.get(callback, timeout=10).status_code == 200
    standin.wait_for("chat.postEphemeral", lambda c: "*alice*" in c.args.get("text", ""))

    links, grants, states = bot.run(_rows(bot))
    [access] = live_tokens(oauth_sim)
    refresh = oauth_sim.context.store.oauth2.grants_by_access[access].refresh_token
    assert [(row.slack_user_id, row.coder_username) for row in links] == [("U0ALICE", "alice")]
    assert access not in links[0].token_ciphertext and refresh not in grants[0].refresh_token_ciphertext
    assert states == 0  # the state was used up
    assert token_requests(oauth_sim) == [["authorization_code", "ok"]]

    _, request = bot.ask("list")
    assert "alice/signed-in-ws" in rendered(answer(standin, request))

    bot.settle()
    everything = [str(call.args) for call in standin.calls()] + [r.getMessage() for r in caplog.records]
    for secret in (access, refresh):
        assert all(secret not in text for text in everything)
    code = callback.split("code=", 1)[1].split("&", 1)[0]
    bots_lines = [r.getMessage() for r in caplog.records if r.threadName == "coder-slack-bot"]
    assert bots_lines and all(code not in line for line in bots_lines)  # (this test's own httpx logs it)


def test_replayed_forged_and_expired_states_are_refused_before_any_code_is_exchanged(
    make_bot: Callable[..., BotThread], oauth_sim: SimServer, standin: SlackStandIn
) -> None:
    bot = start_bot(make_bot, oauth_sim)
    callback = sign_in(bot, standin)
    assert len(token_requests(oauth_sim)) == 1

    replayed = httpx.get(callback, timeout=10)
    assert replayed.status_code == 400 and "already used" in replayed.text

    # A code Coder really issued for the bot's app, delivered with a state the bot never made.
    link = login_link(bot, standin, user="U0BOB")
    real_state = link.split("state=", 1)[1].split("&", 1)[0]
    forged_link = link.replace(f"state={real_state}", "state=forged-by-someone-else")
    forged = allow(forged_link, "bob")
    refused = httpx.get(forged, timeout=10)
    assert refused.status_code == 400 and "not valid" in refused.text
    missing = httpx.get(f"http://127.0.0.1:{bot.server.port}{CALLBACK_PATH}?code=abc", timeout=10)
    assert missing.status_code == 400

    # A real state, used after its ten minutes.
    expired_callback = allow(login_link(bot, standin, user="U0BOB"), "bob")
    sign_in_ = _sign_in(bot)
    sign_in_.now = lambda: datetime.now(UTC) + timedelta(minutes=11)
    expired = httpx.get(expired_callback, timeout=10)
    assert expired.status_code == 400 and "expired" in expired.text

    assert token_requests(oauth_sim) == [["authorization_code", "ok"]]  # nothing else reached Coder
    links, _, _ = bot.run(_rows(bot))
    assert [row.slack_user_id for row in links] == ["U0ALICE"]


def test_access_token_is_refreshed_before_it_expires(
    make_bot: Callable[..., BotThread], oauth_sim: SimServer, standin: SlackStandIn
) -> None:
    oauth_sim.set_oauth2(enabled=True, access_token_lifetime=600)
    bot = start_bot(make_bot, oauth_sim, coder_slack_coder_oauth_refresh_margin_seconds=120)
    oauth_sim.create_workspace_direct("alice", "python-ds", "fresh", running=True)
    sign_in(bot, standin)
    [first] = live_tokens(oauth_sim)

    _, request = bot.ask("list")
    assert "alice/fresh" in rendered(answer(standin, request))
    assert [grant for grant, _ in token_requests(oauth_sim)] == ["authorization_code"]  # not due yet

    _sign_in(bot).now = lambda: datetime.now(UTC) + timedelta(seconds=500)  # within the 120 s margin
    _, request = bot.ask("list")
    assert "alice/fresh" in rendered(answer(standin, request))
    assert token_requests(oauth_sim) == [["authorization_code", "ok"], ["refresh_token", "ok"]]
    [second] = live_tokens(oauth_sim)
    assert second != first and coder_me(oauth_sim, first) == 401  # Coder rotated the pair
    _, grants, _ = bot.run(_rows(bot))
    assert grants[0].expires_at.replace(tzinfo=UTC) > datetime.now(UTC) + timedelta(seconds=550)


def test_logout_revokes_and_the_next_command_is_refused_at_once(
    make_bot: Callable[..., BotThread], oauth_sim: SimServer, standin: SlackStandIn
) -> None:
    bot = start_bot(make_bot, oauth_sim)
    sign_in(bot, standin)
    [access] = live_tokens(oauth_sim)
    _, request = bot.ask("list")
    assert (
        "Your workspaces" in rendered(answer(standin, request))
        or "no workspaces" in rendered(answer(standin, request)).lower()
    )

    _, request = bot.ask("logout")
    assert "Coder revoked" in rendered(answer(standin, request))
    assert oauth_sim.oauth2_state()["revoked"] == 1
    assert coder_me(oauth_sim, access) == 401

    _, request = bot.ask("list")
    assert "Link your Coder account first" in rendered(answer(standin, request))
    assert bot.run(_rows(bot))[:2] == ([], [])


def test_grant_revoked_in_coder_ends_the_link_at_the_next_command(
    make_bot: Callable[..., BotThread], oauth_sim: SimServer, standin: SlackStandIn
) -> None:
    bot = start_bot(make_bot, oauth_sim)
    sign_in(bot, standin)
    _, request = bot.ask("list")
    answer(standin, request)
    provider = oauth_sim.context.store.oauth2
    oauth_sim.run_on_loop(lambda: [provider.drop(g) for g in list(provider.grants_by_access.values())])

    _, request = bot.ask("list")
    assert "sign-in has ended" in rendered(answer(standin, request))
    assert bot.run(_rows(bot))[:2] == ([], [])


def test_logout_on_one_replica_counts_on_the_other_at_once(
    make_bot: Callable[..., BotThread], oauth_sim: SimServer, standin: SlackStandIn, tmp_path: Any
) -> None:
    shared = f"sqlite:///{tmp_path / 'shared.db'}"
    first = start_bot(make_bot, oauth_sim, coder_slack_database_url=shared)
    second = make_bot(
        oauth_sim,
        service_token=False,
        coder_slack_database_url=shared,
        coder_slack_encryption_key=first.settings.coder_slack_encryption_key,
    )
    oauth_sim.create_workspace_direct("alice", "python-ds", "shared-ws", running=True)
    sign_in(first, standin)

    _, request = second.ask("list")
    assert "alice/shared-ws" in rendered(answer(standin, request))
    _, request = first.ask("logout")
    answer(standin, request)
    _, request = second.ask("list")
    assert "Link your Coder account first" in rendered(answer(standin, request))


def test_token_form_stays_the_fallback(
    make_bot: Callable[..., BotThread], sim: SimServer, standin: SlackStandIn
) -> None:
    bot = make_bot(
        sim,
        service_token=False,
        coder_slack_coder_oauth_client_id="app",
        coder_slack_coder_oauth_client_secret=SecretStr("secret-of-the-app"),
        coder_slack_coder_oauth_redirect_url=PENDING,
    )
    response = bot.command("login")  # the sim's oauth2 experiment is off: discovery answers 404
    assert response.status_code == 200
    opened = standin.wait_for("views.open", lambda c: c.ok)
    assert opened.response["view"]["callback_id"] == "link_account"

    sim.set_oauth2(enabled=True)
    bot.command("login token")  # asked for the form although Coder offers the sign-in
    standin.wait_for("views.open", lambda c: c.ok and c.seq > opened.seq)


def test_pasted_token_refused_by_coder_is_refused_at_the_next_command(
    make_bot: Callable[..., BotThread], sim: SimServer, standin: SlackStandIn
) -> None:
    from coder_slack.views.modals import TOKEN_BLOCK

    bot = make_bot(sim, service_token=False)
    bot.command("login", user="U0BOB")
    view = standin.wait_for("views.open", lambda c: c.ok).response["view"]
    bot.post(bot.requests.view_submission(view, {TOKEN_BLOCK: sim.user_tokens["bob"]}, user_id="U0BOB"))
    standin.wait_for("chat.postEphemeral", lambda c: "Linked" in c.args["text"])
    _, request = bot.ask("list", user="U0BOB")
    assert "Link your" not in rendered(answer(standin, request))

    store = sim.context.store
    user = store.user_by_name("bob")
    assert user is not None
    sim.run_on_loop(lambda: store.set_token(user, "Revokedxxx-aaaaaaaaaaaaaaaaaaaaaa"))
    _, request = bot.ask("list", user="U0BOB")
    assert "no longer accepts your linked token" in rendered(answer(standin, request))


def test_a_changed_coder_role_counts_at_the_next_command(
    bot: BotThread, sim: SimServer, standin: SlackStandIn
) -> None:
    sim.create_workspace_direct("alice", "python-ds", "dev", running=True)
    _, request = bot.ask("extend alice/dev 1h", user="U0BOB")
    assert "belongs to alice" in rendered(answer(standin, request))
    store = sim.context.store
    bob = store.user_by_name("bob")
    assert bob is not None
    sim.run_on_loop(lambda: setattr(bob, "is_owner", True))
    _, request = bot.ask("extend alice/dev 1h", user="U0BOB")
    assert "will now stop at" in rendered(answer(standin, request))
    sim.run_on_loop(lambda: setattr(bob, "is_owner", False))
    _, request = bot.ask("extend alice/dev 1h", user="U0BOB")
    assert "belongs to alice" in rendered(answer(standin, request))


def test_register_coder_app_explains_what_is_wrong(sim: SimServer) -> None:
    callback = "https://bot.example.com" + CALLBACK_PATH
    owner = Settings(coder_url=sim.url, coder_session_token=SecretStr(sim.token))
    with pytest.raises(ValueError, match="CODER_EXPERIMENTS=oauth2"):
        register_coder_app(owner, "coder-slack", callback)
    sim.set_oauth2(enabled=True)
    member = Settings(coder_url=sim.url, coder_session_token=SecretStr(sim.user_tokens["alice"]))
    with pytest.raises(ValueError, match="owner's token"):
        register_coder_app(member, "coder-slack", callback)
    with pytest.raises(ValueError, match="ending in /coder/oauth/callback"):
        register_coder_app(owner, "coder-slack", "https://bot.example.com/elsewhere")
    first = register_coder_app(owner, "coder-slack", callback)
    again = register_coder_app(owner, "coder-slack", callback)  # reuses the app, with a new secret
    ids = [
        line
        for line in (first + "\n" + again).splitlines()
        if line.startswith("CODER_SLACK_CODER_OAUTH_CLIENT_ID")
    ]
    assert len(set(ids)) == 1
    assert len(sim.context.store.oauth2.apps) == 1


def test_config_needs_all_three_settings() -> None:
    partial = Settings(coder_slack_coder_oauth_client_id="x", coder_slack_coder_oauth_redirect_url=PENDING)
    assert CoderOAuthConfig.from_settings(partial) is None


def test_rotate_key_re_encrypts_refresh_tokens_too(
    make_bot: Callable[..., BotThread], oauth_sim: SimServer, standin: SlackStandIn
) -> None:
    bot = start_bot(make_bot, oauth_sim)
    sign_in(bot, standin)
    old = bot.settings.coder_slack_encryption_key.get_secret_value()
    new = generate_key()
    report = rotate_link_tokens(bot.settings.coder_slack_database_url, TokenCipher(f"{new},{old}"))
    assert (report.rotated, report.grants_rotated, report.grants_undecryptable) == (1, 1, 0)
    _, grants, _ = bot.run(_rows(bot))
    [access] = live_tokens(oauth_sim)
    refresh = oauth_sim.context.store.oauth2.grants_by_access[access].refresh_token
    assert TokenCipher(new).decrypt(grants[0].refresh_token_ciphertext) == refresh


@pytest.mark.postgres
def test_one_state_wins_once_under_concurrent_callbacks_on_postgres(
    make_bot: Callable[..., BotThread], oauth_sim: SimServer, standin: SlackStandIn, postgres_url: str
) -> None:
    bot = start_bot(make_bot, oauth_sim, coder_slack_database_url=postgres_url)
    callback = allow(login_link(bot, standin), "alice")
    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = sorted(pool.map(lambda _: httpx.get(callback, timeout=20).status_code, range(6)))
    assert statuses == [200, 400, 400, 400, 400, 400]
    assert token_requests(oauth_sim) == [["authorization_code", "ok"]]
    _, request = bot.ask("list")
    assert "Link your" not in rendered(answer(standin, request))


def test_signing_in_again_gives_the_earlier_grant_back_and_deny_is_explained(
    make_bot: Callable[..., BotThread], oauth_sim: SimServer, standin: SlackStandIn
) -> None:
    bot = start_bot(make_bot, oauth_sim)
    sign_in(bot, standin)
    sign_in(bot, standin)
    state = oauth_sim.oauth2_state()
    assert (state["live_grants"], state["revoked"]) == (1, 1)

    link = login_link(bot, standin)
    real_state = link.split("state=", 1)[1].split("&", 1)[0]
    denied = httpx.get(
        f"http://127.0.0.1:{bot.server.port}{CALLBACK_PATH}?error=access_denied&state={real_state}",
        timeout=10,
    )
    assert denied.status_code == 400 and "you declined" in denied.text
    assert bot.run(_rows(bot))[2] == 0  # that state is used up too
    _, request = bot.ask("list")
    assert "Link your" not in rendered(answer(standin, request))  # still signed in from before


def test_socket_mode_serves_the_callback_on_its_ops_port(
    make_bot: Callable[..., BotThread], oauth_sim: SimServer
) -> None:
    from coder_slack.server import build_ops_app

    bot = start_bot(make_bot, oauth_sim)
    ops_app = build_ops_app(bot.bot, watchdog=None)  # type: ignore[arg-type]
    paths = {resource.canonical for resource in ops_app.router.resources()}
    assert CALLBACK_PATH in paths
    plain = make_bot(oauth_sim)  # no OAuth2 app configured: no callback route
    plain_app = build_ops_app(plain.bot, watchdog=None)  # type: ignore[arg-type]
    assert CALLBACK_PATH not in {resource.canonical for resource in plain_app.router.resources()}


def test_sign_in_within_a_slack_oauth_install_answers_with_that_teams_token(
    make_bot: Callable[..., BotThread], oauth_sim: SimServer, standin: SlackStandIn
) -> None:
    from test_oauth_install import SECOND, install, oauth_bot

    def slack_oauth_bot(sim: SimServer, **settings: Any) -> BotThread:
        return oauth_bot(make_bot, standin, sim, **settings)

    bot = start_bot(slack_oauth_bot, oauth_sim)
    install(bot, TEAM_ID)
    install(bot, SECOND)
    request = bot.requests.command("login", user_id="U0ALICE", channel_id="C0TWO", team_id=SECOND)
    bot.post(request)
    callback = allow(_button_url(answer(standin, request)), "alice")
    assert httpx.get(callback, timeout=10).status_code == 200
    told = standin.wait_for("chat.postEphemeral", lambda c: "Signed in with Coder" in c.args.get("text", ""))
    assert told.token in standin.oauth.tokens_of(SECOND)
    links, _, _ = bot.run(_rows(bot))
    assert [(row.team_id, row.coder_username) for row in links] == [(SECOND, "alice")]
