"""Secret redaction, written once for everything that shows text to people: error messages, logs, and
startup-log tails in Slack or a notebook.

Four kinds of secret are removed: tokens this process was given (:func:`register_secret`), credentials
inside URLs (``https://user:pass@host``), ``key=value`` / ``"key": "value"`` pairs and ``Authorization``
headers whose key names a secret (token, password, secret, api_key, encryption_key, session, cookie, ...),
and strings shaped like well-known credentials (Slack, GitHub, AWS, OpenAI-style, JWT, Coder API keys,
Fernet keys, long hex or base64 blobs). A hex or base64 string introduced as a digest (``sha256 …``) is
kept: it identifies content and gives nothing away.
"""

from __future__ import annotations

import re

__all__ = ["REDACTED", "is_secret_name", "redact", "redact_tail", "register_secret"]

REDACTED = "[redacted]"

_registered: set[str] = set()

_NAMES = (
    r"pass(?:word|wd)?|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|encryption[_-]?key|"
    r"credential|auth(?!\.)|session|cookie|signature"  # auth, not a Slack method name (auth.test)
)
_SECRET_NAME = re.compile(rf"(?i:{_NAMES})")
_URL_CREDENTIALS = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s:@\"'<>]+(?::[^/\s@\"'<>]*)?@")
# Authorization: Bearer x / Basic x / a bare value; the scheme stays so the text still says what was sent.
_AUTHORIZATION = re.compile(
    r"(?P<key>\bauthorization[\"']?\s*[:=]\s*[\"']?)(?P<scheme>(?:bearer|basic|token)\s+)?[^\s\"',;}]+",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(?i)\b(?P<scheme>bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{8,}")
_KEY_VALUE = re.compile(
    rf"(?P<key>[A-Za-z0-9_.-]*(?i:{_NAMES})[A-Za-z0-9_.-]*[\"']?)(?P<sep>\s*[=:]\s*)(?P<quote>[\"']?)"
    r"(?P<value>[^\s\"',;&}]+)"
)
_TOKEN_SHAPES = re.compile(
    r"\b(?:"
    r"xox[a-z]-[A-Za-z0-9-]+"  # Slack bot, user, refresh, configuration tokens
    r"|xapp-[A-Za-z0-9-]+"  # Slack app-level tokens
    r"|gh[pousr]_[A-Za-z0-9]{20,}"  # GitHub
    r"|github_pat_[A-Za-z0-9_]{20,}"
    r"|(?:AKIA|ASIA)[A-Z0-9]{16}"  # AWS access key id
    r"|sk-[A-Za-z0-9_-]{20,}"  # OpenAI-style keys
    r"|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"  # JWT
    r"|[A-Za-z0-9]{10}-[A-Za-z0-9]{22}"  # Coder API key: <10-character id>-<22-character secret>
    r"|[A-Fa-f0-9]{32,}"  # long hex
    r"|[A-Za-z0-9+/]{40,}={0,2}"  # long base64
    r")\b"
    r"|(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}=(?![A-Za-z0-9_=-])"  # Fernet keys: URL-safe base64 of 32 bytes
)
_DIGEST_LABEL = re.compile(r"(?i)\b(?:sha(?:1|224|256|384|512)?|md5|digest|checksum)[\s:=-]*$")
_KEYWORD_VALUES = frozenset({"bearer", "basic", "token"})


def register_secret(secret: str) -> None:
    """Remember a secret this process holds (a session token) so :func:`redact` removes it wherever it is."""
    if len(secret) >= 6:
        _registered.add(secret)


def is_secret_name(name: str) -> bool:
    """Whether a field called ``name`` holds a secret (``token``, ``db_password``, ``Authorization``...)."""
    return _SECRET_NAME.search(name) is not None


def redact(text: str, *, marker: str = REDACTED) -> str:
    """``text`` with every secret recognised replaced by ``marker`` (``[redacted]``)."""
    for secret in _registered:
        if secret in text:
            text = text.replace(secret, marker)
    text = _URL_CREDENTIALS.sub(lambda m: f"{m.group('scheme')}{marker}@", text)
    text = _AUTHORIZATION.sub(lambda m: f"{m.group('key')}{m.group('scheme') or ''}{marker}", text)
    text = _BEARER.sub(lambda m: f"{m.group('scheme')} {marker}", text)

    def key_value(match: re.Match[str]) -> str:
        value = match.group("value")
        if value.lower() in _KEYWORD_VALUES or value.startswith(marker):
            return match.group(0)
        return f"{match.group('key')}{match.group('sep')}{match.group('quote')}{marker}"

    text = _KEY_VALUE.sub(key_value, text)

    def shaped(match: re.Match[str]) -> str:
        before = match.string[max(0, match.start() - 12) : match.start()]
        if _DIGEST_LABEL.search(before):
            return match.group(0)
        return marker

    return _TOKEN_SHAPES.sub(shaped, text)


def redact_tail(lines: list[str], limit: int = 15, max_chars: int = 2500) -> list[str]:
    """The last ``limit`` lines, redacted and cut to 300 characters each, dropping the oldest until the
    whole tail fits ``max_chars`` (a Block Kit section holds 3,000)."""
    tail = [redact(line.rstrip())[:300] for line in lines[-limit:]]
    while tail and sum(len(line) + 1 for line in tail) > max_chars:
        tail.pop(0)
    return tail
