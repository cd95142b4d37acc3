"""`coder_jupyter.launcher()`: pick a template, fill its parameters, create; then watch it come up."""

from __future__ import annotations

import asyncio
import html
import threading
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import ipywidgets as w
import traitlets
from coder_client import (
    CoderAPIError,
    NotFound,
    Preset,
    claimed_prebuild,
    parse_duration,
    workspace_name_error,
)

from ..preferences import load_preferences, remember_template
from ..presets import preset_label
from ..runner import Runner
from .common import CoderWidget, visible_text
from .form import INPUT_WIDTH, ParameterForm, field_label, form_row
from .monitor import Monitor

DEFAULT_TTL = "8h"
NAME_CHECK_PAUSE = 0.3


class Launcher(CoderWidget):
    """Template dropdown, a form from the template's rich parameters, name, TTL, Create."""

    templates_loaded = traitlets.Bool(False, help="True once the template list has arrived.")
    state = traitlets.Unicode("loading", help="loading, ready, creating, created")
    claimed_prebuild = traitlets.Bool(False, help="True when Coder handed over a prebuilt workspace.")

    def __init__(
        self, *, runner: Runner | None = None, url: str | None = None, token: str | None = None
    ) -> None:
        super().__init__(runner=runner, url=url, token=token)
        self.add_class("coder-launcher")
        self.monitor: Monitor | None = None
        self.form = ParameterForm([], self._validate)
        self._loaded = threading.Event()
        self._form_for: str | None = None
        self._taken: dict[str, bool] = {}  # name → whether you already have a workspace with it
        # dynamic parameters: each answer has Coder evaluate the form again; only the latest is applied
        self._evaluations = 0
        self._evaluating = False  # Create waits while Coder evaluates the latest answer
        self._evaluated = threading.Event()
        self._evaluated.set()

        self._title = w.HTML("<b>New Coder workspace</b>")
        # No template is chosen until the person picks one (or the one they used last is known): the
        # alphabetically first ("Broken startup") is a poor default.
        self.template = w.Dropdown(options=[], value=None, disabled=True, layout=w.Layout(width=INPUT_WIDTH))
        self.template.add_class("coder-template")
        self._template_info = w.HTML("")
        self.name = w.Text(placeholder="ml-box", continuous_update=True, layout=w.Layout(width=INPUT_WIDTH))
        self.name.add_class("coder-name")
        self._name_status = w.HTML("")
        self.ttl = w.Text(value=DEFAULT_TTL, continuous_update=True, layout=w.Layout(width=INPUT_WIDTH))
        self.ttl.add_class("coder-ttl")
        self._ttl_status = w.HTML("")
        self.create = w.Button(description="Create", button_style="primary", icon="rocket", disabled=True)
        self.create.add_class("coder-create")
        # presets: a select before the parameters, shown when the template has presets
        self.presets: list[Preset] = []
        self.preset = w.Dropdown(options=[("No preset", "")], value="", layout=w.Layout(width=INPUT_WIDTH))
        self.preset.add_class("coder-preset")
        self.preset.observe(self._preset_changed, names="value")
        self._preset_info = w.HTML("")
        self._preset_row = form_row(
            field_label("Preset", title="A preset fills in parameters with fixed values."),
            self.preset,
            self._preset_info,
        )
        self._form_box = w.VBox([self.form])
        self._message = w.HTML("Loading templates…")
        self._message.add_class("coder-message")

        self.template.observe(self._template_changed, names="value")
        self.name.observe(self._name_changed, names="value")
        self.ttl.observe(lambda _: self._validate(), names="value")
        self.create.on_click(lambda _: self.submit())
        self.children: tuple[w.Widget, ...] = (
            self._style,
            self._title,
            form_row(field_label("Template", required=True), self.template, self._template_info),
            self._form_box,
            form_row(
                field_label("Name", required=True, title="Letters, digits and single hyphens; at most 32."),
                self.name,
                self._name_status,
            ),
            form_row(
                field_label("Stop after", title='Autostop after this long, e.g. "8h" or "90m".'),
                self.ttl,
                self._ttl_status,
            ),
            self.create,
            self._message,
            self._error_box,
        )
        self.runner.spawn(self._load_templates, self._failed_loading)

    # -- loading (runner thread) ---------------------------------------------------------------------

    async def _load_templates(self) -> None:
        templates = await self.client().templates.list()
        options = [(_template_label(t), t.name) for t in templates]
        self.template.options = options
        self.template.disabled = not options
        self.templates_loaded = True
        if not options:
            self._message.value = "No templates are available to you on this Coder deployment."
            self._loaded.set()
            return
        self._message.value = ""
        last = load_preferences().last_template
        if self.template.value is None and last in {value for _, value in options}:
            self.template.value = last  # loads its form (_template_changed)
            return
        if self.template.value is None:
            self._message.value = "Choose a template."
            self._loaded.set()
            return
        await self._load_parameters(self.template.value)

    async def _load_parameters(self, template_name: str) -> None:
        try:
            template = await self.client().templates.get_by_name(template_name)
            form = await self.client().templates.form(template)
            capabilities = await self.client().capabilities()
            presets = await self.client().templates.presets(template) if capabilities.presets else []
        except Exception as exc:
            self.show_error(exc)
            self._loaded.set()
            return
        if self.template.value != template_name:
            return  # the user picked another template meanwhile
        on_answer = (lambda: self._answer_changed(template_name)) if form.dynamic else None
        self.form = ParameterForm(list(form.fields), self._validate, on_answer)
        self._evaluations += 1  # an evaluation still running was for the previous form
        self._evaluating = False
        self._evaluated.set()
        self.presets = presets
        self.preset.options = [("No preset", "")] + [(preset_label(p), p.id) for p in presets]
        self.preset.value = ""
        self._form_box.children = (self._preset_row, self.form) if presets else (self.form,)
        description = getattr(template, "description", "")
        self._template_info.value = f'<span class="coder-muted">{html.escape(description)}</span>'
        self._form_for = template_name
        self.state = "ready"
        self._validate()
        self._loaded.set()

    # -- dynamic parameters ---------------------------------------------------------------------------

    def _answer_changed(self, template_name: str) -> None:
        self._evaluations += 1
        generation, answers = self._evaluations, self.form.answers()
        self._evaluating = True
        self._evaluated.clear()
        self.create.disabled = True  # until the form for these answers is known
        self.runner.spawn(
            lambda: self._reevaluate(template_name, answers, generation), self._failed_evaluation
        )

    async def _reevaluate(self, template_name: str, answers: dict[str, str], generation: int) -> None:
        form = await self.client().templates.form(template_name, answers)
        if generation != self._evaluations or self._form_for != template_name:
            return  # a later answer (or another template) supersedes this one
        self.form.update(list(form.fields))
        self.clear_error()
        self._evaluating = False
        self._validate()
        self._evaluated.set()  # after the form and Create show it: waiters see the finished form

    def _failed_evaluation(self, exc: BaseException) -> None:
        self.show_error(exc)
        self._evaluating = False
        self._validate()
        self._evaluated.set()

    def wait_evaluated(self, timeout: float = 30.0) -> Launcher:
        """Block until the form follows the latest answer (dynamic parameters; for scripts and tests)."""
        if not self._evaluated.wait(timeout):
            raise TimeoutError(f"the form was not evaluated within {timeout:.0f} s")
        return self

    def _failed_loading(self, exc: BaseException) -> None:
        self._message.value = ""
        self.show_error(exc)
        self._loaded.set()

    def _template_changed(self, change: Mapping[str, Any]) -> None:
        if change["new"] and self._message.value == "Choose a template.":
            self._message.value = ""
        if change["new"] and change["new"] != self._form_for and self.templates_loaded:
            self._loaded.clear()
            self.create.disabled = True
            name = str(change["new"])
            self.runner.spawn(lambda: self._load_parameters(name), self._failed_loading)

    def _preset_changed(self, change: Mapping[str, Any]) -> None:
        chosen = next((p for p in self.presets if p.id == change["new"]), None)
        self.form.apply_preset(chosen.values if chosen else {})
        self._preset_info.value = (
            f'<span class="coder-muted">{html.escape(chosen.description)}</span>' if chosen else ""
        )
        self._validate()

    # -- validation (any thread) ---------------------------------------------------------------------

    def problems(self) -> dict[str, str]:
        """Everything that stops Create right now, by field."""
        found = dict(self.form.errors())
        name = self.name.value.strip()
        name_problem = workspace_name_error(name)
        if name_problem:
            found["name"] = name_problem
        elif self._taken.get(name):
            found["name"] = f"You already have a workspace named {name}."
        ttl_problem = self._ttl_error()
        if ttl_problem:
            found["ttl"] = ttl_problem
        if self._form_for is None:
            found["template"] = "Choose a template."
        return found

    @property
    def name_problem(self) -> str:
        """The message shown beside the Name field (invalid, or already yours); empty when none."""
        return visible_text(self._name_status.value)

    @property
    def ttl_problem(self) -> str:
        """The message shown beside the *Stop after* field; empty when it holds a duration (or nothing)."""
        return visible_text(self._ttl_status.value)

    def _name_changed(self, change: Mapping[str, Any]) -> None:
        self._validate()
        name = str(change["new"]).strip()
        if name and name not in self._taken and workspace_name_error(name) is None:
            # Advisory only: if the check itself fails, Create still reports Coder's own answer.
            self.runner.spawn(lambda: self._check_name_free(name), lambda _exc: None)

    async def _check_name_free(self, name: str) -> None:
        """Ask Coder whether the name is taken, once typing has paused (as `coder create` checks first)."""
        await asyncio.sleep(NAME_CHECK_PAUSE)
        if self.name.value.strip() != name:
            return
        try:
            await self.client().workspaces.get_by_name("me", name)
            self._taken[name] = True
        except NotFound:
            self._taken[name] = False
        self._validate()

    def _ttl_error(self) -> str | None:
        text = self.ttl.value.strip()
        if not text:
            return None
        try:
            parse_duration(text)
        except ValueError as exc:
            return str(exc)
        return None

    def _validate(self) -> None:
        problems = self.problems()
        name_typed = bool(self.name.value)
        self._name_status.value = _status(problems.get("name") if name_typed else None)
        self._ttl_status.value = _status(problems.get("ttl"))
        busy = self._evaluating or self.state in ("creating", "created")
        self.create.disabled = bool(problems) or busy

    # -- create --------------------------------------------------------------------------------------

    def wait_loaded(self, timeout: float = 30.0) -> Launcher:
        """Block until templates and the chosen template's form are loaded (for scripts and tests)."""
        if not self._loaded.wait(timeout):
            raise TimeoutError(f"templates did not load within {timeout:.0f} s")
        return self

    def submit(self) -> None:
        if self.state in ("creating", "created"):
            return
        problems = self.problems()
        if problems:
            self.show_error("Fix these first:\n" + "\n".join(f"{k}: {v}" for k, v in problems.items()))
            return
        self.clear_error()
        self.state = "creating"
        self.create.disabled = True
        self._message.value = "Creating…"
        name, template = self.name.value.strip(), str(self.template.value)
        values = self.form.values()
        ttl_text = self.ttl.value.strip()
        preset = str(self.preset.value or "") or None
        self.runner.spawn(lambda: self._create(name, template, values, ttl_text, preset), self._create_failed)

    async def _create(
        self, name: str, template: str, values: dict[str, str], ttl_text: str, preset: str | None = None
    ) -> None:
        ttl: timedelta | None = parse_duration(ttl_text) if ttl_text else None
        extra: dict[str, Any] = {"preset": preset} if preset else {}
        workspace = await self.client().workspaces.create(name, template, parameters=values, ttl=ttl, **extra)
        remember_template(template)
        self.monitor = Monitor(workspace, runner=self.runner, url=self._url, token=self._token)
        self.claimed_prebuild = claimed_prebuild(workspace)
        self.state = "created"
        if self.claimed_prebuild:
            claimed = w.HTML("♻️ Claimed a prebuilt workspace: it is ready in seconds.")
            claimed.add_class("coder-claimed-prebuild")
            self.children = (self._style, claimed, self.monitor)
        else:
            self.children = (self._style, self.monitor)

    def _create_failed(self, exc: BaseException) -> None:
        self.state = "ready"
        self._message.value = ""
        self.show_error(exc)
        if isinstance(exc, CoderAPIError):
            by_field = {v.field: v.detail for v in exc.validations}
            self.form.show_server_errors(by_field)
            if "name" in by_field:
                self._name_status.value = _status(by_field["name"])
        for error in getattr(exc, "errors", []):  # the client's own parameter check
            self.form.show_server_errors({error.field: error.detail})
        self._validate()

    # -- static fallback -----------------------------------------------------------------------------

    def snapshot_html(self) -> str:
        if self.monitor is not None:
            return self.monitor.snapshot_html()
        template = html.escape(str(self.template.value))
        return f"<b>New Coder workspace</b> <span class='coder-muted'>template {template}</span>"

    def snapshot_text(self) -> str:
        if self.monitor is not None:
            return self.monitor.snapshot_text()
        return f"Coder workspace launcher (template: {self.template.value or 'loading'})"


def _template_label(template: Any) -> str:
    return str(getattr(template, "display_name", "") or template.name)


def _status(problem: str | None) -> str:
    return f'<span class="coder-field-error">{html.escape(problem)}</span>' if problem else ""


def launcher(*, url: str | None = None, token: str | None = None) -> Launcher:
    """A form to create a workspace; it turns into a live monitor once created."""
    return Launcher(url=url, token=token)
