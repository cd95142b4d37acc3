"""Validate the JSON the Slack stand-in (slack_sim) serves against Slack's OpenAPI document of the Web API.

The document (``specs/slack/web-api/``, an extract of slackapi/slack-api-specs; see its SOURCE.md) is made
stricter here, so that mistakes bite:
* every object rejects properties the document does not define (``additionalProperties: false``), except
  Block Kit blocks, which are the bot's own and are checked against Block Kit's limits by the stand-in;
* the document's way of writing alternatives (``items: [a, b]`` on a value that is not an array) is read as
  ``anyOf``, as its authors meant it; jsonschema would otherwise ignore it and accept anything.

Where the 2019 document no longer says what Slack sends, CORRECTIONS says what Slack documents today, with the
page that documents it. The stand-in's ids are short for readable tests (``C1``, ``D0ALICE``): the id patterns
keep their letter and alphabet, not their minimum length. Error bodies are checked for their shape, and an
error code the stand-in makes up itself must be one the method documents (the document's list, or
COMMON_ERRORS); a fault a test injects (``fail_next``, ``channel_error``) is checked for its shape only.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4
from sim_conformance import described

REPO_ROOT = Path(__file__).resolve().parent.parent
SPEC_PATH = REPO_ROOT / "specs" / "slack" / "web-api" / "slack_web_openapi_v2.extract.json"
SPEC_URI = "urn:slack-web-api"
METHODS_DOCS = "https://docs.slack.dev/reference/methods/"


def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/definitions/{name}"}


RESPONSE_METADATA = ref("objs_response_metadata")
# The View object as views.open / push / update / publish return it (docs.slack.dev/reference/views and each
# method's "Example response"); the 2019 document only says "ok".
VIEW = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "team_id", "type", "blocks", "state", "hash"],
    "properties": {
        "id": {"type": "string", "pattern": "^V[A-Z0-9]+$"},
        "team_id": ref("defs_team"),
        "type": {"enum": ["modal", "home"]},
        "title": {"type": "object"},
        "submit": {"type": "object"},
        "close": {"type": "object"},
        "blocks": ref("blocks"),
        "private_metadata": {"type": "string"},
        "callback_id": {"type": "string"},
        "external_id": {"type": "string"},
        "state": {"type": "object", "properties": {"values": {"type": "object"}}, "required": ["values"]},
        "hash": {"type": "string"},
        "clear_on_close": {"type": "boolean"},
        "notify_on_close": {"type": "boolean"},
        "submit_disabled": {"type": "boolean"},
        "root_view_id": {"type": ["string", "null"]},
        "previous_view_id": {"type": ["string", "null"]},
        "app_id": {"type": "string"},
        "app_installed_team_id": {"type": "string"},
        "bot_id": ref("defs_bot_id"),
    },
}
VIEW_ANSWER = {
    "type": "object",
    "additionalProperties": False,
    "required": ["ok", "view"],
    "properties": {"ok": ref("defs_ok_true"), "view": VIEW},
}


@dataclass(frozen=True)
class Correction:
    """Where today's Slack differs from the 2019 document: ``apply`` changes the document; ``why`` says
    what Slack documents, and ``source`` where."""

    why: str
    source: str
    apply: Callable[[dict[str, Any]], None]


def _success(document: dict[str, Any], method: str) -> dict[str, Any]:
    operation = next(iter(document["paths"]["/" + method].values()))
    schema: dict[str, Any] = operation["responses"]["200"]["schema"]
    return schema


def _add_property(method: str, name: str, schema: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    return lambda document: _success(document, method)["properties"].__setitem__(name, schema)


def _replace_success(method: str, schema: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    def apply(document: dict[str, Any]) -> None:
        next(iter(document["paths"]["/" + method].values()))["responses"]["200"]["schema"] = schema

    return apply


def _paged_messages(method: str) -> Callable[[dict[str, Any]], None]:
    def apply(document: dict[str, Any]) -> None:
        schema = _success(document, method)
        schema["properties"]["messages"] = {"type": "array", "items": ref("objs_message")}
        schema["properties"]["response_metadata"] = RESPONSE_METADATA
        schema["properties"].setdefault("has_more", {"type": "boolean"})

    return apply


def _message_metadata(document: dict[str, Any]) -> None:
    document["definitions"]["objs_message"]["properties"]["metadata"] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["event_type", "event_payload"],
        "properties": {"event_type": {"type": "string"}, "event_payload": {"type": "object"}},
    }


CORRECTIONS = (
    Correction(
        "auth.test answers a bot token with its bot_id (slack-bolt reads it to ignore the bot's own events)",
        METHODS_DOCS + "auth.test",
        _add_property("auth.test", "bot_id", ref("defs_bot_id")),
    ),
    Correction(
        "messages carry the message metadata an app attached (metadata.event_type, metadata.event_payload); "
        "history and replies return it with include_all_metadata",
        "https://docs.slack.dev/messaging/message-metadata/",
        _message_metadata,
    ),
    Correction(
        "conversations.history pages with response_metadata.next_cursor, and an empty channel answers "
        "messages: [] (the 2019 document asks for at least one message)",
        METHODS_DOCS + "conversations.history",
        _paged_messages("conversations.history"),
    ),
    Correction(
        "conversations.replies returns message objects (a bot's replies carry bot_id and blocks; only a user "
        "token that follows the thread gets 'subscribed'), pages with has_more and response_metadata",
        METHODS_DOCS + "conversations.replies",
        _paged_messages("conversations.replies"),
    ),
    *(
        Correction(
            f"{method} answers with the view it stored (id, hash, state, …)",
            METHODS_DOCS + method,
            _replace_success(method, VIEW_ANSWER),
        )
        for method in ("views.open", "views.push", "views.update", "views.publish")
    ),
)
# Methods the extract does not carry, with the answer their method page documents.
SUPPLEMENT: dict[str, dict[str, Any]] = {
    "api.test": {
        "type": "object",
        "additionalProperties": False,
        "required": ["ok"],
        "properties": {"ok": ref("defs_ok_true"), "args": {"type": "object"}},
    },
    "apps.connections.open": {
        "type": "object",
        "additionalProperties": False,
        "required": ["ok", "url"],
        "properties": {"ok": ref("defs_ok_true"), "url": {"type": "string", "pattern": "^wss?://"}},
    },
    # https://docs.slack.dev/reference/methods/oauth.v2.access ("Example response", the bot token answer),
    # and https://docs.slack.dev/authentication/using-token-rotation (refresh_token, expires_in; the same
    # shape answers grant_type=refresh_token).
    "oauth.v2.access": {
        "type": "object",
        "additionalProperties": False,
        "required": ["ok", "access_token", "token_type", "scope", "bot_user_id", "app_id", "team"],
        "properties": {
            "ok": ref("defs_ok_true"),
            "access_token": {"type": "string", "pattern": "^(xoxe\\.)?xoxb-"},
            "token_type": {"enum": ["bot"]},
            "scope": {"type": "string"},
            "bot_user_id": ref("defs_user_id"),
            "app_id": ref("defs_app_id"),
            "team": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "name"],
                "properties": {"id": ref("defs_team"), "name": {"type": "string"}},
            },
            "enterprise": {
                "type": ["object", "null"],
                "additionalProperties": False,
                "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
            },
            "authed_user": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id"],
                "properties": {
                    "id": ref("defs_user_id"),
                    "scope": {"type": "string"},
                    "access_token": {"type": "string"},
                    "token_type": {"enum": ["user"]},
                },
            },
            "is_enterprise_install": {"type": "boolean"},
            "refresh_token": {"type": "string", "pattern": "^xoxe-"},
            "expires_in": {"type": "integer", "minimum": 1},
            "incoming_webhook": {"type": "object"},
        },
    },
}
# verbs (issue 13): files_upload_v2's two Web API methods (2024; not in the 2019 document).
# https://docs.slack.dev/reference/methods/files.getUploadURLExternal ("Example response")
SUPPLEMENT["files.getUploadURLExternal"] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["ok", "upload_url", "file_id"],
    "properties": {
        "ok": ref("defs_ok_true"),
        "upload_url": {"type": "string", "pattern": "^https?://"},
        "file_id": {"type": "string", "pattern": "^F[A-Z0-9]+$"},
    },
}
# https://docs.slack.dev/reference/methods/files.completeUploadExternal ("Example response")
SUPPLEMENT["files.completeUploadExternal"] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["ok", "files"],
    "properties": {
        "ok": ref("defs_ok_true"),
        "files": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id"],
                "properties": {
                    "id": {"type": "string", "pattern": "^F[A-Z0-9]+$"},
                    "title": {"type": "string"},
                },
            },
        },
    },
}
# Errors every method's page lists besides its own ("Errors" table on docs.slack.dev/reference/methods/…;
# ratelimited: docs.slack.dev/apis/web-api/rate-limits), and the ones the stand-in's checks give for the
# methods that take Block Kit or a trigger.
COMMON_ERRORS = frozenset(
    {
        "access_denied",
        "account_inactive",
        "fatal_error",
        "internal_error",
        "invalid_arguments",
        "invalid_auth",
        "missing_scope",
        "not_authed",
        "ratelimited",
        "request_timeout",
        "service_unavailable",
        "token_revoked",
        # https://docs.slack.dev/authentication/using-token-rotation: an expired rotating token
        "token_expired",
        "unknown_method",
    }
)
METHOD_ERRORS: dict[str, frozenset[str]] = {
    "chat.postMessage": frozenset({"invalid_blocks", "invalid_blocks_format"}),
    "chat.postEphemeral": frozenset({"invalid_blocks", "invalid_blocks_format"}),
    "chat.update": frozenset({"invalid_blocks", "invalid_blocks_format"}),
    "conversations.history": frozenset({"invalid_cursor", "invalid_limit"}),
    "conversations.replies": frozenset({"invalid_cursor", "invalid_limit"}),
    "views.open": frozenset({"exchanged_trigger_id", "expired_trigger_id", "invalid_trigger_id"}),
    "views.push": frozenset({"exchanged_trigger_id", "push_limit_reached"}),
    "views.update": frozenset({"not_found", "hash_conflict"}),
    # docs.slack.dev/reference/methods/views.publish ("Errors")
    "views.publish": frozenset({"hash_conflict", "view_too_large", "not_enabled"}),
    # docs.slack.dev/reference/methods/files.completeUploadExternal ("Errors")
    "files.completeUploadExternal": frozenset({"file_not_found", "channel_not_found", "not_in_channel"}),
    # https://docs.slack.dev/reference/methods/oauth.v2.access, "Errors"
    "oauth.v2.access": frozenset(
        {
            "invalid_code",
            "invalid_client_id",
            "bad_client_secret",
            "bad_redirect_uri",
            "invalid_refresh_token",
        }
    ),
}
# The error body's documented fields: error; needed/provided with missing_scope; errors and
# response_metadata.messages with invalid_blocks / invalid_arguments; warning.
ERROR_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["ok", "error"],
    "properties": {
        "ok": ref("defs_ok_false"),
        "error": {"type": "string", "pattern": "^[a-z_]+$"},
        "needed": {"type": "string"},
        "provided": {"type": "string"},
        "warning": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "string"}},
        "response_metadata": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "messages": {"type": "array", "items": {"type": "string"}},
                "warnings": {"type": "array", "items": {"type": "string"}},
            },
        },
    },
}
_SHORT_ID = re.compile(r"\{8,\}")


def _strict(schema: Any, *, in_blocks: bool = False) -> Any:
    if isinstance(schema, list):
        return [_strict(item, in_blocks=in_blocks) for item in schema]
    if not isinstance(schema, dict):
        return schema
    strict = {key: _strict(value, in_blocks=in_blocks) for key, value in schema.items()}
    if isinstance(strict.get("items"), list) and strict.get("type") != "array":
        strict["anyOf"] = strict.pop("items")
    if isinstance(strict.get("properties"), dict) and not in_blocks:
        strict["additionalProperties"] = False
    return strict


@cache
def load_spec() -> dict[str, Any]:
    if not SPEC_PATH.is_file():
        raise FileNotFoundError(f"Slack's Web API document not found at {SPEC_PATH} (see specs/slack/)")
    document: dict[str, Any] = json.loads(SPEC_PATH.read_text())
    corrected = copy.deepcopy(document)
    for correction in CORRECTIONS:
        correction.apply(corrected)
    definitions = {}
    for name, definition in corrected["definitions"].items():
        if name.startswith("defs_") and "pattern" in definition:
            definition = {**definition, "pattern": _SHORT_ID.sub("+", definition["pattern"])}
        definitions[name] = _strict(definition, in_blocks=name == "blocks")
    corrected["definitions"] = definitions
    corrected["paths"] = _strict(corrected["paths"])
    corrected["x-supplement"] = _strict(SUPPLEMENT)
    corrected["x-error-body"] = ERROR_BODY
    return corrected


@cache
def _registry() -> Registry:  # type: ignore[type-arg]
    resource = Resource(contents=load_spec(), specification=DRAFT4)
    return Registry().with_resource(SPEC_URI, resource)  # type: ignore[return-value]


def _pointer(*parts: str) -> str:
    return "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


def _validate(pointer: str, body: Any) -> list[str]:
    validator = jsonschema.Draft4Validator(
        {"$ref": f"{SPEC_URI}#/{pointer}"},
        registry=_registry(),
        format_checker=jsonschema.FormatChecker(formats=["email"]),
    )
    return described(leaf for error in validator.iter_errors(body) for leaf in _leaves(error))


def _leaves(error: jsonschema.ValidationError) -> list[jsonschema.ValidationError]:
    """The errors inside an ``anyOf`` of alternatives, from the alternative that came closest."""
    if error.validator != "anyOf" or not error.context:
        return [error]
    by_alternative: dict[int, list[jsonschema.ValidationError]] = {}
    for sub in error.context:
        by_alternative.setdefault(int(sub.schema_path[0]), []).append(sub)
    closest = min(by_alternative.values(), key=len)
    return [leaf for sub in closest for leaf in _leaves(sub)]


def documented_errors(method: str) -> frozenset[str]:
    operation = next(iter(load_spec()["paths"].get("/" + method, {"": {}}).values()), {})
    schema = operation.get("responses", {}).get("default", {}).get("schema", {})
    listed = schema.get("properties", {}).get("error", {}).get("enum", [])
    return frozenset(listed) | COMMON_ERRORS | METHOD_ERRORS.get(method, frozenset())


def body_errors(method: str, body: Any, *, status: int = 200, injected: bool = False) -> list[str]:
    """What is wrong with ``body`` as Slack's answer to ``method`` (empty: nothing)."""
    if not isinstance(body, dict):
        return ["<root>: not a JSON object"]
    if status not in (200, 429):
        return [f"<root>: HTTP {status}; the Web API answers 200 (or 429 when rate limited)"]
    if not body.get("ok"):
        problems = _validate("x-error-body", body)
        error = body.get("error")
        if status == 429 and error != "ratelimited":
            problems.append(f"error: HTTP 429 comes with 'ratelimited', not {error!r}")
        if not injected and isinstance(error, str) and error not in documented_errors(method):
            problems.append(f"error: {error!r} is not an error {method} documents")
        return problems
    if "/" + method in load_spec()["paths"]:
        operation = next(iter(load_spec()["paths"]["/" + method]))
        return _validate(_pointer("paths", "/" + method, operation, "responses", "200", "schema"), body)
    if method in SUPPLEMENT:
        return _validate(_pointer("x-supplement", method), body)
    return [f"<root>: {method} is not a method of Slack's Web API document (nor of the supplement)"]


# Not Web API methods: posts to a response_url and Socket Mode acks, which the stand-in records too.
NOT_WEB_API = frozenset({"response_url", "socket.ack", "file.upload"})  # file.upload: files_upload_v2's POST


@dataclass
class Recorder:
    """Collects what stand-ins answer (``standin.subscribe(recorder.record)``) and validates it."""

    seen: dict[str, Any] = field(default_factory=dict)
    count: int = 0

    def record(self, call: Any) -> None:
        if call.method in NOT_WEB_API:
            return
        self.count += 1
        key = json.dumps([call.method, call.status, call.injected, call.response], sort_keys=True)
        self.seen.setdefault(key, call)

    def problems(self) -> list[str]:
        found = []
        for call in self.seen.values():
            errors = body_errors(call.method, call.response, status=call.status, injected=call.injected)
            found += [f"{call.method} ({call.status}): {error}" for error in errors[:5]]
        return found
