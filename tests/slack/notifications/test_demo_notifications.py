"""`make demo`: coder-sim's notification webhook is wired to the console bot, so a notification arrives as a
DM in the console."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_the_demo_shows_a_coder_notification_arriving_as_a_dm(tmp_path: Path) -> None:
    script = tmp_path / "lines.txt"
    script.write_text("/workspace create failing-build nb\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CODER_", "SLACK_"))}
    env["CODER_SLACK_DATABASE_URL"] = f"sqlite:///{tmp_path / 'bot.sqlite'}"
    demo = [sys.executable, str(ROOT / "scripts" / "demo.py"), "--script", str(script), "--no-jupyter"]
    result = subprocess.run(
        [*demo, "--sim-port", "0", "--speed", "10"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-3000:]
    assert "Coder's notifications (coder-sim sends them to this bot)" in out
    # Coder sends "manual build failed" to template admins: Ada Admin's DM.
    found = re.search(r"── #D0ADMIN · bot posted · ts [0-9.]+ ──\n(?P<message>(│.*\n?)+)", out)
    assert found is not None, out[-3000:]
    assert "manual build failed*" in found["message"]
    assert "[Restart]" in found["message"]
    assert "Traceback" not in out
