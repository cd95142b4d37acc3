"""REST routes under `{base_url}coder/api/`: thin handlers over one shared AsyncCoderClient."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any, Literal

import tornado.web
from coder_client import (
    AsyncCoderClient,
    CoderAPIError,
    FeatureUnavailable,
    InvalidArgument,
    NotFound,
    parse_duration,
    plain_refusal,
    redact_tail,
    without_prebuilds,
    workspace_name_error,
)
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from tornado.iostream import StreamClosedError

from .config import CoderConfig
from .openapi import openapi_document
from .panel import PanelFeeds, RefusedQuery, Subscriber
from .preferences import MAX_TEMPLATE_NAME, Preferences, load_preferences, remember_template, save_preferences
from .presets import form_presets
from .rows import iso, row_of
from .serialize import error_status_and_body, lifecycle_event_json, to_json
from .timings import timings_json

MAX_LOG_LINES = 2000

AUTH_RESOURCE = "coder"
SETTINGS_KEY = "coder_jupyter"


class CreateWorkspaceBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="Workspace name (Coder's rule: letters, digits, single hyphens, ≤ 32).")
    template: str = Field(description="Template name.")
    parameters: dict[str, str] = Field(default_factory=dict, description="Rich parameter values as strings.")
    ttl: str | None = Field(default=None, description='Autostop after, e.g. "8h" or "90m".')
    autostart: str | None = Field(
        default=None, description='Autostart schedule, e.g. "9:30 mon-fri Europe/Berlin".'
    )
    preset: str | None = Field(
        default=None,
        description="A preset of the template (name or id; Coder v2.20+): its values are fixed, the "
        "parameters fill in the rest; Coder may hand over a prebuilt workspace.",
    )


class PreferencesBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    last_template: str | None = Field(
        description="The template the New workspace form and the notebook launcher start with (null: none).",
        min_length=1,
        max_length=MAX_TEMPLATE_NAME,
    )


class RenameBody(BaseModel):  # verbs (issue 13)
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="The new name (Coder's rule: letters, digits, single hyphens, ≤ 32).")


class ExtendBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    by: str = Field(
        default="1h",
        description='How much later than the current stop time, e.g. "1h" or "2h30m" (capped at the '
        "template's maximum; never earlier).",
    )


# -- template updates and workspace sharing (issue 13) ----------------------------------------------

UPDATES_ABSENT = "This Coder server doesn't offer template updates (they came with Coder v2.3)."
SHARING_ABSENT = "This Coder server doesn't offer workspace sharing (it came with Coder v2.27)."


class UpdateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    parameters: dict[str, str] = Field(
        default_factory=dict,
        description="Values for parameters the template's new version requires (others carry over).",
    )


class AutoUpdatesBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    automatic_updates: Literal["always", "never"] = Field(
        description="always: the workspace moves to the newest template version when it autostarts"
    )


async def workspace_query(handler: APIHandler, client: AsyncCoderClient) -> str:
    """The Coder search a list route runs: ``q`` (default ``owner:me``), or with ``shared=true`` the
    workspaces other people shared with the signed-in user (Coder's ``shared_with_user:`` filter)."""
    if handler.get_query_argument("shared", "").lower() not in ("true", "1"):
        return str(handler.get_query_argument("q", "owner:me"))
    if not (await client.capabilities()).workspace_sharing:
        raise FeatureUnavailable("workspace_sharing", SHARING_ABSENT)
    me = await client.users.me()
    return f"shared_with_user:{me.id}"


class CoderState:
    """The extension's settings and its one shared client, created on first use, closed on stop."""

    def __init__(self, config: CoderConfig) -> None:
        self.config = config
        self._client: AsyncCoderClient | None = None
        self._feeds: PanelFeeds | None = None

    @property
    def active_client(self) -> AsyncCoderClient | None:
        """The shared client if a request has opened it and the server has not closed it yet; else None
        (unlike :meth:`client`, never creates one)."""
        return self._client

    def client(self) -> AsyncCoderClient:
        """The shared client, created on first use from the extension's settings."""
        if self._client is None:
            self._client = AsyncCoderClient(
                url=self.config.resolved_url(), token=self.config.resolved_token()
            )
        return self._client

    def feeds(self) -> PanelFeeds:
        """The sidebar's live feeds, over the shared client (created with it)."""
        if self._feeds is None:
            self._feeds = PanelFeeds(self.client(), sweep_seconds=self.config.panel_sweep_seconds)
        return self._feeds

    def changed(self) -> None:
        """Something was done through these routes: the sidebar's feeds list again now."""
        if self._feeds is not None:
            self._feeds.nudge()

    async def aclose(self) -> None:
        if self._feeds is not None:
            feeds, self._feeds = self._feeds, None
            await feeds.aclose()
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()


async def updates_offered(client: AsyncCoderClient) -> bool:
    """Whether this Coder offers template updates (rows then offer Update for outdated workspaces)."""
    return (await client.capabilities()).template_updates


class CoderHandler(APIHandler):  # type: ignore[misc]
    auth_resource = AUTH_RESOURCE

    @property
    def state(self) -> CoderState:
        state: CoderState = self.settings[SETTINGS_KEY]
        return state

    async def respond(
        self, call: Callable[[AsyncCoderClient], Awaitable[Any]], status: int = 200, *, changes: bool = False
    ) -> None:
        """Run one client call; answer with its JSON or with Coder's error mapped to ours. ``changes``: the
        call changed workspaces, so the sidebar's feeds list again at once."""
        try:
            result = await call(self.state.client())
        except Exception as exc:
            self.send_error_json(exc)
            return
        if changes:
            self.state.changed()
        self.set_status(status)
        self.finish(json.dumps(to_json(result)))

    def send_error_json(self, exc: BaseException) -> None:
        status, body = error_status_and_body(exc)
        self.log.info(
            "coder route %s %s -> %s: %s", self.request.method, self.request.path, status, body["message"]
        )
        self.set_status(status)
        self.finish(json.dumps(body))

    def body_as(self, model: type[BaseModel]) -> Any:
        raw = self.request.body or b"{}"
        try:
            return model.model_validate_json(raw)
        except ValidationError as exc:
            validations = [
                {"field": ".".join(str(p) for p in e["loc"]) or "body", "detail": e["msg"]}
                for e in exc.errors()
            ]
            self.set_status(400)
            self.finish(
                json.dumps(
                    {
                        "message": "The request body is not valid; see validations for each field.",
                        "detail": None,
                        "validations": validations,
                        "coder_status": None,
                    }
                )
            )
            return None


class WorkspacesHandler(CoderHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        async def call(client: AsyncCoderClient) -> dict[str, Any]:
            query = await workspace_query(self, client)
            found = without_prebuilds(await client.workspaces.list(query=query))  # presets
            return {"workspaces": to_json(found), "count": len(found)}

        await self.respond(call)

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.body_as(CreateWorkspaceBody)
        if body is None:
            return

        async def call(client: AsyncCoderClient) -> Any:
            created = await client.workspaces.create(
                body.name,
                body.template,
                parameters=body.parameters,
                ttl=parse_duration(body.ttl) if body.ttl else None,
                autostart=body.autostart,
                **({"preset": body.preset} if body.preset else {}),
            )
            remember_template(body.template)
            return created

        await self.respond(call, status=201, changes=True)


class RowsHandler(CoderHandler):
    """The sidebar's rows for a Coder search query, in one request."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        async def call(client: AsyncCoderClient) -> dict[str, Any]:
            query = await workspace_query(self, client)
            found = without_prebuilds(await client.workspaces.list(query=query))  # presets
            now = datetime.now(UTC)
            updates = await updates_offered(client)
            rows = [row_of(ws, client.url, now, updates=updates) for ws in found]
            return {"rows": rows, "count": len(found)}

        await self.respond(call)


class StreamHandler(CoderHandler):
    """The sidebar's live list as server-sent events: snapshot, then row / removed / error."""

    def initialize(self) -> None:
        self._closed = asyncio.Event()
        self._subscriber: Subscriber | None = None

    def on_connection_close(self) -> None:
        self._closed.set()
        if self._subscriber is not None:
            self._subscriber.close()

    async def _write(self, frame: str) -> None:
        try:
            self.write(frame)
            await self.flush()
        except StreamClosedError:
            self.on_connection_close()

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        try:
            query = await workspace_query(self, self.state.client())
            feeds = self.state.feeds()
            subscriber = await feeds.subscribe(query)
        except RefusedQuery as refused:
            self.log.info("coder route stream -> %s: %s", refused.status, refused.body["message"])
            self.set_status(refused.status)
            self.finish(json.dumps(refused.body))
            return
        except Exception as exc:
            self.send_error_json(exc)
            return
        self._subscriber = subscriber
        if self._closed.is_set():
            subscriber.close()
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")
        keepalive = self.state.config.events_keepalive_seconds
        try:
            await self._write(": connected\n\n")
            while not self._closed.is_set():
                try:
                    frame = await subscriber.next(keepalive)
                except EOFError:
                    break
                await self._write(": keepalive\n\n" if frame is None else frame)
        finally:
            await feeds.unsubscribe(subscriber)
        if not self._closed.is_set():
            self.finish()


class RowHandler(CoderHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, workspace_id: str) -> None:
        async def call(client: AsyncCoderClient) -> dict[str, Any]:
            workspace = await client.workspaces.get(workspace_id)
            return row_of(workspace, client.url, updates=await updates_offered(client))

        await self.respond(call)


class TimingsHandler(CoderHandler):
    """Where the latest build's time went (build timings); ``available`` False on a Coder without them."""

    @tornado.web.authenticated
    @authorized
    async def get(self, workspace_id: str) -> None:
        async def call(client: AsyncCoderClient) -> dict[str, Any]:
            return timings_json(await client.workspaces.timings(workspace_id))

        await self.respond(call)


class LookupHandler(CoderHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, owner: str, name: str) -> None:
        async def call(client: AsyncCoderClient) -> dict[str, Any]:
            workspace = await client.workspaces.get_by_name(owner, name)
            return row_of(workspace, client.url, updates=await updates_offered(client))

        await self.respond(call)


class WorkspaceHandler(CoderHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, workspace_id: str) -> None:
        await self.respond(lambda client: client.workspaces.get(workspace_id))

    @tornado.web.authenticated
    @authorized
    async def delete(self, workspace_id: str) -> None:
        """Delete, only with ``?confirm=<the workspace's name>`` (what the sidebar's dialog asks to type)."""
        confirm = self.get_query_argument("confirm", "")

        async def call(client: AsyncCoderClient) -> dict[str, Any]:
            workspace = await client.workspaces.get(workspace_id)
            if confirm != workspace.name:
                got = f", not {confirm!r}" if confirm else ""
                raise InvalidArgument(
                    f"To delete {workspace.full_name}, pass the workspace's name: "
                    f"confirm={workspace.name}{got}."
                )
            await client.workspaces.delete(workspace)
            with contextlib.suppress(NotFound):  # already gone: its last snapshot says what it was
                workspace = await client.workspaces.get(workspace_id)
            return {"row": row_of(workspace, client.url)}

        await self.respond(call, status=202, changes=True)


class WorkspaceActionHandler(CoderHandler):
    @tornado.web.authenticated
    @authorized
    async def post(self, workspace_id: str, action: str) -> None:
        if action == "extend":
            body = self.body_as(ExtendBody)
            if body is None:
                return

            async def extend(client: AsyncCoderClient) -> Any:
                plan = await client.workspaces.extend(workspace_id, by=parse_duration(body.by))
                workspace = await client.workspaces.get(workspace_id)
                return {
                    **to_json(workspace),
                    "plan": {
                        "deadline": iso(plan.deadline),
                        "capped": plan.capped,
                        "message": plan.message,
                    },
                    "row": row_of(workspace, client.url, updates=await updates_offered(client)),
                }

            await self.respond(extend, changes=True)
            return

        update_body: UpdateBody | None = None
        if action == "update":
            update_body = self.body_as(UpdateBody)
            if update_body is None:
                return

        async def build(client: AsyncCoderClient) -> dict[str, Any]:
            if action == "update":  # template updates: as `coder update` (stopped first if running)
                if not await updates_offered(client):
                    raise FeatureUnavailable("template_updates", UPDATES_ABSENT)
                parameters = update_body.parameters if update_body is not None else {}
                started = await client.workspaces.update(workspace_id, parameters)
            elif action == "start":
                started = await client.workspaces.start(workspace_id)
            elif action == "restart":
                started = await client.workspaces.restart(workspace_id)
            else:
                started = await client.workspaces.stop(workspace_id)
            # The build as before, plus the workspace's Row as it is now that the build is queued.
            now = await client.workspaces.get(workspace_id)
            return {**to_json(started), "row": row_of(now, client.url, updates=await updates_offered(client))}

        await self.respond(build, status=201, changes=True)


class AutoUpdatesHandler(CoderHandler):
    """PUT: the workspace's auto-update policy (Coder's ``PUT /workspaces/{id}/autoupdates``)."""

    @tornado.web.authenticated
    @authorized
    async def put(self, workspace_id: str) -> None:
        body = self.body_as(AutoUpdatesBody)
        if body is None:
            return

        async def call(client: AsyncCoderClient) -> dict[str, Any]:
            if not await updates_offered(client):
                raise FeatureUnavailable("template_updates", UPDATES_ABSENT)
            await client.workspaces.set_automatic_updates(workspace_id, body.automatic_updates)
            workspace = await client.workspaces.get(workspace_id)
            return {
                "automatic_updates": str(workspace.automatic_updates),
                "row": row_of(workspace, client.url, updates=True),
            }

        await self.respond(call, changes=True)


class LogsHandler(CoderHandler):
    """The tails of the latest build's provisioner log and of the primary agent's startup log, redacted."""

    @tornado.web.authenticated
    @authorized
    async def get(self, workspace_id: str) -> None:
        text = self.get_query_argument("lines", "200")
        if not text.isdigit() or not 1 <= int(text) <= MAX_LOG_LINES:
            self.send_error_json(ValueError(f"lines={text!r}: ask for 1 to {MAX_LOG_LINES} lines."))
            return
        lines = int(text)

        async def call(client: AsyncCoderClient) -> dict[str, Any]:
            found = await client.workspaces.logs(workspace_id)  # coder_client: both logs, redacted
            build_log, startup_log = found.build_log, found.startup_log
            return {
                "build_log": tail(build_log, lines),
                "startup_log": tail(startup_log, lines),
                "truncated": len(build_log) > lines or len(startup_log) > lines,
            }

        await self.respond(call)


def tail(lines: list[str], count: int) -> list[str]:
    """The last ``count`` lines, redacted (no size cap beyond 300 characters a line)."""
    return redact_tail(lines, limit=count, max_chars=count * 301)


class FormInputsBody(BaseModel):
    inputs: dict[str, str] = Field(
        default_factory=dict, description="The answers so far, as Coder's strings, by parameter name."
    )


class TemplateFormHandler(CoderHandler):
    """What the New workspace form draws: the template, its parameters as fields, and whether it was the
    one chosen last. ``dynamic``: the template has dynamic parameters, so the form is evaluated again
    (``POST`` with the answers so far) whenever an answer changes."""

    @tornado.web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        await self.respond(lambda client: self._form(client, name, {}))

    @tornado.web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        body = self.body_as(FormInputsBody)
        if body is None:
            return
        await self.respond(lambda client: self._form(client, name, body.inputs))

    @staticmethod
    async def _form(client: AsyncCoderClient, name: str, inputs: dict[str, str]) -> dict[str, Any]:
        template = await client.templates.get_by_name(name)
        form = await client.templates.form(template, inputs)
        return {
            "template": to_json(template),
            "fields": [to_json(field) for field in form.fields],
            "last_used": load_preferences().last_template == template.name,
            "dynamic": form.dynamic,
            "problems": list(form.problems),
            "presets": await form_presets(client, template),  # presets ([] when Coder has none)
        }


class PreferencesHandler(CoderHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.finish(json.dumps(asdict(load_preferences())))

    @tornado.web.authenticated
    @authorized
    async def put(self) -> None:
        body = self.body_as(PreferencesBody)
        if body is None:
            return
        preferences = Preferences(last_template=body.last_template)
        try:
            save_preferences(preferences)
        except OSError as exc:
            self.set_status(500)
            self.finish(
                json.dumps(
                    {
                        "message": f"Could not save your Coder preferences ({exc.strerror}).",
                        "detail": None,
                        "validations": [],
                        "coder_status": None,
                    }
                )
            )
            return
        self.finish(json.dumps(asdict(preferences)))


class TemplatesHandler(CoderHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        await self.respond(lambda client: client.templates.list())


class TemplateParametersHandler(CoderHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        async def call(client: AsyncCoderClient) -> Any:
            template = await client.templates.get_by_name(name)
            return await client.templates.parameters(template)

        await self.respond(call)


class EventsHandler(CoderHandler):
    """Server-sent lifecycle events for one workspace, with keepalive comments for proxies."""

    def initialize(self) -> None:
        self._closed = asyncio.Event()

    def on_connection_close(self) -> None:
        self._closed.set()

    async def _write(self, frame: str) -> None:
        try:
            self.write(frame)
            await self.flush()
        except StreamClosedError:
            self._closed.set()

    async def _keepalive(self, every: float) -> None:
        while not self._closed.is_set():
            await asyncio.sleep(every)
            await self._write(": keepalive\n\n")

    async def _stream(self, workspace: Any, until_settled: bool) -> None:
        async for event in self.state.client().workspaces.lifecycle(workspace):
            await self._write(f"event: lifecycle\ndata: {json.dumps(lifecycle_event_json(event))}\n\n")
            if self._closed.is_set() or (until_settled and getattr(event.kind, "settled", False)):
                return

    @tornado.web.authenticated
    @authorized
    async def get(self, workspace_id: str) -> None:
        until = self.get_query_argument("until", "")
        if until not in ("", "settled"):
            self.send_error_json(
                ValueError(f"until={until!r} is not supported; use until=settled or leave it out.")
            )
            return
        try:
            workspace = await self.state.client().workspaces.get(workspace_id)
        except Exception as exc:
            self.send_error_json(exc)
            return
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")
        await self._write(": connected\n\n")
        keepalive = asyncio.create_task(self._keepalive(self.state.config.events_keepalive_seconds))
        stream = asyncio.create_task(self._stream(workspace, until == "settled"))
        closed = asyncio.create_task(self._closed.wait())
        try:
            done, _ = await asyncio.wait({stream, closed}, return_when=asyncio.FIRST_COMPLETED)
            if stream in done and stream.exception() is not None:
                _, body = error_status_and_body(stream.exception())  # type: ignore[arg-type]
                await self._write(f"event: error\ndata: {json.dumps(body)}\n\n")
        finally:
            for task in (keepalive, stream, closed):
                task.cancel()
        if not self._closed.is_set():
            self.finish()


class OpenAPIHandler(CoderHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        base = url_path_join(self.base_url, "coder", "api")
        self.finish(
            json.dumps(
                openapi_document(
                    base, CreateWorkspaceBody, ExtendBody, PreferencesBody, MAX_LOG_LINES, RenameBody
                )
            )
        )


# verbs (issue 13): rename and cancel, with Coder's refusals in plain words (coder_client.plain_refusal)
class RenameHandler(CoderHandler):
    @tornado.web.authenticated
    @authorized
    async def post(self, workspace_id: str) -> None:
        body = self.body_as(RenameBody)
        if body is None:
            return

        async def call(client: AsyncCoderClient) -> dict[str, Any]:
            problem = workspace_name_error(body.name)
            if problem is not None:
                raise InvalidArgument(problem)
            workspace = await client.workspaces.get(workspace_id)
            try:
                await client.workspaces.rename(workspace, body.name)
            except CoderAPIError as exc:
                raise plain_refusal("rename", exc, workspace.full_name, body.name) from None
            return {"row": row_of(await client.workspaces.get(workspace_id), client.url)}

        await self.respond(call, changes=True)


class CancelHandler(CoderHandler):
    @tornado.web.authenticated
    @authorized
    async def post(self, workspace_id: str) -> None:
        async def call(client: AsyncCoderClient) -> dict[str, Any]:
            workspace = await client.workspaces.get(workspace_id)
            try:
                await client.workspaces.cancel(workspace)
            except CoderAPIError as exc:
                raise plain_refusal("cancel", exc, workspace.full_name) from None
            return {"row": row_of(await client.workspaces.get(workspace_id), client.url)}

        await self.respond(call, status=202, changes=True)


def route_handlers(base_url: str) -> list[tuple[str, type[CoderHandler]]]:
    api = url_path_join(base_url, "coder", "api")
    workspace = r"(?P<workspace_id>[0-9A-Za-z_.~-]+)"
    return [
        (url_path_join(api, "openapi.json"), OpenAPIHandler),
        (url_path_join(api, "workspaces"), WorkspacesHandler),
        # Before workspaces/{id}: these names would match its pattern too.
        (url_path_join(api, "workspaces", "rows"), RowsHandler),
        (url_path_join(api, "workspaces", "stream"), StreamHandler),
        (url_path_join(api, "workspaces", "lookup", r"(?P<owner>[^/]+)", r"(?P<name>[^/]+)"), LookupHandler),
        (url_path_join(api, "workspaces", workspace), WorkspaceHandler),
        (url_path_join(api, "workspaces", workspace, "row"), RowHandler),
        (url_path_join(api, "workspaces", workspace, "timings"), TimingsHandler),
        (
            url_path_join(api, "workspaces", workspace, "(?P<action>extend|start|stop|restart|update)"),
            WorkspaceActionHandler,
        ),
        (url_path_join(api, "workspaces", workspace, "autoupdates"), AutoUpdatesHandler),
        (url_path_join(api, "workspaces", workspace, "events"), EventsHandler),
        (url_path_join(api, "workspaces", workspace, "logs"), LogsHandler),
        (url_path_join(api, "workspaces", workspace, "rename"), RenameHandler),  # verbs (issue 13)
        (url_path_join(api, "workspaces", workspace, "cancel"), CancelHandler),
        (url_path_join(api, "templates"), TemplatesHandler),
        (url_path_join(api, "templates", r"(?P<name>[^/]+)", "form"), TemplateFormHandler),
        (url_path_join(api, "preferences"), PreferencesHandler),
        (url_path_join(api, "templates", r"(?P<name>[^/]+)", "parameters"), TemplateParametersHandler),
    ]
