"""Server-extension settings, as a traitlets Configurable (`c.CoderConfig.url = ...`)."""

from __future__ import annotations

from pathlib import Path

from traitlets import Float, Unicode
from traitlets.config import Configurable


class CoderConfig(Configurable):  # type: ignore[misc]
    """Where the Jupyter server's Coder routes send their requests.

    Anything left empty falls back to coder_client's discovery: `CODER_URL`, `CODER_SESSION_TOKEN`,
    `CODER_CONFIG_DIR`, then the `coder` CLI's login files.
    """

    url = Unicode("", help="Coder deployment URL, e.g. https://coder.example.com. Empty: discover.").tag(
        config=True
    )
    token = Unicode("", help="Coder session token. Prefer token_file or the environment.").tag(config=True)
    token_file = Unicode("", help="A file holding the Coder session token (read at start-up).").tag(
        config=True
    )
    events_keepalive_seconds = Float(
        8.0, help="Seconds between keepalive comments on the events stream, so proxies keep it open."
    ).tag(config=True)

    panel_sweep_seconds = Float(
        10.0,
        help="Seconds between the sidebar's listings of your workspaces, which only find workspaces that "
        "appeared or went away (changes to known ones arrive over their watch at once).",
    ).tag(config=True)

    def resolved_token(self) -> str | None:
        if self.token:
            return str(self.token)
        if self.token_file:
            path = Path(self.token_file).expanduser()
            try:
                return path.read_text().strip() or None
            except OSError as exc:
                raise ValueError(
                    f"CoderConfig.token_file {str(path)!r} could not be read ({exc.strerror}); "
                    "point it at a file holding your Coder session token."
                ) from exc
        return None

    def resolved_url(self) -> str | None:
        return str(self.url) or None
