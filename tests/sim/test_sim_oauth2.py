"""coder-sim as Coder's OAuth2 provider (experiment oauth2): discovery, apps, authorize, tokens, revoke."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from coder_sim import SimServer
from sim_helpers import api

CALLBACK = "http://127.0.0.1:9/coder/oauth/callback"


def challenge_of(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


@pytest.fixture
def oauth_sim(make_sim: Any) -> SimServer:
    sim: SimServer = make_sim(era="v2", oauth2=True)
    return sim


def register(sim: SimServer, callback: str = CALLBACK) -> tuple[str, str]:
    with api(sim) as admin:
        app = admin.post("/oauth2-provider/apps", json={"name": "coder-slack", "callback_url": callback})
        assert app.status_code == 200, app.text
        secret = admin.post(f"/oauth2-provider/apps/{app.json()['id']}/secrets")
        assert secret.status_code == 200, secret.text
    return app.json()["id"], secret.json()[0]["client_secret_full"]


def authorize(
    sim: SimServer,
    client_id: str,
    verifier: str,
    *,
    user: str = "alice",
    redirect: str = CALLBACK,
    **extra: str,
) -> httpx.Response:
    params = {
        "client_id": client_id,
        "response_type": "code",
        "redirect_uri": redirect,
        "state": "st-1",
        "code_challenge": challenge_of(verifier),
        "code_challenge_method": "S256",
        "sim_user": user,
        **extra,
    }
    return httpx.get(sim.url + "/oauth2/authorize", params=params, timeout=10)


def code_from(response: httpx.Response) -> str:
    assert response.status_code == 302, response.text
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["state"] == ["st-1"]
    return query["code"][0]


def exchange(sim: SimServer, client_id: str, secret: str, code: str, verifier: str) -> httpx.Response:
    return httpx.post(
        sim.url + "/oauth2/tokens",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "client_id": client_id,
            "client_secret": secret,
            "code_verifier": verifier,
        },
        timeout=10,
    )


def me(sim: SimServer, token: str) -> httpx.Response:
    return httpx.get(sim.api_url + "/users/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)


def test_discovery_answers_404_while_the_experiment_is_off(sim: SimServer) -> None:
    assert httpx.get(sim.url + "/.well-known/oauth-authorization-server").status_code == 404
    with api(sim) as admin:
        assert admin.get("/oauth2-provider/apps").status_code == 404
    sim.set_oauth2(enabled=True)
    found = httpx.get(sim.url + "/.well-known/oauth-authorization-server").json()
    assert found["authorization_endpoint"] == sim.url + "/oauth2/authorize"
    assert found["token_endpoint"] == sim.url + "/oauth2/tokens"
    assert found["code_challenge_methods_supported"] == ["S256"]


def test_v025_has_no_provider(sim_v025: SimServer) -> None:
    assert httpx.get(sim_v025.url + "/.well-known/oauth-authorization-server").status_code == 404
    with pytest.raises(ValueError, match="v2 era"):
        sim_v025.set_oauth2(enabled=True)


def test_apps_are_for_owners(oauth_sim: SimServer) -> None:
    with api(oauth_sim, "alice") as member:
        refused = member.post("/oauth2-provider/apps", json={"name": "x", "callback_url": CALLBACK})
    assert refused.status_code == 403
    app_id, _ = register(oauth_sim)
    with api(oauth_sim) as admin:
        listed = admin.get("/oauth2-provider/apps").json()
        secrets_listed = admin.get(f"/oauth2-provider/apps/{app_id}/secrets").json()
        bad = admin.post("/oauth2-provider/apps", json={"name": "", "callback_url": "nope"})
    assert [app["callback_url"] for app in listed] == [CALLBACK]
    assert secrets_listed[0]["client_secret_truncated"].endswith("…")
    assert bad.status_code == 400 and {v["field"] for v in bad.json()["validations"]} == {
        "name",
        "callback_url",
    }


def test_code_flow_with_pkce_gives_a_session_token_of_the_user(oauth_sim: SimServer) -> None:
    client_id, secret = register(oauth_sim)
    verifier = secrets.token_urlsafe(48)
    code = code_from(authorize(oauth_sim, client_id, verifier))
    tokens = exchange(oauth_sim, client_id, secret, code, verifier)
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 3000 and body["refresh_token"]
    assert me(oauth_sim, body["access_token"]).json()["username"] == "alice"
    replay = exchange(oauth_sim, client_id, secret, code, verifier)  # codes are single use
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"


def test_wrong_verifier_secret_or_redirect_is_refused(oauth_sim: SimServer) -> None:
    client_id, secret = register(oauth_sim)
    verifier = secrets.token_urlsafe(48)
    code = code_from(authorize(oauth_sim, client_id, verifier))
    wrong_verifier = exchange(oauth_sim, client_id, secret, code, secrets.token_urlsafe(48))
    assert wrong_verifier.json()["error"] == "invalid_grant"
    code = code_from(authorize(oauth_sim, client_id, verifier))
    wrong_secret = exchange(oauth_sim, client_id, "coder_not-the-secret", code, verifier)
    assert wrong_secret.status_code == 401 and wrong_secret.json()["error"] == "invalid_client"
    elsewhere = authorize(oauth_sim, client_id, verifier, redirect=CALLBACK + "/../evil")
    assert elsewhere.status_code == 400  # never redirected to an unregistered URI
    no_pkce = authorize(oauth_sim, client_id, verifier, code_challenge_method="plain")
    assert no_pkce.status_code == 302 and "error=invalid_request" in no_pkce.headers["location"]


def test_consent_page_and_form_post(oauth_sim: SimServer) -> None:
    client_id, secret = register(oauth_sim)
    verifier = secrets.token_urlsafe(48)
    params = {
        "client_id": client_id,
        "response_type": "code",
        "redirect_uri": CALLBACK,
        "state": "st-1",
        "code_challenge": challenge_of(verifier),
        "code_challenge_method": "S256",
    }
    page = httpx.get(oauth_sim.url + "/oauth2/authorize", params=params)
    assert page.status_code == 200 and "Allow" in page.text and 'value="bob"' in page.text
    allowed = httpx.post(oauth_sim.url + "/oauth2/authorize", params=params, data={"sim_user": "bob"})
    code = code_from(allowed)
    token = exchange(oauth_sim, client_id, secret, code, verifier).json()["access_token"]
    assert me(oauth_sim, token).json()["username"] == "bob"


def test_refresh_rotates_and_revoke_ends_the_grant(oauth_sim: SimServer) -> None:
    oauth_sim.set_oauth2(enabled=True, access_token_lifetime=60)
    client_id, secret = register(oauth_sim)
    verifier = secrets.token_urlsafe(48)
    first = exchange(
        oauth_sim, client_id, secret, code_from(authorize(oauth_sim, client_id, verifier)), verifier
    )
    pair = first.json()
    assert pair["expires_in"] <= 60
    refreshed = httpx.post(
        oauth_sim.url + "/oauth2/tokens",
        data={"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]},
        auth=(client_id, secret),
    )
    assert refreshed.status_code == 200, refreshed.text
    new = refreshed.json()
    assert me(oauth_sim, pair["access_token"]).status_code == 401  # the old pair is gone
    assert me(oauth_sim, new["access_token"]).status_code == 200
    oauth_sim.advance_clock(61)
    assert me(oauth_sim, new["access_token"]).status_code == 401  # expired by the sim's clock
    again = httpx.post(
        oauth_sim.url + "/oauth2/tokens",
        data={
            "grant_type": "refresh_token",
            "refresh_token": new["refresh_token"],
            "client_id": client_id,
            "client_secret": secret,
        },
    ).json()
    assert me(oauth_sim, again["access_token"]).status_code == 200
    revoked = httpx.post(
        oauth_sim.url + "/oauth2/revoke",
        data={"token": again["refresh_token"], "client_id": client_id, "client_secret": secret},
    )
    assert revoked.status_code == 200
    assert me(oauth_sim, again["access_token"]).status_code == 401
    state = oauth_sim.oauth2_state()
    assert state["revoked"] == 1 and state["live_grants"] == 0
    assert [outcome for _, outcome in state["token_requests"]] == ["ok", "ok", "ok"]


def test_cli_knows_the_oauth2_experiment_only(capsys: pytest.CaptureFixture[str]) -> None:
    from coder_sim.cli import main

    with pytest.raises(SystemExit) as unknown:
        main(["--experiments", "oauth2,teleport"])
    assert unknown.value.code == 2 and "unknown experiment(s) teleport" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--era", "v0.25", "--experiments", "oauth2"])
    assert "needs the v2 era" in capsys.readouterr().err
