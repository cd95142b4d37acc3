"""The demo entry point's argument handling (the full start is exercised by the browser test's recipe)."""

from __future__ import annotations

from pathlib import Path

import pytest
from coder_jupyter.demo import lab_command, main


def test_missing_coder_settings_is_a_clear_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CODER_URL", raising=False)
    monkeypatch.delenv("CODER_SESSION_TOKEN", raising=False)
    with pytest.raises(SystemExit) as exited:
        main([])
    assert exited.value.code == 2
    assert "--coder-url and --coder-token" in capsys.readouterr().err


def test_notebooks_folder_must_exist(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--coder-url", "http://x", "--coder-token", "t", "--notebooks", str(tmp_path / "nope")])
    assert "is not a folder" in capsys.readouterr().err


def test_lab_is_token_protected_and_serves_the_notebooks(tmp_path: Path) -> None:
    command = lab_command(8899, tmp_path, "secret-token")
    assert "--IdentityProvider.token=secret-token" in command
    assert f"--ServerApp.root_dir={tmp_path}" in command
    assert "--port=8899" in command
