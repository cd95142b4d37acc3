"""Where the client finds its URL, token and extra headers.

Order, first hit wins: explicit arguments; the environment (``CODER_URL``, ``CODER_SESSION_TOKEN``,
``CODER_HEADER``); the ``coder`` CLI's login files ``url`` and ``session`` in its config dir
(``CODER_CONFIG_DIR``, else ``$XDG_CONFIG_HOME/coderv2`` / ``~/.config/coderv2`` on Linux,
``~/Library/Application Support/coderv2`` on macOS, ``%AppData%\\coderv2`` on Windows). A user who ran
``coder login`` needs nothing else. On macOS/Windows newer CLIs keep the token in the OS keyring, which
this module does not read: set ``CODER_SESSION_TOKEN`` there.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigurationError
from .redaction import register_secret

__all__ = ["ClientConfig", "default_config_dir", "resolve_config"]


@dataclass(frozen=True)
class ClientConfig:
    url: str
    token: str = field(repr=False)
    headers: dict[str, str] = field(default_factory=dict)
    source: str = ""

    def __repr__(self) -> str:
        return f"ClientConfig(url={self.url!r}, token=<redacted>, source={self.source!r})"


def default_config_dir(env: Mapping[str, str] | None = None) -> Path:
    """The ``coder`` CLI's config dir on this platform, honouring ``CODER_CONFIG_DIR`` and XDG."""
    env = os.environ if env is None else env
    if env.get("CODER_CONFIG_DIR"):
        return Path(env["CODER_CONFIG_DIR"]).expanduser()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "coderv2"
    if sys.platform == "win32":
        return Path(env.get("APPDATA", str(Path.home() / "AppData" / "Roaming"))) / "coderv2"
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "coderv2"


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise ConfigurationError(f"Could not read {path}: {exc.strerror}. Check its permissions.") from None


def parse_headers(value: str) -> dict[str, str]:
    """``CODER_HEADER`` as the CLI reads it: comma-separated ``Name=value`` pairs."""
    headers: dict[str, str] = {}
    for item in value.split(","):
        if not item.strip():
            continue
        name, sep, header_value = item.partition("=")
        if not sep or not name.strip():
            raise ConfigurationError(
                f"CODER_HEADER entry {item.strip()!r} is not Name=value; "
                "write e.g. CODER_HEADER='X-Proxy-Auth=abc,X-Team=data'."
            )
        headers[name.strip()] = header_value.strip()
    return headers


def _normalise_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if url.endswith("/api/v2"):
        url = url[: -len("/api/v2")]
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(
            f"The Coder URL {url!r} must start with http:// or https:// (e.g. https://coder.example.com)."
        )
    return url


def resolve_config(
    url: str | None = None,
    token: str | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    config_dir: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> ClientConfig:
    """Find URL, token and extra headers; raise :class:`ConfigurationError` naming every place looked."""
    env = os.environ if env is None else env
    directory = Path(config_dir).expanduser() if config_dir is not None else default_config_dir(env)
    sources: list[str] = []

    found_url, url_from = url, "argument url="
    if not found_url and env.get("CODER_URL"):
        found_url, url_from = env["CODER_URL"], "CODER_URL"
    if not found_url:
        found_url, url_from = _read(directory / "url"), str(directory / "url")

    found_token, token_from = token, "argument token="
    if not found_token and env.get("CODER_SESSION_TOKEN"):
        found_token, token_from = env["CODER_SESSION_TOKEN"], "CODER_SESSION_TOKEN"
    if not found_token:
        found_token, token_from = _read(directory / "session"), str(directory / "session")

    missing = []
    if not found_url:
        missing.append(f"no URL (looked at: url= argument, CODER_URL, {directory / 'url'})")
    if not found_token:
        missing.append(
            f"no session token (looked at: token= argument, CODER_SESSION_TOKEN, {directory / 'session'})"
        )
    if missing:
        raise ConfigurationError(
            "Cannot connect to Coder: "
            + "; ".join(missing)
            + ". Run `coder login <url>`, or set CODER_URL and CODER_SESSION_TOKEN, or pass url= and token=."
        )
    assert found_url is not None and found_token is not None
    register_secret(found_token.strip())
    sources.extend([f"url from {url_from}", f"token from {token_from}"])
    extra = parse_headers(env.get("CODER_HEADER", ""))
    extra.update(headers or {})
    return ClientConfig(_normalise_url(found_url), found_token.strip(), extra, ", ".join(sources))
