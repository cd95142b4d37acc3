"""The ``q=`` user search of coderd/searchquery ``Users`` (``GET /users``), for both eras.

A bare term is ``search``: a case-insensitive substring of the username or the e-mail (Coder has no
``email:`` key). ``role:member`` matches everyone (every user is a member); other roles match the
users who hold them. Results are ordered by lower-cased username, as Coder's ``GetUsers`` query does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from .eras import Era
from .errors import ApiError, validation
from .model import User
from .searchquery import collect_terms, invalid_value

OLD_KEYS = frozenset({"search", "status", "role", "last_seen_after", "last_seen_before"})
NEW_KEYS = OLD_KEYS | frozenset(
    {"name", "service_account", "created_after", "created_before", "github_com_user_id", "login_type"}
)
OLD_STATUSES = frozenset({"active", "suspended"})
NEW_STATUSES = frozenset({"active", "dormant", "suspended"})
LOGIN_TYPES = frozenset({"password", "github", "oidc", "token", "none"})
TIME_KEYS = frozenset({"last_seen_after", "last_seen_before", "created_after", "created_before"})
INVALID_QUERY = "Invalid user search query."
# The sim's users all log in with a password and none is a service account or linked to GitHub.
SIM_LOGIN_TYPE = "password"


@dataclass
class UserFilter:
    terms: dict[str, list[str]] = field(default_factory=dict)
    times: dict[str, datetime] = field(default_factory=dict)


def split_outside_quotes(text: str, delimiter: str, keep_quotes: bool) -> list[str]:
    """coderd/searchquery's two-pass split: a quoted value may hold spaces and colons."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
            if keep_quotes:
                current.append(char)
        elif char == delimiter and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part for part in parts if part] if delimiter == " " else parts


def parse(query: str, era: Era) -> UserFilter:
    allowed = NEW_KEYS if era.name == "v2" else OLD_KEYS
    terms, problems = collect_terms(
        split_outside_quotes(query.lower(), " ", keep_quotes=True),
        lambda element: split_outside_quotes(element, ":", keep_quotes=False),
        allowed,
        lambda element: [("search", element)],
    )
    result = UserFilter(terms)
    statuses = NEW_STATUSES if era.name == "v2" else OLD_STATUSES
    for raw in result.terms.get("status", []):
        problems += [invalid_value("status", v, "user status") for v in raw.split(",") if v not in statuses]
    for raw in result.terms.get("login_type", []):
        problems += [
            invalid_value("login_type", v, "login type") for v in raw.split(",") if v not in LOGIN_TYPES
        ]
    for value in result.terms.get("service_account", []):
        if value not in ("true", "false"):
            problems.append(
                validation("service_account", 'Query param "service_account" must be a valid boolean')
            )
    for value in result.terms.get("github_com_user_id", []):
        if not value.isdigit():
            problems.append(
                validation("github_com_user_id", 'Query param "github_com_user_id" must be a valid integer')
            )
    for key in TIME_KEYS & result.terms.keys():
        value = result.terms[key][0]
        try:
            moment = datetime.fromisoformat(value.upper())
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            problems.append(
                validation(
                    key,
                    f'Query param "{key}" must be a valid date format (2006-01-02T15:04:05.999999999Z07:00): '
                    f'parsing time "{value}" as RFC3339',
                )
            )
        else:
            result.times[key] = moment
    if problems:
        raise ApiError(400, INVALID_QUERY, validations=problems)
    return result


def _roles(user: User) -> set[str]:
    return {"member", "owner"} if user.is_owner else {"member"}


def _matchers(query: UserFilter) -> list[Callable[[User], bool]]:
    checks: list[Callable[[User], bool]] = []
    terms = query.terms
    if terms.get("search"):
        # Coder keeps one search term (the first); it is a substring of the username or the e-mail.
        term = terms["search"][0]
        checks.append(lambda user: term in user.username.lower() or term in user.email.lower())
    if terms.get("name"):
        name = terms["name"][0]
        checks.append(lambda user: name in user.name.lower())
    statuses = {value for raw in terms.get("status", []) for value in raw.split(",")}
    if statuses:
        checks.append(lambda user: user.status in statuses)
    roles = {value for raw in terms.get("role", []) for value in raw.split(",")}
    if roles and "member" not in roles:
        checks.append(lambda user: bool(_roles(user) & roles))
    login_types = {value for raw in terms.get("login_type", []) for value in raw.split(",")}
    if login_types:
        checks.append(lambda _user: SIM_LOGIN_TYPE in login_types)
    if terms.get("service_account"):
        wanted = terms["service_account"][0] == "true"
        checks.append(lambda _user: not wanted)
    if terms.get("github_com_user_id") and terms["github_com_user_id"][0] != "0":
        checks.append(lambda _user: False)
    for key, moment in query.times.items():
        checks.append(_time_check(key, moment))
    return checks


def _time_check(key: str, moment: datetime) -> Callable[[User], bool]:
    # The sim's users were last seen when they were created.
    if key.endswith("_after"):
        return lambda user: user.created_at >= moment
    return lambda user: user.created_at <= moment


def select(query: UserFilter, users: list[User]) -> list[User]:
    checks = _matchers(query)
    selected = [user for user in users if all(check(user) for check in checks)]
    selected.sort(key=lambda user: user.username.lower())
    return selected
