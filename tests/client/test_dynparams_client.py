"""Dynamic parameters (Coder 2.24+): the form follows the answers, end to end against coder-sim v2; on
v0.25 the same calls fall back to the rich parameters (absent but harmless)."""

from __future__ import annotations

import asyncio

import aiohttp
import httpx
import pytest
from coder_client import (
    AsyncCoderClient,
    CoderClient,
    DynamicParametersResponse,
    InvalidParameters,
    NotFound,
    classic_form,
    form_of,
)
from coder_client.models import TemplateVersionParameter
from coder_sim import SimServer
from httpx_ws import WebSocketUpgradeError

GPU_LAB = "gpu-lab"
NIL = "00000000-0000-0000-0000-000000000000"


def test_a_preview_becomes_the_same_fields_as_classic_parameters() -> None:
    """Pure: Coder's evaluated form → ParameterFields with current values and diagnostics as errors."""
    response = DynamicParametersResponse.model_validate(
        {
            "id": 3,
            "diagnostics": [{"severity": "warning", "summary": "Heads up", "detail": "old provider"}],
            "parameters": [
                {
                    "name": "size",
                    "display_name": "Size",
                    "type": "string",
                    "form_type": "dropdown",
                    "order": 2,
                    "default_value": {"value": "s", "valid": True},
                    "value": {"value": "xl", "valid": True},
                    "options": [{"name": "Small", "value": {"value": "s", "valid": True}}],
                    "diagnostics": [
                        {"severity": "error", "summary": "Value must be a valid option", "detail": "not xl"}
                    ],
                },
                {
                    "name": "gpu",
                    "type": "bool",
                    "order": 1,
                    "default_value": {"value": "false", "valid": True},
                    "value": {"value": "true", "valid": True},
                    "validations": None,
                    "options": None,
                    "diagnostics": None,
                },
            ],
        }
    )
    form = form_of(response)
    assert form.dynamic and form.names() == ["gpu", "size"]  # Coder's order
    gpu, size = form.fields
    assert gpu.form == "checkbox" and gpu.initial_value is True
    assert size.form == "select" and size.options == (("Small", "s"),) and size.current == "xl"
    assert form.errors == {"size": "Value must be a valid option: not xl"}
    assert form.warnings == ("Heads up: old provider",) and not form.ok
    with pytest.raises(InvalidParameters, match="size: Value must be a valid option"):
        form.validate("t", {"size": "xl", "gpu": True})


def test_classic_form_checks_inputs_with_the_same_rules() -> None:
    cpu = TemplateVersionParameter(name="cpu", type="number", validation_min=1, validation_max=8)
    form = classic_form([cpu], {"cpu": "64"})
    assert not form.dynamic and form.fields[0].current == "64"
    assert "at most 8" in form.errors["cpu"]
    assert classic_form([cpu], {"cpu": 4}).ok


def test_choosing_answers_reveals_and_invalidates_fields(sim: SimServer) -> None:
    with CoderClient(sim.url, sim.token) as coder:
        assert coder.capabilities().dynamic_parameters
        assert coder.templates.get(GPU_LAB).use_classic_parameter_flow is False
        first = coder.templates.form(GPU_LAB)
        assert first.dynamic and first.names() == ["region", "instance_size", "gpu"] and first.ok
        with_gpu = coder.templates.form(GPU_LAB, {"gpu": True})
        assert with_gpu.names() == ["region", "instance_size", "gpu", "gpu_type"]
        assert with_gpu.field("gpu_type") is not None and with_gpu.field("gpu_type").current == "t4"  # type: ignore[union-attr]
        assert coder.templates.form(GPU_LAB, {"region": "us", "instance_size": "xl"}).ok
        in_eu = coder.templates.form(GPU_LAB, {"region": "eu", "instance_size": "xl"})
        assert set(in_eu.errors) == {"instance_size"} and "small, large" in in_eu.errors["instance_size"]
        assert in_eu.field("instance_size").options == (  # type: ignore[union-attr]
            ("Small (2 cores)", "small"),
            ("Large (8 cores)", "large"),
        )
        # a classic template through the same call
        classic = coder.templates.form("python-ds", {"memory_gb": 128})
        assert not classic.dynamic and "64" in classic.errors["memory_gb"]


