"""A form generated from a template's parameters, each field checked as you type.

For a template with dynamic parameters the form also follows Coder's evaluation: ``on_answer`` runs after
each change (the launcher asks Coder again), and :meth:`ParameterForm.update` adds, removes and re-checks
rows from the new fields, keeping what was typed in rows that stay.
"""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as w
from coder_client import ParameterField


def css_name(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_-]", "-", name)


LABEL_WIDTH = "200px"
INPUT_WIDTH = "320px"


def field_label(text: str, *, required: bool = False, hint: str = "", title: str = "") -> w.HTML:
    """The label column of a form row; every row of the launcher uses it, so all inputs line up."""
    marks = " *" if required else ""
    hint_html = f' <span class="coder-muted">{html.escape(hint)}</span>' if hint else ""
    label = w.HTML(
        f'<span title="{html.escape(title)}"><b>{html.escape(text)}</b>{marks}{hint_html}</span>',
        layout=w.Layout(width=LABEL_WIDTH, flex="0 0 auto"),
    )
    label.add_class("coder-field-label")
    return label


def form_row(label: w.HTML, field: w.Widget, status: w.HTML) -> w.HBox:
    row = w.HBox([label, field, status])
    row.add_class("coder-param")
    return row


def input_widget(spec: ParameterField) -> w.Widget:
    initial = spec.initial_value
    layout = w.Layout(width=INPUT_WIDTH)
    if spec.form in ("select", "radio") and initial not in spec.option_values:
        initial = None  # the answer is no longer an option (Coder's diagnostic says why)
    if spec.form == "multi-select":
        initial = [item for item in initial if item in spec.option_values]
    if spec.form == "select":
        return w.Dropdown(options=list(spec.options), value=initial, layout=layout)
    if spec.form == "radio":
        return w.RadioButtons(options=list(spec.options), value=initial, layout=layout)
    if spec.form == "multi-select":
        return w.SelectMultiple(options=list(spec.options), value=tuple(initial), layout=layout)
    if spec.form == "checkbox":
        return w.Checkbox(value=initial, indent=False)
    if spec.form == "tags":
        return w.TagsInput(value=list(initial), allow_duplicates=False)
    if spec.form == "textarea":
        return w.Textarea(value=initial, layout=layout)
    placeholder = ""
    if spec.form == "number" and (spec.min is not None or spec.max is not None):
        placeholder = f"{_bound(spec.min)} … {_bound(spec.max)}"
    return w.Text(value=initial, placeholder=placeholder, continuous_update=True, layout=layout)


class ParameterRow:
    """One row of the form: label, input, and a status line saying what is wrong."""

    def __init__(
        self,
        spec: ParameterField,
        on_change: Callable[[], None],
        on_answer: Callable[[], None] | None = None,
    ) -> None:
        self.spec = spec
        self._on_answer = on_answer
        self.input = input_widget(spec)
        self.input.add_class(f"coder-param-{css_name(spec.name)}")
        hint = "" if spec.mutable else "(fixed after creation)"
        self.label = field_label(spec.label, required=spec.required, hint=hint, title=spec.description)
        self.status = w.HTML("")
        self.status.add_class("coder-field-status")
        self.row = form_row(self.label, self.input, self.status)
        self.server_error: str | None = spec.diagnostic
        self._on_change = on_change
        self.input.observe(self._changed, names="value")
        self.refresh()

    def _changed(self, _change: Mapping[str, Any]) -> None:
        self.server_error = None
        self.refresh()
        self._on_change()
        if self._on_answer is not None:
            self._on_answer()

    def answer(self) -> str | None:
        """The answer in Coder's string form; None while the input holds no valid value of its type."""
        try:
            return self.spec.to_coder(self.input.value) if self.input.value is not None else None
        except ValueError:
            return None

    @property
    def value(self) -> Any:
        return self.input.value

    @value.setter
    def value(self, new: Any) -> None:
        self.input.value = new

    def coder_value(self) -> str:
        return self.spec.to_coder(self.input.value)

    def error(self) -> str | None:
        return self.server_error or self.spec.check(self.input.value)

    def refresh(self) -> None:
        problem = self.error()
        self.status.value = (
            f'<span class="coder-field-error">{html.escape(problem)}</span>' if problem else ""
        )


class ParameterForm(w.VBox):  # type: ignore[misc]
    def __init__(
        self,
        specs: list[ParameterField],
        on_change: Callable[[], None],
        on_answer: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self.add_class("coder-parameters")
        self._on_change, self._on_answer = on_change, on_answer
        self._locked: set[str] = set()  # fields a preset fixes
        self._preset: dict[str, str] = {}
        self.fields = {spec.name: ParameterRow(spec, on_change, on_answer) for spec in specs}
        self.children = [f.row for f in self.fields.values()]

    @property
    def dynamic(self) -> bool:
        return self._on_answer is not None

    def answers(self) -> dict[str, str]:
        """Every answer that holds a value, in Coder's string form (what Coder evaluates the form for)."""
        found = {name: field.answer() for name, field in self.fields.items()}
        return {**{name: answer for name, answer in found.items() if answer is not None}, **self._preset}

    def update(self, specs: list[ParameterField]) -> None:
        """Coder evaluated the form again: rows appear and disappear; a row that stays keeps its input
        (unless its kind or options changed) and shows Coder's diagnostic for it."""
        rows: dict[str, ParameterRow] = {}
        for spec in specs:
            row = self.fields.get(spec.name)
            if row is not None and (row.spec.form, row.spec.options) == (spec.form, spec.options):
                row.spec = spec
                row.server_error = spec.diagnostic
                row.refresh()
            else:
                row = ParameterRow(spec, self._on_change, self._on_answer)
                row.input.disabled = spec.name in self._locked  # a preset's field stays locked
            rows[spec.name] = row
        self.fields = rows
        self.children = [f.row for f in rows.values()]

    def values(self) -> dict[str, str]:
        return {name: field.coder_value() for name, field in self.fields.items()}

    def errors(self) -> dict[str, str]:
        found = {name: field.error() for name, field in self.fields.items()}
        return {name: problem for name, problem in found.items() if problem}

    def apply_preset(self, values: Mapping[str, str]) -> None:
        """presets: set the preset's values and lock those fields (a preset's values are fixed); the
        fields of the previous preset are unlocked."""
        self._locked = set(values)
        self._preset = dict(values)  # also answers for fields Coder has not revealed yet
        for name, field in self.fields.items():
            if name in values:
                field.value = dataclasses.replace(field.spec, default=values[name], value=None).initial_value
            field.input.disabled = name in values

    def show_server_errors(self, validations: Mapping[str, str]) -> None:
        for name, detail in validations.items():
            field = self.fields.get(name)
            if field is not None:
                field.server_error = detail
                field.refresh()


def _bound(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if value == int(value) else str(value)
