"""The form route with dynamic parameters: ``POST templates/{name}/form`` evaluates the answers so far."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from tornado.httpclient import HTTPResponse

Fetch = Callable[..., Awaitable[HTTPResponse]]


async def form(fetch: Fetch, template: str, inputs: dict[str, str] | None = None) -> tuple[int, Any]:
    if inputs is None:
        response = await fetch("coder", "api", "templates", template, "form", raise_error=False)
    else:
        response = await fetch(
            "coder",
            "api",
            "templates",
            template,
            "form",
            method="POST",
            body=json.dumps({"inputs": inputs}),
            raise_error=False,
        )
    return response.code, json.loads(response.body or b"null")


async def test_answers_reveal_and_invalidate_fields(jp_fetch: Fetch) -> None:
    status, first = await form(jp_fetch, "gpu-lab")
    assert status == 200 and first["dynamic"] is True and first["problems"] == []
    assert [f["name"] for f in first["fields"]] == ["region", "instance_size", "gpu"]
    status, with_gpu = await form(jp_fetch, "gpu-lab", {"gpu": "true"})
    assert status == 200 and [f["name"] for f in with_gpu["fields"]][-1] == "gpu_type"
    status, in_eu = await form(jp_fetch, "gpu-lab", {"region": "eu", "instance_size": "xl"})
    size = {f["name"]: f for f in in_eu["fields"]}["instance_size"]
    assert size["value"] == "xl" and "small, large" in size["diagnostic"]
    assert [value for _, value in size["options"]] == ["small", "large"]


async def test_a_classic_template_is_checked_the_same_way(jp_fetch: Fetch) -> None:
    status, classic = await form(jp_fetch, "python-ds", {"memory_gb": "128"})
    assert status == 200 and classic["dynamic"] is False
    memory = {f["name"]: f for f in classic["fields"]}["memory_gb"]
    assert "64" in memory["diagnostic"]


@pytest.mark.parametrize("jupyter_sim", ["v0.25"], indirect=True)
async def test_old_coder_answers_with_the_classic_form(jp_fetch: Fetch) -> None:
    status, old = await form(jp_fetch, "gpu-lab", {"gpu": "true"})
    assert status == 200 and old["dynamic"] is False
    assert [f["name"] for f in old["fields"]] == ["region", "instance_size", "gpu"]
