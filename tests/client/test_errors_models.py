from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
from coder_client import (
    CoderAPIError,
    Conflict,
    LifecycleState,
    NotFound,
    RateLimited,
    ServerError,
    Unauthorized,
    ValidationFailed,
    Workspace,
    WorkspaceAgent,
    WorkspaceStatus,
)
from coder_client.redaction import register_secret
from coder_client.retry import RetryPolicy
from coder_client.transport import api_error


def response(status: int, body: object, **headers: str) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(body).encode(), headers=headers)


def test_error_mapping_keeps_coders_words() -> None:
    error = api_error(
        "PUT",
        "/api/v2/workspaces/x/ttl",
        response(
            400,
            {
                "message": "Error updating workspace time until shutdown.",
                "validations": [
                    {"field": "ttl_ms", "detail": "time until shutdown must be at least one minute"}
                ],
            },
        ),
    )
    assert isinstance(error, ValidationFailed)
    assert error.validations[0].field == "ttl_ms"
    text = str(error)
    assert text.startswith("Coder refused PUT /api/v2/workspaces/x/ttl (400 Bad Request): Error updating")
    assert "ttl_ms: time until shutdown must be at least one minute" in text


def test_each_status_maps_to_its_class() -> None:
    for status, cls in [
        (401, Unauthorized),
        (404, NotFound),
        (409, Conflict),
        (429, RateLimited),
        (503, ServerError),
    ]:
        assert type(api_error("GET", "/p", response(status, {"message": "m"}))) is cls
    assert type(api_error("GET", "/p", response(418, {"message": "m"}))) is CoderAPIError


def test_rate_limited_reads_retry_after() -> None:
    error = api_error("GET", "/p", response(429, {"message": "slow down"}, **{"Retry-After": "7"}))
    assert isinstance(error, RateLimited) and error.retry_after == 7
    assert "Wait 7 s" in str(error)


def test_token_never_appears_in_error_text() -> None:
    register_secret("tok3n-s3cret-value")
    error = api_error(
        "GET", "/p", response(401, {"message": "bad key tok3n-s3cret-value", "detail": "tok3n-s3cret-value"})
    )
    assert "tok3n-s3cret-value" not in str(error)
    assert "coder login" in str(error)


def test_non_json_error_body_still_reads_well() -> None:
    error = api_error("GET", "/p", httpx.Response(502, content=b"<html>bad gateway</html>"))
    assert isinstance(error, ServerError) and "bad gateway" in str(error)


def test_retry_policy_only_retries_idempotent_methods() -> None:
    policy = RetryPolicy()
    busy = response(503, {"message": "busy"})
    assert policy.delay_after_response("GET", 1, busy) is not None
    assert policy.delay_after_response("PUT", 1, busy) is not None
    assert policy.delay_after_response("POST", 1, busy) is None
    assert policy.delay_after_response("GET", policy.max_attempts, busy) is None
    assert policy.delay_after_error("POST", 1, httpx.ReadError("x")) is None
    assert policy.delay_after_error("POST", 1, httpx.ConnectError("x")) is not None  # nothing was sent


def test_retry_waits_are_bounded_and_follow_retry_after() -> None:
    policy = RetryPolicy(backoff=0.5, max_backoff=4)
    delays = [policy.backoff_delay(n) for n in range(1, 10)]
    assert all(0 < d <= 4 for d in delays) and max(delays) > 1
    assert 2 <= policy.delay_after_response("GET", 1, response(429, {}, **{"Retry-After": "2"})) <= 2.5  # type: ignore[operator]
    assert policy.delay_after_response("GET", 1, response(429, {}, **{"Retry-After": "600"})) is None


def test_x_ratelimit_reset_is_judged_by_the_servers_clock() -> None:
    server_now = datetime(2030, 1, 1, tzinfo=UTC)
    headers = {
        "X-Ratelimit-Reset": str(int(server_now.timestamp()) + 3),
        "Date": "Tue, 01 Jan 2030 00:00:00 GMT",
    }
    delay = RetryPolicy().delay_after_response("GET", 1, response(429, {}, **headers))
    assert delay is not None and 2.5 <= delay <= 4.5


OLD_AGENT = {
    "id": "a1",
    "name": "main",
    "status": "connected",
    "lifecycle_state": "ready",
    "startup_logs_length": 12,
    "startup_logs_overflowed": True,
    "started_at": "2023-07-05T10:00:05Z",
    "ready_at": "2023-07-05T10:02:41.5+02:00",
    "login_before_ready": False,
}


def test_both_eras_field_names_are_read() -> None:
    old = WorkspaceAgent.model_validate(OLD_AGENT)
    new = WorkspaceAgent.model_validate(
        {"id": "a1", "logs_length": 3, "logs_overflowed": False, "unknown": 1}
    )
    assert (old.logs_length, old.logs_overflowed) == (12, True)
    assert (new.logs_length, new.logs_overflowed) == (3, False)
    assert old.ready_at is not None and old.ready_at.tzinfo is not None


def test_unknown_enum_values_and_nulls_do_not_crash() -> None:
    workspace = Workspace.model_validate(
        {
            "id": "w",
            "name": "n",
            "latest_build": {
                "id": "b",
                "status": "hibernating",
                "deadline": "0001-01-01T00:00:00Z",
                "max_deadline": None,
                "resources": None,
                "job": {"status": "succeeded"},
            },
            "ttl_ms": None,
            "brand_new_field": {"x": 1},
        }
    )
    assert workspace.status == "hibernating" and isinstance(workspace.status, WorkspaceStatus)
    assert workspace.latest_build.deadline is None and workspace.agents == []
    assert WorkspaceAgent.model_validate({"id": "a", "lifecycle_state": "paused"}).lifecycle_state == "paused"
    assert LifecycleState("ready") is LifecycleState.READY
