"""`make demo` end to end: the orchestrator starts coder-sim and the Slack console, a script creates a
workspace, and the status card the user sees reaches ready with a startup duration."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_creates_a_workspace_that_becomes_ready(tmp_path: Path) -> None:
    script = tmp_path / "lines.txt"
    script.write_text("/workspace create python-ds e2e project_name=e2e-demo\n/workspace status e2e\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CODER_", "SLACK_"))}
    env["CODER_SLACK_DATABASE_URL"] = f"sqlite:///{tmp_path / 'bot.sqlite'}"
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "demo.py"),
            "--script",
            str(script),
            "--no-jupyter",
            "--sim-port",
            "0",
            "--speed",
            "10",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-3000:]
    assert "coder-sim answers at http://127.0.0.1:" in out
    assert "alice/e2e" in out
    assert "✅ ready" in out, out[-3000:]
    assert "startup took" in out
    assert "Traceback" not in out
