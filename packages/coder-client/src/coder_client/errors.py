"""One error hierarchy for everything the client can raise.

Every ``str()`` is a sentence a user can act on: what failed, what Coder said, what to try next.
No message ever contains the session token: request paths are shown without query strings and any
text that might echo the token is passed through :func:`redact` first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .redaction import redact

if TYPE_CHECKING:
    from .deadlines import DeadlinePlan
    from .lifecycle import LifecycleEvent

__all__ = [
    "CoderAPIError",
    "CoderConnectionError",
    "CoderError",
    "ConfigurationError",
    "Conflict",
    "ExtendRefused",
    "FeatureUnavailable",
    "FieldError",
    "Forbidden",
    "Gone",
    "InvalidArgument",
    "InvalidDuration",
    "InvalidParameters",
    "InvalidSchedule",
    "NotFound",
    "RateLimited",
    "ServerError",
    "SharingDisabled",
    "Unauthorized",
    "UpToDate",
    "UpdateNeedsParameters",
    "ValidationFailed",
    "WaitTimeout",
    "WorkspaceNotReady",
]


class CoderError(Exception):
    """Base class of every error raised by coder_client."""

    def __str__(self) -> str:
        return redact(super().__str__())


class ConfigurationError(CoderError, ValueError):
    """The client could not be configured (missing URL or token, unreadable config)."""


class InvalidArgument(CoderError, ValueError):
    """The client refused an argument before sending anything to Coder."""


class InvalidDuration(InvalidArgument):
    """A duration string could not be parsed."""


class InvalidSchedule(InvalidArgument):
    """An autostart schedule could not be parsed."""


@dataclass(frozen=True)
class FieldError:
    """One field Coder (or the client's own check) rejected, with why."""

    field: str
    detail: str

    def __str__(self) -> str:
        return f"{self.field}: {self.detail}"


class InvalidParameters(InvalidArgument):
    """Template parameter values failed the client-side check; nothing was sent to Coder."""

    def __init__(self, template: str, errors: Iterable[FieldError]) -> None:
        self.template = template
        self.errors = list(errors)
        lines = "; ".join(str(e).rstrip(".") for e in self.errors)
        super().__init__(
            f"Parameters for template {template!r} are not valid, so the workspace was not created: {lines}. "
            "Fix these values (see client.templates.parameters(...) for the allowed ones) and try again."
        )


class ExtendRefused(InvalidArgument):
    """A stop-time change was refused client-side: Coder would refuse it (not running, under 30 minutes
    from now), it would change nothing, or an *Extend* would have moved the stop time earlier. ``plan`` is
    the :class:`~coder_client.DeadlinePlan` that was refused, when one was computed."""

    def __init__(self, message: str, plan: DeadlinePlan | None = None) -> None:
        self.plan = plan
        super().__init__(message)


class WaitTimeout(CoderError, TimeoutError):
    """``wait_until_ready`` gave up before the workspace was ready."""


class WorkspaceNotReady(CoderError):
    """``wait_until_ready`` saw the workspace end up somewhere it will not become ready from by itself.

    ``event`` is the :class:`~coder_client.LifecycleEvent` that settled it (build failed, stopped, ...).
    """

    def __init__(self, message: str, event: LifecycleEvent | None = None) -> None:
        self.event = event
        super().__init__(message)


class CoderConnectionError(CoderError, ConnectionError):
    """Coder could not be reached (DNS, refused connection, timeout, dropped stream)."""

    def __init__(self, method: str, url: str, reason: str) -> None:
        self.method = method
        self.url = url
        self.reason = reason
        super().__init__(
            f"Could not reach Coder for {method} {url}: {reason}. "
            "Check that the URL is right and the server is up (and reachable through any proxy), then retry."
        )


_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    410: "Gone",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class CoderAPIError(CoderError):
    """Coder answered with an error status. Carries Coder's ``message``, ``detail`` and ``validations``."""

    hint = "See the message above for what Coder rejected."

    def __init__(
        self,
        *,
        status_code: int,
        message: str,
        detail: str | None = None,
        validations: Iterable[FieldError] = (),
        method: str = "",
        path: str = "",
    ) -> None:
        self.status_code = status_code
        self.message = redact(message)
        self.detail = redact(detail) if detail else None
        self.validations = list(validations)
        self.method = method
        self.path = path
        super().__init__(self._sentence())

    def _sentence(self) -> str:
        reason = _REASONS.get(self.status_code, "error")
        said = self.message.rstrip(".")
        text = f"Coder refused {self.method} {self.path} ({self.status_code} {reason}): {said}."
        if self.validations:
            text += " Problems: " + "; ".join(str(v) for v in self.validations) + "."
        if self.detail:
            text += f" Detail: {self.detail.rstrip('.')}."
        return f"{text} {self.hint}"


class ValidationFailed(CoderAPIError):
    """400: the request was malformed or a value was rejected; see ``validations``."""

    hint = "Correct the listed values and send the request again."


class Unauthorized(CoderAPIError):
    """401: the session token is missing, wrong, expired, or its user is suspended."""

    hint = (
        "Get a fresh token (`coder login <url>` or `coder tokens create`) and set CODER_SESSION_TOKEN "
        "or pass token=..."
    )


class Forbidden(CoderAPIError):
    """403: the token is valid but this user may not do this."""

    hint = "Ask a Coder owner or template admin for the needed permission, or act on a workspace you own."


class NotFound(CoderAPIError):
    """404: absent, not visible to this user, or (``Route not found.``) not supported by this server."""

    hint = "Check the name or id and that your user can see it."

    @property
    def route_missing(self) -> bool:
        """True when the server does not have this endpoint at all (an older Coder)."""
        return self.message.strip().lower().startswith("route not found")


class Gone(NotFound):
    """410: the workspace was deleted. A ``NotFound``, so code that handles "no such workspace" handles it."""

    hint = "It was deleted; create it again if you still need it."


class Conflict(CoderAPIError):
    """409: a name is taken, a build is already active, or the workspace is in the wrong state."""

    hint = "Wait for the running build to finish or pick another name, then retry."


class RateLimited(CoderAPIError):
    """429: too many requests for this path; ``retry_after`` says how long to wait (seconds)."""

    def __init__(
        self,
        *,
        status_code: int = 429,
        message: str = "",
        detail: str | None = None,
        validations: Iterable[FieldError] = (),
        method: str = "",
        path: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        wait = f"Wait {retry_after:.0f} s" if retry_after is not None else "Wait a minute"
        self.hint = f"{wait} before retrying, or send fewer requests to this path."
        super().__init__(
            status_code=status_code,
            message=message,
            detail=detail,
            validations=validations,
            method=method,
            path=path,
        )


class FeatureUnavailable(CoderError):
    """This Coder does not offer an optional feature (an older version, or a route that answered 404);
    ``feature`` names it as in :class:`~coder_client.Capabilities`."""

    def __init__(self, feature: str, message: str) -> None:
        self.feature = feature
        super().__init__(message)


class UpToDate(InvalidArgument):
    """An update was asked for a workspace already on its template's active version: nothing to do."""


class UpdateNeedsParameters(InvalidArgument):
    """The template's active version added required parameters without a default: an update needs their
    values (``errors``), so nothing was stopped or built."""

    def __init__(self, workspace: str, template: str, errors: Iterable[FieldError]) -> None:
        self.workspace = workspace
        self.template = template
        self.errors = list(errors)
        lines = "; ".join(str(e).rstrip(".") for e in self.errors)
        super().__init__(
            f"Workspace {workspace} was not updated: the new version of template {template!r} needs {lines}. "
            "Give these parameter values with the update and try again."
        )

    @property
    def names(self) -> list[str]:
        return [error.field for error in self.errors]


class SharingDisabled(Forbidden):
    """403 "Workspace sharing is disabled for this organization.": an admin turned sharing off."""

    def _sentence(self) -> str:
        return (
            "Workspace sharing is turned off for this Coder organization, so workspaces can't be shared "
            "or unshared; an organization admin can turn it on again in Coder's organization settings."
        )


class ServerError(CoderAPIError):
    """5xx: Coder (or a proxy in front of it) failed."""

    hint = "This is a server-side problem; retry later and tell your Coder admin if it persists."


_ERROR_CLASSES: dict[int, type[CoderAPIError]] = {
    400: ValidationFailed,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: Gone,
    429: RateLimited,
}


def error_class_for(status_code: int) -> type[CoderAPIError]:
    if status_code in _ERROR_CLASSES:
        return _ERROR_CLASSES[status_code]
    return ServerError if status_code >= 500 else CoderAPIError
