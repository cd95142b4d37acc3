"""Redaction of startup-log lines before they are shown in Slack.

Three kinds of secret are removed: credentials inside URLs (``https://user:pass@host``), ``key=value`` /
``key: value`` pairs whose key names a secret (token, password, secret, api_key, ...), and strings shaped like
well-known tokens (Slack, GitHub, AWS, JWT, Coder session tokens, bearer headers, long hex/base64 blobs).
"""

from __future__ import annotations

import re

REDACTED = "[redacted]"

_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<cred>[^/\s:@]+(?::[^/\s@]*)?)@")
_SENSITIVE_NAMES = (
    r"[A-Za-z0-9_.-]*(?:pass(?:word|wd)?|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|"
    r"credential|auth|session|cookie|signature|client[_-]?secret)[A-Za-z0-9_.-]*"
)
_KEY_VALUE = re.compile(
    rf"(?P<key>(?i:{_SENSITIVE_NAMES}))(?P<sep>\s*[=:]\s*)(?P<quote>[\"']?)(?P<value>[^\s\"',;&]+)(?P=quote)"
)
_BEARER = re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{8,}")
_TOKEN_SHAPES = re.compile(
    r"\b(?:"
    r"xox[abposr]-[A-Za-z0-9-]{10,}"  # Slack
    r"|xapp-[A-Za-z0-9-]{10,}"
    r"|gh[pousr]_[A-Za-z0-9]{20,}"  # GitHub
    r"|github_pat_[A-Za-z0-9_]{20,}"
    r"|(?:AKIA|ASIA)[A-Z0-9]{16}"  # AWS access key id
    r"|sk-[A-Za-z0-9_-]{20,}"  # OpenAI-style keys
    r"|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"  # JWT
    r"|[A-Za-z0-9]{10}-[A-Za-z0-9]{22}"  # Coder API key: <id>-<secret>
    r"|[A-Fa-f0-9]{32,}"  # long hex
    r"|[A-Za-z0-9+/]{40,}={0,2}"  # long base64
    r")\b"
)


def _redact_value(match: re.Match[str]) -> str:
    if match.group("value").lower() in ("bearer", "basic", "token", REDACTED):
        return match.group(0)
    return f"{match.group('key')}{match.group('sep')}{match.group('quote')}{REDACTED}{match.group('quote')}"


def redact(line: str) -> str:
    """``line`` with every recognised secret replaced by ``[redacted]``."""
    line = _URL_CREDENTIALS.sub(lambda m: f"{m.group('scheme')}{REDACTED}@", line)
    line = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", line)
    line = _KEY_VALUE.sub(_redact_value, line)
    return _TOKEN_SHAPES.sub(REDACTED, line)


def redact_tail(lines: list[str], limit: int = 15, max_chars: int = 2500) -> list[str]:
    """The last ``limit`` lines, redacted, trimmed so the whole tail fits a Block Kit section."""
    tail = [redact(line.rstrip())[:300] for line in lines[-limit:]]
    while tail and sum(len(line) + 1 for line in tail) > max_chars:
        tail.pop(0)
    return tail
