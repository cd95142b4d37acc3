"""`coder-slack rotate-key`: stored tokens move to the newest key, once, in one transaction, never printed."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import pytest
from coder_slack.cli import main
from coder_slack.crypto import TokenCipher, UndecryptableToken, generate_key
from coder_slack.store import UserLink, create_sync_engine_for, upgrade_database
from sqlalchemy import select
from sqlalchemy.orm import Session
from test_cli import CLEAN_ENV

TOKENS = {f"U0USER{n}": f"abcdefghi{n}-{n}secretsecretsecretsecre" for n in range(4)}


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


def rotate_key(database_url: str, keys: str, *args: str) -> Run:
    """``coder-slack rotate-key`` in this process (one run below goes through a real process)."""
    env = {**CLEAN_ENV, "CODER_SLACK_DATABASE_URL": database_url, "CODER_SLACK_ENCRYPTION_KEY": keys}
    with pytest.MonkeyPatch.context() as patch:
        for name in os.environ.keys() - env.keys():
            patch.delenv(name)
        for name, value in env.items():
            patch.setenv(name, value)
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            returncode = main(["rotate-key", *args])
    return Run(returncode, stdout.getvalue(), stderr.getvalue())


def rotate_key_process(database_url: str, keys: str, *args: str) -> Any:
    env = {**CLEAN_ENV, "CODER_SLACK_DATABASE_URL": database_url, "CODER_SLACK_ENCRYPTION_KEY": keys}
    return subprocess.run(
        [sys.executable, "-m", "coder_slack.cli", "rotate-key", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def store_links(database_url: str, encrypted_with: dict[str, str]) -> None:
    """One link per Slack user in ``TOKENS``, encrypted with the key ``encrypted_with`` names for it."""
    upgrade_database(database_url)
    engine = create_sync_engine_for(database_url)
    with Session(engine) as session:
        for slack_user, token in TOKENS.items():
            session.add(
                UserLink(
                    team_id="T0TEAM",
                    slack_user_id=slack_user,
                    coder_user_id=f"id-{slack_user}",
                    coder_username=slack_user.lower(),
                    coder_url="https://coder.example.com",
                    token_ciphertext=TokenCipher(encrypted_with[slack_user]).encrypt(token),
                )
            )
        session.commit()
    engine.dispose()


def stored_ciphertexts(database_url: str) -> dict[str, str]:
    engine = create_sync_engine_for(database_url)
    with engine.connect() as connection:
        rows = connection.execute(select(UserLink.slack_user_id, UserLink.token_ciphertext)).all()
    engine.dispose()
    return {row.slack_user_id: row.token_ciphertext for row in rows}


def check_rotation(database_url: str) -> None:
    old, older, new, lost = generate_key(), generate_key(), generate_key(), generate_key()
    store_links(
        database_url,
        {"U0USER0": old, "U0USER1": older, "U0USER2": new, "U0USER3": lost},
    )
    before = stored_ciphertexts(database_url)

    dry = rotate_key(database_url, f"{new},{old},{older}", "--dry-run")
    assert dry.returncode == 1, dry.stderr  # one token cannot be read by any key
    assert "4 linked tokens stored: would re-encrypt 2 with the first key; 1 already used it." in dry.stdout
    assert stored_ciphertexts(database_url) == before

    first = rotate_key_process(database_url, f"{new},{old},{older}")
    assert first.returncode == 1, first.stderr
    assert "4 linked tokens stored: re-encrypted 2 with the first key; 1 already used it." in first.stdout
    assert "1 token could not be decrypted with any of the 3 given keys" in first.stdout
    assert "T0TEAM/U0USER3" in first.stdout and "/workspace login" in first.stdout
    output = first.stdout + first.stderr
    for token in TOKENS.values():
        assert token not in output
    for key in (old, older, new, lost):
        assert key not in output

    after = stored_ciphertexts(database_url)
    only_new = TokenCipher(new)
    for slack_user in ("U0USER0", "U0USER1", "U0USER2"):
        assert only_new.decrypt(after[slack_user]) == TOKENS[slack_user]
    assert after["U0USER2"] == before["U0USER2"]  # already under the newest key: untouched
    assert after["U0USER3"] == before["U0USER3"]  # unreadable: left for its owner to relink
    with pytest.raises(UndecryptableToken):
        only_new.decrypt(after["U0USER3"])

    second = rotate_key(database_url, f"{new},{old},{older}")
    assert "re-encrypted 0 with the first key; 3 already used it." in second.stdout
    assert stored_ciphertexts(database_url) == after

    with_lost_key = rotate_key(database_url, f"{new},{lost}")
    assert with_lost_key.returncode == 0, with_lost_key.stdout + with_lost_key.stderr
    assert "re-encrypted 1 with the first key; 3 already used it." in with_lost_key.stdout
    assert "the other keys can be removed" in with_lost_key.stdout
    assert only_new.decrypt(stored_ciphertexts(database_url)["U0USER3"]) == TOKENS["U0USER3"]


def test_rotate_key_on_sqlite(sqlite_url: str) -> None:
    check_rotation(sqlite_url)


@pytest.mark.postgres
def test_rotate_key_on_postgres(postgres_url: str) -> None:
    check_rotation(postgres_url)


def test_rotation_is_one_transaction(sqlite_url: str) -> None:
    """A failure half-way leaves every token as it was (nothing is committed row by row)."""
    old, new = generate_key(), generate_key()
    store_links(sqlite_url, dict.fromkeys(TOKENS, old))
    before = stored_ciphertexts(sqlite_url)

    class FailsOnThirdRow(TokenCipher):
        calls = 0

        def rotate(self, ciphertext: str) -> str:
            FailsOnThirdRow.calls += 1
            if FailsOnThirdRow.calls == 3:
                raise RuntimeError("disk full")
            return super().rotate(ciphertext)

    from coder_slack.store import rotate_link_tokens

    with pytest.raises(RuntimeError, match="disk full"):
        rotate_link_tokens(sqlite_url, FailsOnThirdRow(f"{new},{old}"))
    assert stored_ciphertexts(sqlite_url) == before
    report = rotate_link_tokens(sqlite_url, TokenCipher(f"{new},{old}"))
    assert report.rotated == 4 and not report.undecryptable


def test_bad_settings_are_explained_without_secrets(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    missing_key = rotate_key(url, "")
    assert missing_key.returncode == 2 and "needs CODER_SLACK_ENCRYPTION_KEY" in missing_key.stderr
    good = generate_key()
    bad_second = rotate_key(url, f"{good},not-a-key")
    assert bad_second.returncode == 2
    assert "key 2 of 2 in CODER_SLACK_ENCRYPTION_KEY is not a Fernet key" in bad_second.stderr
    assert good not in bad_second.stderr and "Traceback" not in bad_second.stderr
    no_database = rotate_key(url, good)
    assert no_database.returncode == 2 and "no coder-slack tables" in no_database.stderr
    assert not (tmp_path / "bot.db").exists()  # a mistyped path is not created
    unreachable = rotate_key("postgresql://nobody:hunter2@127.0.0.1:9/none", good)
    assert unreachable.returncode == 2 and "cannot rotate the stored tokens" in unreachable.stderr
    assert "hunter2" not in unreachable.stderr and "Traceback" not in unreachable.stderr
