"""`jupyter labextension build` against the installed JupyterLab's own core metadata, so it works offline.

jupyter_builder otherwise resolves `@jupyterlab/core-meta` from the npm registry and then GitHub
(docs/reference/jupyter.md §7); the JupyterLab that builds us ships that file in its `staging/` folder.
Extra arguments (e.g. `--development`) are passed through.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jupyterlab


def main(argv: list[str]) -> int:
    staging = Path(jupyterlab.__file__).parent / "staging"
    here = Path(__file__).resolve().parent.parent
    command = [sys.executable, "-m", "jupyterlab.labextensions", "build", str(here)]
    return subprocess.call([*command, "--core-path", str(staging), *argv], env=os.environ.copy())


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
