"""``coder-slack rotate-key``: re-encrypt every stored Coder token with the newest encryption key."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection, inspect, select, update
from sqlalchemy.engine import make_url

from coder_slack.crypto import TokenCipher, UndecryptableToken
from coder_slack.store.coder_oauth_tables import CoderOAuthGrant
from coder_slack.store.engine import create_sync_engine_for
from coder_slack.store.tables import UserLink


@dataclass
class KeyRotation:
    """What a rotation found; never holds a token."""

    schema_found: bool = True
    rotated: int = 0
    already_current: int = 0
    changed_meanwhile: int = 0
    undecryptable: list[tuple[str, str]] = field(default_factory=list)  # (team_id, slack_user_id)
    # Sign in with Coder's refresh tokens (coder_oauth_grants), rotated in the same transaction
    grants_rotated: int = 0
    grants_undecryptable: int = 0

    @property
    def total(self) -> int:
        return self.rotated + self.already_current + self.changed_meanwhile + len(self.undecryptable)


def rotate_link_tokens(url: str, cipher: TokenCipher, *, dry_run: bool = False) -> KeyRotation:
    """Re-encrypt, in one transaction, every linked token an older key encrypted with ``cipher``'s first key.

    Tokens already under the first key are left alone, so a second run changes nothing. Tokens no configured
    key can read are left as they are and reported (their users must link again). Rows are locked while
    rotating on PostgreSQL, and each update only applies if the row still holds the ciphertext that was read,
    so a link stored by a running bot at the same moment is never overwritten with an older token.
    """
    report = KeyRotation()
    if _missing_sqlite_file(url):
        report.schema_found = False
        return report
    engine = create_sync_engine_for(url)
    try:
        with engine.begin() as connection:
            if not inspect(connection).has_table(UserLink.__tablename__):
                report.schema_found = False
                return report
            rows = connection.execute(
                select(
                    UserLink.id, UserLink.team_id, UserLink.slack_user_id, UserLink.token_ciphertext
                ).with_for_update()
            ).all()
            for row in rows:
                if cipher.uses_primary_key(row.token_ciphertext):
                    report.already_current += 1
                    continue
                try:
                    rotated = cipher.rotate(row.token_ciphertext)
                except UndecryptableToken:
                    report.undecryptable.append((row.team_id, row.slack_user_id))
                    continue
                if dry_run:
                    report.rotated += 1
                    continue
                result = connection.execute(
                    update(UserLink)
                    .where(UserLink.id == row.id, UserLink.token_ciphertext == row.token_ciphertext)
                    .values(token_ciphertext=rotated, updated_at=UserLink.updated_at)
                )
                if result.rowcount == 1:
                    report.rotated += 1
                else:
                    report.changed_meanwhile += 1
            if inspect(connection).has_table(CoderOAuthGrant.__tablename__):
                _rotate_grants(connection, cipher, report, dry_run=dry_run)
    finally:
        engine.dispose()
    return report


def _rotate_grants(
    connection: Connection, cipher: TokenCipher, report: KeyRotation, *, dry_run: bool
) -> None:
    grants = connection.execute(
        select(
            CoderOAuthGrant.team_id, CoderOAuthGrant.slack_user_id, CoderOAuthGrant.refresh_token_ciphertext
        ).with_for_update()
    ).all()
    for grant in grants:
        if cipher.uses_primary_key(grant.refresh_token_ciphertext):
            continue
        try:
            rotated = cipher.rotate(grant.refresh_token_ciphertext)
        except UndecryptableToken:
            report.grants_undecryptable += 1
            continue
        if not dry_run:
            connection.execute(
                update(CoderOAuthGrant)
                .where(
                    CoderOAuthGrant.team_id == grant.team_id,
                    CoderOAuthGrant.slack_user_id == grant.slack_user_id,
                    CoderOAuthGrant.refresh_token_ciphertext == grant.refresh_token_ciphertext,
                )
                .values(refresh_token_ciphertext=rotated, updated_at=CoderOAuthGrant.updated_at)
            )
        report.grants_rotated += 1


def _missing_sqlite_file(url: str) -> bool:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return False
    database = parsed.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return False
    return not Path(database).expanduser().exists()
