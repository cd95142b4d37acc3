from __future__ import annotations

import httpx
from coder_sim import SimServer


def test_users_me_answers_with_the_admin(sim_any: SimServer) -> None:
    response = httpx.get(sim_any.url + "/api/v2/users/me", headers={"Coder-Session-Token": sim_any.token})
    assert response.status_code == 200
    assert response.json()["username"] == "admin"
    assert response.json()["email"] == "admin@example.com"
