"""A dynamic-parameters session over Coder's WebSocket (``GET /templateversions/{id}/dynamic-parameters``).

Where a form is evaluated many times in a row (a person answering one field after another), one socket
saves a request per answer: Coder sends the form for no inputs at once (``id`` -1), then answers each
``{id, owner_id, inputs}`` with the same ``id``. Answers to requests a later one superseded are skipped.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from ._websocket import WebSocketReader, open_websocket
from .dynamic import DynamicParametersResponse, ParameterForm, coder_inputs, form_of

__all__ = ["DynamicParametersSession", "open_parameters_session"]

ANSWER_TIMEOUT = 30.0


class DynamicParametersSession:
    """Ask with the answers so far; get the form Coder evaluated for them."""

    def __init__(self, reader: WebSocketReader, owner_id: str, initial: DynamicParametersResponse) -> None:
        self._reader = reader
        self._owner_id = owner_id
        self._last_id = 0
        self.initial = initial  # the form for no inputs, sent by Coder on connect

    async def evaluate(self, inputs: Mapping[str, Any]) -> DynamicParametersResponse:
        self._last_id += 1
        wanted = self._last_id
        request = {"id": wanted, "owner_id": self._owner_id, "inputs": coder_inputs(inputs)}
        await self._reader.send_json(request)
        while True:
            answer = DynamicParametersResponse.model_validate(await self._reader.receive_json(ANSWER_TIMEOUT))
            if answer.id == wanted:
                return answer

    async def form(self, inputs: Mapping[str, Any]) -> ParameterForm:
        return form_of(await self.evaluate(inputs))


@contextlib.asynccontextmanager
async def open_parameters_session(
    client: httpx.AsyncClient, path: str, owner_id: str
) -> AsyncIterator[DynamicParametersSession]:
    async with open_websocket(client, path) as reader:
        initial = DynamicParametersResponse.model_validate(await reader.receive_json(ANSWER_TIMEOUT))
        yield DynamicParametersSession(reader, owner_id, initial)
