"""Start JupyterLab with the extension pointed at a Coder (or coder-sim) and print the notebooks' URL.

    python -m coder_jupyter.demo --coder-url URL --coder-token TOKEN --port 8888 --notebooks notebooks/

Kernels inherit CODER_URL / CODER_SESSION_TOKEN, so the notebooks use discovery exactly as they would for a
user who ran `coder login`. JupyterLab itself is protected by a fresh random token (printed in the URL).
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx


def lab_command(port: int, notebooks: Path, jupyter_token: str, host: str = "127.0.0.1") -> list[str]:
    return [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        f"--ip={host}",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={jupyter_token}",
        f"--ServerApp.root_dir={notebooks}",
        "--ServerApp.log_level=WARN",
        # Jupyter refuses to run as root without this; containers often are root.
        *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
    ]


def wait_until_up(url: str, token: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"JupyterLab exited with status {process.returncode} before it was ready.")
        try:
            if httpx.get(
                f"{url}/api/status", headers={"Authorization": f"token {token}"}, timeout=2
            ).is_success:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"JupyterLab did not answer on {url} within {timeout:.0f} s.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m coder_jupyter.demo", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--coder-url", default=os.environ.get("CODER_URL"), help="Coder URL (default: $CODER_URL)"
    )
    parser.add_argument(
        "--coder-token",
        default=os.environ.get("CODER_SESSION_TOKEN"),
        help="Coder token (default: $CODER_SESSION_TOKEN)",
    )
    parser.add_argument("--port", type=int, default=8888)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--notebooks", type=Path, default=Path("notebooks"), help="Folder to serve (default: notebooks)"
    )
    args = parser.parse_args(argv)
    if not args.coder_url or not args.coder_token:
        parser.error("give --coder-url and --coder-token (or set CODER_URL and CODER_SESSION_TOKEN)")
    notebooks = args.notebooks.resolve()
    if not notebooks.is_dir():
        parser.error(f"--notebooks {notebooks} is not a folder")

    jupyter_token = secrets.token_urlsafe(24)
    env = {**os.environ, "CODER_URL": args.coder_url, "CODER_SESSION_TOKEN": args.coder_token}
    command = lab_command(args.port, notebooks, jupyter_token, args.host)
    # `make demo` may stop us with SIGTERM; turn it into SystemExit so JupyterLab is stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    process = subprocess.Popen(command, env=env)
    base = f"http://{args.host}:{args.port}"
    try:
        wait_until_up(base, jupyter_token, process)
        print(
            f"JupyterLab with coder_jupyter: {base}/lab/tree/launch.ipynb?token={jupyter_token}", flush=True
        )
        print(f"  notebooks: {base}/lab/tree?token={jupyter_token}   (Ctrl-C stops)", flush=True)
        return process.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    raise SystemExit(main())
