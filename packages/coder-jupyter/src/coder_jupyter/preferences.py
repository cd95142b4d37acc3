"""Per-user choices the sidebar's form and the notebook launcher share: the template chosen last.

Kept in the user's Jupyter data directory (``jupyter --data-dir``, or ``$JUPYTER_DATA_DIR``) as
``coder_jupyter/preferences.json``, so the server's routes and every kernel of the same user read the same
file. A missing or unreadable file means "no preference": a form then starts with no template chosen.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from jupyter_core.paths import jupyter_data_dir

__all__ = [
    "MAX_TEMPLATE_NAME",
    "Preferences",
    "load_preferences",
    "preferences_path",
    "remember_template",
    "save_preferences",
]

log = logging.getLogger("coder_jupyter.preferences")

MAX_TEMPLATE_NAME = 200


@dataclass(frozen=True)
class Preferences:
    last_template: str | None = None


def preferences_path() -> Path:
    return Path(jupyter_data_dir()) / "coder_jupyter" / "preferences.json"


def load_preferences(path: Path | None = None) -> Preferences:
    where = path or preferences_path()
    try:
        raw = json.loads(where.read_text())
    except FileNotFoundError:
        return Preferences()
    except (OSError, ValueError) as exc:
        log.info("ignoring the unreadable Coder preferences file %s (%s)", where, exc)
        return Preferences()
    last = raw.get("last_template") if isinstance(raw, dict) else None
    ok = isinstance(last, str) and 0 < len(last) <= MAX_TEMPLATE_NAME
    return Preferences(last_template=last if ok else None)


def save_preferences(preferences: Preferences, path: Path | None = None) -> None:
    """Write atomically (a reader never sees half a file; two writers: the last one wins)."""
    where = path or preferences_path()
    where.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=where.parent, prefix=".preferences-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(asdict(preferences), out)
        os.replace(temporary, where)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def remember_template(name: str, path: Path | None = None) -> None:
    """Record the template a workspace was just created from; a failure to write is logged, not raised."""
    try:
        if load_preferences(path).last_template != name:
            save_preferences(Preferences(last_template=name), path)
    except OSError as exc:
        log.info("could not record the last template used (%s)", exc)
