from __future__ import annotations

import os
from pathlib import Path

import pytest
from coder_client import CoderClient, ConfigurationError, default_config_dir, resolve_config
from coder_sim import SimServer


def write_login(
    directory: Path, url: str = "https://coder.example.com", session: str = "abcdef-0123456789"
) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "url").write_text(url + "\n")
    (directory / "session").write_text(f"  {session}\n")
    os.chmod(directory / "session", 0o600)


def test_cli_login_files_are_enough(tmp_path: Path) -> None:
    write_login(tmp_path / "coderv2")
    config = resolve_config(env={"CODER_CONFIG_DIR": str(tmp_path / "coderv2")})
    assert config.url == "https://coder.example.com"
    assert config.token == "abcdef-0123456789"


def test_xdg_config_home_is_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_login(tmp_path / "xdg" / "coderv2")
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    assert default_config_dir(env) == tmp_path / "xdg" / "coderv2"
    assert resolve_config(env=env).url == "https://coder.example.com"


def test_environment_beats_files_and_arguments_beat_environment(tmp_path: Path) -> None:
    write_login(tmp_path)
    env = {
        "CODER_CONFIG_DIR": str(tmp_path),
        "CODER_URL": "https://env.example.com/",
        "CODER_SESSION_TOKEN": "envtoken-1",
    }
    from_env = resolve_config(env=env)
    assert (from_env.url, from_env.token) == ("https://env.example.com", "envtoken-1")
    explicit = resolve_config("http://arg.example.com/api/v2", "argtoken-1", env=env)
    assert (explicit.url, explicit.token) == ("http://arg.example.com", "argtoken-1")


def test_coder_header_adds_headers(tmp_path: Path) -> None:
    env = {"CODER_HEADER": "X-Proxy-Auth=abc, X-Team=data", "CODER_CONFIG_DIR": str(tmp_path)}
    config = resolve_config("https://c.example.com", "tok-123456", env=env)
    assert config.headers == {"X-Proxy-Auth": "abc", "X-Team": "data"}
    with pytest.raises(ConfigurationError, match="not Name=value"):
        resolve_config("https://c.example.com", "tok-123456", env={"CODER_HEADER": "nonsense"})


def test_missing_configuration_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        resolve_config(env={"CODER_CONFIG_DIR": str(tmp_path)})
    message = str(caught.value)
    assert "CODER_URL" in message and "CODER_SESSION_TOKEN" in message
    assert str(tmp_path / "url") in message and str(tmp_path / "session") in message
    assert "coder login" in message


def test_url_must_be_http(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="must start with http"):
        resolve_config("coder.example.com", "tok-123456", env={})


def test_client_repr_and_config_never_show_the_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_login(tmp_path, session="supersecret-token-value")
    monkeypatch.setenv("CODER_CONFIG_DIR", str(tmp_path))
    monkeypatch.delenv("CODER_URL", raising=False)
    monkeypatch.delenv("CODER_SESSION_TOKEN", raising=False)
    with CoderClient() as client:
        assert client.url == "https://coder.example.com"
        assert "supersecret" not in repr(client)
        assert "supersecret" not in repr(client.config)


def test_client_discovered_from_cli_login_talks_to_the_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sim: SimServer
) -> None:
    write_login(tmp_path / "coderv2", url=sim.url, session=sim.user_tokens["alice"])
    monkeypatch.setenv("CODER_CONFIG_DIR", str(tmp_path / "coderv2"))
    monkeypatch.delenv("CODER_URL", raising=False)
    monkeypatch.delenv("CODER_SESSION_TOKEN", raising=False)
    with CoderClient() as coder:
        assert coder.users.me().username == "alice"
    monkeypatch.setenv("CODER_SESSION_TOKEN", sim.token)  # the environment beats the login files
    with CoderClient() as coder:
        assert coder.users.me().username == "admin"
