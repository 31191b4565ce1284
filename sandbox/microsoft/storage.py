"""The stand-in's SQLite schema: directories and users, consent and grants, codes and
refresh tokens, contact folders, contacts with their extended properties, and the change
log delta queries read. One file, ``microsoft.sqlite3``, in the data directory."""

from __future__ import annotations

from pathlib import Path

from sandbox.storage import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS directory (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, domain TEXT NOT NULL UNIQUE COLLATE NOCASE,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS account (
    id TEXT PRIMARY KEY, directory_id TEXT NOT NULL, display_name TEXT NOT NULL,
    given_name TEXT, surname TEXT, mail TEXT NOT NULL UNIQUE COLLATE NOCASE,
    is_admin INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS app_consent (
    directory_id TEXT NOT NULL, client_id TEXT NOT NULL, granted INTEGER NOT NULL,
    changed_at REAL NOT NULL, PRIMARY KEY (directory_id, client_id)
);
CREATE TABLE IF NOT EXISTS user_grant (
    user_id TEXT NOT NULL, client_id TEXT NOT NULL, scope TEXT NOT NULL,
    granted_at REAL NOT NULL, revoked_at REAL, PRIMARY KEY (user_id, client_id)
);
CREATE TABLE IF NOT EXISTS auth_code (
    code TEXT PRIMARY KEY, client_id TEXT NOT NULL, redirect_uri TEXT NOT NULL,
    user_id TEXT NOT NULL, scope TEXT NOT NULL, nonce TEXT, challenge TEXT,
    challenge_method TEXT, expires_at REAL NOT NULL, used INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS refresh_token (
    token_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, client_id TEXT NOT NULL,
    scope TEXT NOT NULL, issued_at REAL NOT NULL, redeemed_at REAL,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS folder (
    id TEXT PRIMARY KEY, user_id TEXT NOT NULL, display_name TEXT NOT NULL,
    parent_id TEXT, created TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS folder_user ON folder (user_id);
CREATE TABLE IF NOT EXISTS contact (
    id TEXT PRIMARY KEY, user_id TEXT NOT NULL, folder_id TEXT NOT NULL,
    data TEXT NOT NULL, change_key TEXT NOT NULL, created TEXT NOT NULL,
    modified TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS contact_folder ON contact (folder_id);
CREATE INDEX IF NOT EXISTS contact_user ON contact (user_id);
CREATE TABLE IF NOT EXISTS ext_property (
    contact_id TEXT NOT NULL, prop_key TEXT NOT NULL, prop_id TEXT NOT NULL,
    value TEXT NOT NULL, value_fold TEXT NOT NULL, PRIMARY KEY (contact_id, prop_key)
);
CREATE INDEX IF NOT EXISTS ext_property_lookup ON ext_property (prop_key, value_fold);
CREATE TABLE IF NOT EXISTS change_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT NOT NULL, folder_id TEXT NOT NULL,
    contact_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS change_log_folder ON change_log (folder_id, seq);
"""

DATA_TABLES = (
    "directory", "account", "app_consent", "user_grant", "auth_code", "refresh_token",
    "folder", "contact", "ext_property", "change_log",
)  # fmt: skip


def open_database(*, data_dir: Path, reset: bool) -> Database:
    path = data_dir / "microsoft.sqlite3"
    if reset:
        path.unlink(missing_ok=True)
    return Database(path=path, schema=SCHEMA)


def wipe(*, database: Database) -> None:
    """Delete every directory, user, token and mailbox item; ``meta`` (the delta epoch) stays."""
    with database.transaction() as connection:
        for table in DATA_TABLES:
            connection.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
