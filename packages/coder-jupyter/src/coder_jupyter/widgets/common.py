"""Shared pieces of the widgets: styles, the status badge, the static (text/html + text/plain) fallback."""

from __future__ import annotations

import html
from html.parser import HTMLParser
from typing import Any

import ipywidgets as w
import traitlets

from ..runner import Runner, describe_error, get_runner

STYLE = """
<style>
.coder-widget { font-family: var(--jp-ui-font-family, sans-serif); font-size: 13px; max-width: 760px; }
.coder-badge { display: inline-block; padding: 1px 8px; border-radius: 9px; font-size: 12px; font-weight: 600;
  color: #fff; background: #6b7280; }
.coder-badge-ready, .coder-badge-running { background: #15803d; }
.coder-badge-start_error, .coder-badge-build_failed, .coder-badge-build_canceled, .coder-badge-failed {
  background: #b91c1c; }
.coder-badge-start_timeout, .coder-badge-agent.timeout { background: #b45309; }
.coder-badge-stopped, .coder-badge-deleted { background: #374151; }
.coder-badge-queued, .coder-badge-building, .coder-badge-agent.connecting, .coder-badge-starting,
.coder-badge-pending, .coder-badge-stopping, .coder-badge-deleting { background: #1d4ed8; }
.coder-timeline { display: flex; gap: 4px; margin: 6px 0; }
.coder-timeline .coder-step { flex: 1; border-top: 4px solid #d1d5db; padding-top: 3px; font-size: 12px; }
.coder-timeline .coder-step-done { border-color: #15803d; }
.coder-timeline .coder-step-active { border-color: #1d4ed8; }
.coder-timeline .coder-step-failed { border-color: #b91c1c; }
.coder-timeline .coder-step small { color: #6b7280; display: block; }
.coder-error-text { color: #b91c1c; white-space: pre-wrap; }
.coder-field-error { color: #b91c1c; font-size: 12px; }
.coder-field-ok { color: #15803d; font-size: 12px; }
.coder-muted { color: #6b7280; }
.coder-widget a { color: var(--jp-content-link-color, #1d4ed8); text-decoration: underline; }
.coder-log-tail textarea { font-family: var(--jp-code-font-family, monospace); font-size: 12px; }
</style>
"""


def badge(label: str) -> str:
    css = "coder-badge-" + label.replace(" ", ".")
    return f'<span class="coder-badge {html.escape(css)}">{html.escape(label)}</span>'


class _TextOnly(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def visible_text(markup: str) -> str:
    """What a reader sees of an HTML fragment: its text, without tags, entities decoded."""
    parser = _TextOnly()
    parser.feed(markup)
    parser.close()
    return "".join(parser.parts)


def error_html(message: str) -> str:
    return f'<div class="coder-error-text">{html.escape(message)}</div>' if message else ""


class CoderWidget(w.VBox):  # type: ignore[misc]
    """A VBox that renders a static copy of itself next to the live widget, for saved notebooks."""

    error = traitlets.Unicode("", help="The last error shown in the widget; empty when all is well.")

    def __init__(
        self, runner: Runner | None = None, url: str | None = None, token: str | None = None
    ) -> None:
        super().__init__()
        self.add_class("coder-widget")
        self._runner = runner or get_runner()
        self._url = url
        self._token = token
        self._style = w.HTML(STYLE)
        self._error_box = w.HTML("")
        self._error_box.add_class("coder-error")

    @property
    def runner(self) -> Runner:
        return self._runner

    def client(self) -> Any:
        """The runner's shared client for this widget's settings; call on the runner thread."""
        return self._runner.client(self._url, self._token)

    @property
    def displayed_error(self) -> str:
        """The error text the widget shows right now (its rendered error box); empty when none."""
        return visible_text(self._error_box.value)

    def show_error(self, exc: BaseException | str) -> None:
        message = exc if isinstance(exc, str) else describe_error(exc)
        self.error = message
        self._error_box.value = error_html(message)

    def clear_error(self) -> None:
        if self.error:
            self.error = ""
            self._error_box.value = ""

    def snapshot_html(self) -> str:
        raise NotImplementedError

    def snapshot_text(self) -> str:
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle: dict[str, Any] = super()._repr_mimebundle_(**kwargs) or {}
        bundle["text/html"] = STYLE + f'<div class="coder-widget">{self.snapshot_html()}</div>'
        bundle["text/plain"] = self.snapshot_text()
        return bundle
