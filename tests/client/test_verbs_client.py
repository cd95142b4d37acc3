"""coder_client's part of the verbs (issue 13): a workspace's logs as people read them (both eras, sync and
async), and Coder's refusals of rename / cancel / delete in plain words."""

from __future__ import annotations

import asyncio

import pytest
from coder_client import (
    AsyncCoderClient,
    CoderAPIError,
    CoderClient,
    Conflict,
    Forbidden,
    ValidationFailed,
    plain_refusal,
    refusal_text,
)
from coder_sim import SimServer
from secret_samples import SECRET_SAMPLES


def test_logs_of_a_workspace_both_logs_redacted(sim_any: SimServer) -> None:
    workspace_id = sim_any.create_workspace_direct("alice", "python-ds", "logs", running=True)
    with CoderClient(sim_any.url, sim_any.token) as coder:
        agent = coder.workspaces.get(workspace_id).latest_build.agents[0]
        sim_any.append_agent_logs(agent.id, "\n".join(text for text, _, _ in SECRET_SAMPLES))
        logs = coder.workspaces.logs(workspace_id)
    assert logs.workspace.id == workspace_id and logs.agent_name == agent.name
    assert len(logs.startup_log) >= len(SECRET_SAMPLES)  # a seeded workspace has no provisioner log
    document = logs.text()
    for text, secret, kept in SECRET_SAMPLES:
        assert secret not in document, text
        assert kept in document, text
    assert document.startswith(f"# alice/logs: build #{logs.build_number}")
    assert logs.tail(3).startup_log == logs.startup_log[-3:]


def test_logs_of_a_failed_build_have_no_agent_log(sim_any: SimServer) -> None:
    async def read() -> None:
        async with AsyncCoderClient(sim_any.url, sim_any.token) as coder:
            workspace = await coder.workspaces.create("nope", "failing-build")
            async for snapshot in coder.workspaces.watch(workspace):
                if not snapshot.latest_build.job.status.active:
                    break
            logs = await coder.workspaces.logs(workspace)
            assert logs.agent_name is None and logs.startup_log == []
            assert any("quota" in line for line in logs.build_log)
            assert "Startup log" not in logs.text()

    asyncio.run(read())


def _error(kind: type[CoderAPIError], status: int, message: str) -> CoderAPIError:
    return kind(status_code=status, message=message, method="PATCH", path="/api/v2/workspaces/x")


@pytest.mark.parametrize(
    ("verb", "error", "says"),
    [
        (
            "rename",
            _error(ValidationFailed, 400, "Workspace renames are not allowed."),
            "does not allow renaming",
        ),
        ("rename", _error(Conflict, 409, 'Workspace "b" already exists.'), "`b` is already the name"),
        (
            "rename",
            _error(CoderAPIError, 405, 'Workspace "a" is deleted and cannot be updated.'),
            "is deleted",
        ),
        (
            "cancel",
            _error(Forbidden, 403, "User is not allowed to cancel workspace builds. Owner role is required."),
            "does not let workspace owners cancel builds",
        ),
        ("cancel", _error(ValidationFailed, 400, "Job has already completed!"), "nothing left to cancel"),
        ("delete", _error(Conflict, 409, "A workspace build is already active."), "has a build in progress"),
    ],
)
def test_known_refusals_in_plain_words(verb: str, error: CoderAPIError, says: str) -> None:
    text = refusal_text(verb, error, "alice/a", "b")  # type: ignore[arg-type]
    assert text is not None and says in text
    plain = plain_refusal(verb, error, "alice/a", "b")  # type: ignore[arg-type]
    assert isinstance(plain, type(error)) and plain.status_code == error.status_code
    assert says in plain.message and plain.detail == error.message


def test_unknown_refusals_keep_coders_words() -> None:
    error = _error(ValidationFailed, 400, "Something else.")
    assert refusal_text("rename", error, "alice/a", "b") is None
    assert plain_refusal("rename", error, "alice/a", "b") is error
    assert refusal_text("cancel", ValueError("x"), "alice/a") is None