def test_create_checks_a_dynamic_template_with_coder(sim: SimServer) -> None:
    with CoderClient(sim.url, sim.token) as coder:
        with pytest.raises(InvalidParameters) as refused:
            coder.workspaces.create("eu-xl", GPU_LAB, {"region": "eu", "instance_size": "xl"})
        assert [e.field for e in refused.value.errors] == ["instance_size"]
        with pytest.raises(InvalidParameters, match="gpu_type: this template has no such parameter now"):
            coder.workspaces.create("no-gpu", GPU_LAB, {"gpu_type": "a100"})
        ws = coder.workspaces.create("gpu-box", GPU_LAB, {"gpu": True, "gpu_type": "a100", "region": "eu"})
        assert ws.template_name == GPU_LAB


def test_coder_refuses_a_build_whose_form_has_errors(sim: SimServer) -> None:
    """The sim itself (what a client that skips the check meets): 400 with the field named."""
    with CoderClient(sim.url, sim.token) as coder:
        template = coder.templates.get(GPU_LAB)
    body = {
        "template_id": template.id,
        "name": "raw-eu-xl",
        "rich_parameter_values": [
            {"name": "region", "value": "eu"},
            {"name": "instance_size", "value": "xl"},
        ],
    }
    answer = httpx.post(
        f"{sim.url}/api/v2/users/me/workspaces", json=body, headers={"Coder-Session-Token": sim.token}
    )
    assert answer.status_code == 400
    assert [v["field"] for v in answer.json()["validations"]] == ["instance_size"]


def test_the_websocket_answers_each_request_by_id(sim: SimServer) -> None:
    with CoderClient(sim.url, sim.token) as coder:
        version = coder.templates.get(GPU_LAB).active_version_id
    url = f"{sim.url}/api/v2/templateversions/{version}/dynamic-parameters"

    async def main() -> None:
        async with (
            aiohttp.ClientSession(headers={"Coder-Session-Token": sim.token}) as session,
            session.ws_connect(url) as socket,
        ):
            initial = await socket.receive_json(timeout=10)
            assert initial["id"] == -1 and [p["name"] for p in initial["parameters"]][-1] == "gpu"
            await socket.send_json({"id": 7, "owner_id": NIL, "inputs": {"gpu": "true"}})
            answer = DynamicParametersResponse.model_validate(await socket.receive_json(timeout=10))
            assert answer.id == 7 and form_of(answer).names()[-1] == "gpu_type"

    asyncio.run(main())


def test_async_client_evaluates_too(sim: SimServer) -> None:
    async def main() -> None:
        async with AsyncCoderClient(sim.url, sim.token) as coder:
            template = await coder.templates.get(GPU_LAB)
            answer = await coder.templates.evaluate_parameters(
                template.active_version_id, {"region": "eu", "instance_size": "xl"}, owner="alice"
            )
            assert form_of(answer).errors.keys() == {"instance_size"}
            form = await coder.templates.form(GPU_LAB, {"gpu": "true"})
            assert "gpu_type" in form.names()

    asyncio.run(main())


def test_absent_but_harmless_on_v025(sim_v025: SimServer) -> None:
    with CoderClient(sim_v025.url, sim_v025.token) as coder:
        assert not coder.capabilities().dynamic_parameters
        form = coder.templates.form(GPU_LAB, {"gpu": True})
        assert not form.dynamic and form.names() == ["region", "instance_size", "gpu"]
        ws = coder.workspaces.create("old-gpu", GPU_LAB, {"instance_size": "large"})
        assert ws.template_name == GPU_LAB
        template = coder.templates.get(GPU_LAB)
        with pytest.raises(NotFound):
            coder.templates.evaluate_parameters(template.active_version_id, {})
        assert not coder.capabilities().dynamic_parameters


def test_a_websocket_session_evaluates_answer_after_answer(sim: SimServer) -> None:
    async def main() -> None:
        async with AsyncCoderClient(sim.url, sim.token) as coder:
            version = (await coder.templates.get(GPU_LAB)).active_version_id
            async with coder.templates.parameters_session(version) as session:
                assert form_of(session.initial).names() == ["region", "instance_size", "gpu"]
                revealed = await session.form({"gpu": True})
                assert revealed.names()[-1] == "gpu_type"
                refused = await session.form({"gpu": True, "region": "eu", "instance_size": "xl"})
                assert set(refused.errors) == {"instance_size"}

    asyncio.run(main())


def test_a_websocket_session_on_old_coder_turns_the_feature_off(sim_v025: SimServer) -> None:
    async def main() -> None:
        async with AsyncCoderClient(sim_v025.url, sim_v025.token) as coder:
            version = (await coder.templates.get(GPU_LAB)).active_version_id
            with pytest.raises(WebSocketUpgradeError):
                async with coder.templates.parameters_session(version):
                    pass
            assert not (await coder.capabilities()).dynamic_parameters

    asyncio.run(main())
