"""Persistence for coder_slack: every table (the command surface's in ``tables``, the alert engine's in
``alert_tables``), the one engine factory with its pragmas, transactions, and Alembic migrations run at
start-up.

``CODER_SLACK_DATABASE_URL`` picks the database: a SQLite file by default, PostgreSQL (``postgresql://…``, via
psycopg) for several replicas.
"""

from coder_slack.store.alert_tables import (
    AlertCard,
    AlertDestination,
    AlertDigest,
    AlertLease,
    AlertLedgerEntry,
    AlertMeta,
    AlertOutboxItem,
    AlertWorkspace,
)
from coder_slack.store.coder_oauth_tables import CoderOAuthGrant, CoderOAuthState
from coder_slack.store.engine import (
    SessionFactory,
    alembic_config,
    async_url,
    create_engine_for,
    create_session_factory,
    create_sync_engine_for,
    is_postgres,
    sync_url,
    upgrade_database,
    upgrade_database_async,
)
from coder_slack.store.home_tables import HomeTab
from coder_slack.store.notification_tables import NOTIFICATION_STATUSES, CoderNotification
from coder_slack.store.rotation import KeyRotation, rotate_link_tokens
from coder_slack.store.tables import (
    ALL_EVENTS,
    DEFAULT_EVENTS,
    AuditEntry,
    Base,
    Identity,
    StatusCard,
    Subscription,
    UserLink,
    UserSettings,
    utcnow,
)
from coder_slack.store.timing_tables import StartupDuration
from coder_slack.store.transactions import (
    ThreadTransactions,
    Transactions,
    any_of,
    aware,
    dialect_insert,
    dialect_of,
    insert_ignoring_conflicts,
    insert_new_rows,
)

__all__ = [
    "ALL_EVENTS",
    "DEFAULT_EVENTS",
    "NOTIFICATION_STATUSES",
    "AlertCard",
    "AlertDestination",
    "AlertDigest",
    "AlertLease",
    "AlertLedgerEntry",
    "AlertMeta",
    "AlertOutboxItem",
    "AlertWorkspace",
    "AuditEntry",
    "Base",
    "CoderNotification",
    "CoderOAuthGrant",
    "CoderOAuthState",
    "HomeTab",
    "Identity",
    "KeyRotation",
    "SessionFactory",
    "StartupDuration",
    "StatusCard",
    "Subscription",
    "ThreadTransactions",
    "Transactions",
    "UserLink",
    "UserSettings",
    "alembic_config",
    "any_of",
    "async_url",
    "aware",
    "create_engine_for",
    "create_session_factory",
    "create_sync_engine_for",
    "dialect_insert",
    "dialect_of",
    "insert_ignoring_conflicts",
    "insert_new_rows",
    "is_postgres",
    "rotate_link_tokens",
    "sync_url",
    "upgrade_database",
    "upgrade_database_async",
    "utcnow",
]
