"""SQLite storage of one sandbox: the CRM data of every tenant, and the login state.

Two files live in the data directory:
- ``crm.sqlite3``: tenants, associates, companies, persons, selections, favourites,
  appointments. ``pristine.sqlite3`` is the seeded copy a reset restores from.
- ``auth.sqlite3``: codes, tokens and consents. A data reset leaves it alone, so a
  product holding a token keeps working across the resets tests do between cases.

One connection per file, guarded by one lock: the sandbox is a single process, and a
serialised SQLite connection is far faster than the HTTP around it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CRM_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tenant (
    ctx TEXT PRIMARY KEY, company_name TEXT NOT NULL, serial TEXT NOT NULL,
    owner_contact_id INTEGER NOT NULL, version TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS associate (
    tenant TEXT NOT NULL, associate_id INTEGER NOT NULL, person_id INTEGER NOT NULL,
    contact_id INTEGER NOT NULL, login TEXT NOT NULL, first_name TEXT NOT NULL,
    last_name TEXT NOT NULL, email TEXT NOT NULL, user_name TEXT NOT NULL,
    is_administrator INTEGER NOT NULL, user_type TEXT NOT NULL, is_active INTEGER NOT NULL,
    group_id INTEGER NOT NULL, role_name TEXT NOT NULL,
    PRIMARY KEY (tenant, associate_id)
);
CREATE INDEX IF NOT EXISTS associate_email ON associate (email);
CREATE TABLE IF NOT EXISTS contact (
    tenant TEXT NOT NULL, contact_id INTEGER NOT NULL, name TEXT NOT NULL,
    department TEXT NOT NULL, orgnr TEXT NOT NULL, city TEXT NOT NULL, phone TEXT NOT NULL,
    email TEXT NOT NULL, url TEXT NOT NULL, country_code TEXT NOT NULL, country_name TEXT NOT NULL,
    associate_id INTEGER NOT NULL, category TEXT NOT NULL, created TEXT NOT NULL,
    updated TEXT NOT NULL, deleted INTEGER NOT NULL DEFAULT 0,
    street_line1 TEXT NOT NULL DEFAULT '', street_line2 TEXT NOT NULL DEFAULT '',
    street_line3 TEXT NOT NULL DEFAULT '', street_zip TEXT NOT NULL DEFAULT '',
    street_city TEXT NOT NULL DEFAULT '', street_county TEXT NOT NULL DEFAULT '',
    street_state TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant, contact_id)
);
CREATE TABLE IF NOT EXISTS person (
    tenant TEXT NOT NULL, person_id INTEGER NOT NULL, contact_id INTEGER NOT NULL,
    first_name TEXT NOT NULL, middle_name TEXT NOT NULL, last_name TEXT NOT NULL,
    mrmrs TEXT NOT NULL, job_title TEXT NOT NULL, position_id INTEGER NOT NULL,
    position TEXT NOT NULL, email TEXT NOT NULL, office_phone TEXT NOT NULL,
    mobile_phone TEXT NOT NULL, private_phone TEXT NOT NULL, birth_date TEXT,
    retired INTEGER NOT NULL DEFAULT 0, is_associate INTEGER NOT NULL DEFAULT 0,
    person_number TEXT NOT NULL, associate_id INTEGER NOT NULL, created TEXT NOT NULL,
    updated TEXT NOT NULL, updated_by INTEGER NOT NULL,
    PRIMARY KEY (tenant, person_id)
);
CREATE INDEX IF NOT EXISTS person_contact ON person (tenant, contact_id);
CREATE TABLE IF NOT EXISTS selection (
    tenant TEXT NOT NULL, selection_id INTEGER NOT NULL, name TEXT NOT NULL,
    description TEXT NOT NULL, selection_type TEXT NOT NULL,
    target_table_number INTEGER NOT NULL, target_table_name TEXT NOT NULL,
    associate_id INTEGER NOT NULL, created TEXT NOT NULL, updated TEXT NOT NULL,
    last_membership_change TEXT NOT NULL, last_membership_change_by INTEGER NOT NULL,
    criteria TEXT NOT NULL DEFAULT '', left_selection_id INTEGER NOT NULL DEFAULT 0,
    right_selection_id INTEGER NOT NULL DEFAULT 0, union_type TEXT NOT NULL DEFAULT 'Unknown',
    PRIMARY KEY (tenant, selection_id)
);
CREATE TABLE IF NOT EXISTS selection_member (
    tenant TEXT NOT NULL, member_id INTEGER NOT NULL, selection_id INTEGER NOT NULL,
    contact_id INTEGER NOT NULL, person_id INTEGER NOT NULL,
    target_record_id INTEGER NOT NULL DEFAULT 0, label TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant, member_id)
);
CREATE INDEX IF NOT EXISTS member_selection ON selection_member (tenant, selection_id, person_id);
CREATE TABLE IF NOT EXISTS favourite (
    tenant TEXT NOT NULL, associate_id INTEGER NOT NULL, table_name TEXT NOT NULL,
    record_id INTEGER NOT NULL, registered TEXT NOT NULL, rank INTEGER NOT NULL,
    PRIMARY KEY (tenant, associate_id, table_name, record_id)
);
CREATE TABLE IF NOT EXISTS appointment (
    tenant TEXT NOT NULL, appointment_id INTEGER NOT NULL, associate_id INTEGER NOT NULL,
    mother_id INTEGER NOT NULL, contact_id INTEGER NOT NULL, person_id INTEGER NOT NULL,
    invited_person_id INTEGER NOT NULL DEFAULT 0, title TEXT NOT NULL,
    description TEXT NOT NULL, location TEXT NOT NULL, start_date TEXT NOT NULL,
    end_date TEXT NOT NULL, raw_type INTEGER NOT NULL, raw_status INTEGER NOT NULL,
    booking_type TEXT NOT NULL, invitation_status TEXT NOT NULL, created TEXT NOT NULL,
    updated TEXT NOT NULL,
    PRIMARY KEY (tenant, appointment_id)
);
CREATE INDEX IF NOT EXISTS appointment_diary ON appointment (tenant, associate_id, start_date);
CREATE INDEX IF NOT EXISTS appointment_mother ON appointment (tenant, mother_id);
"""

# Columns added to the CRM schema after data directories were first seeded: a file seeded
# before gains them, empty, when opened (its companies have no street address until the
# data directory is seeded again).
CRM_ADDED_COLUMNS: dict[str, tuple[str, ...]] = {
    "contact": (
        "street_line1",
        "street_line2",
        "street_line3",
        "street_zip",
        "street_city",
        "street_county",
        "street_state",
    ),
}

AUTH_SCHEMA = """
CREATE TABLE IF NOT EXISTS authorization_code (
    code TEXT PRIMARY KEY, client_id TEXT NOT NULL, redirect_uri TEXT NOT NULL,
    tenant TEXT NOT NULL, associate_id INTEGER NOT NULL, nonce TEXT,
    code_challenge TEXT, code_challenge_method TEXT, expires_at REAL NOT NULL,
    used INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS access_token (
    token TEXT PRIMARY KEY, tenant TEXT NOT NULL, associate_id INTEGER NOT NULL,
    client_id TEXT NOT NULL, issued_at REAL NOT NULL, expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS refresh_token (
    token TEXT PRIMARY KEY, tenant TEXT NOT NULL, associate_id INTEGER NOT NULL,
    client_id TEXT NOT NULL, issued_at REAL NOT NULL, nonce TEXT
);
CREATE TABLE IF NOT EXISTS consent_revocation (
    tenant TEXT NOT NULL, associate_id INTEGER NOT NULL, client_id TEXT NOT NULL,
    revoked_at REAL NOT NULL,
    PRIMARY KEY (tenant, associate_id, client_id)
);
"""


# Positional (``?``) or named (``:name``) parameters, as sqlite3 takes them.
Parameters = Sequence[Any] | Mapping[str, Any]


def _casefold(value: object) -> str | None:
    """SQLite's NOCASE folds ASCII only; names here come in Cyrillic, Greek and Kana too."""
    if value is None:
        return None
    return str(value).casefold()


class Database:
    """One SQLite file behind one lock."""

    def __init__(self, *, path: Path, schema: str) -> None:
        self.path = path
        self.lock = threading.RLock()
        self.connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.connection.row_factory = sqlite3.Row
        self.connection.create_function("so_fold", 1, _casefold, deterministic=True)
        self.connection.execute("PRAGMA journal_mode = MEMORY")
        self.connection.execute("PRAGMA synchronous = OFF")
        self.connection.executescript(schema)
        if schema == CRM_SCHEMA:
            self.add_missing_columns(added=CRM_ADDED_COLUMNS)

    def add_missing_columns(self, *, added: Mapping[str, Sequence[str]]) -> None:
        """Text columns (empty by default) a file created by an older schema lacks."""
        for table, columns in added.items():
            present = {row[1] for row in self.connection.execute(f"PRAGMA table_info({table})")}
            for column in columns:
                if column not in present:
                    self.connection.execute(
                        f"ALTER TABLE {table} ADD COLUMN {column} TEXT NOT NULL DEFAULT ''"
                    )

    def query(self, sql: str, params: Parameters = ()) -> list[sqlite3.Row]:
        with self.lock:
            return self.connection.execute(sql, params).fetchall()

    def query_one(self, sql: str, params: Parameters = ()) -> sqlite3.Row | None:
        with self.lock:
            row: sqlite3.Row | None = self.connection.execute(sql, params).fetchone()
            return row

    def scalar(self, sql: str, params: Parameters = ()) -> Any:
        row = self.query_one(sql, params)
        return None if row is None else row[0]

    def execute(self, sql: str, params: Parameters = ()) -> int:
        """Run one statement in its own transaction; return the number of rows changed."""
        with self.lock:
            return self.connection.execute(sql, params).rowcount

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            self.connection.execute("BEGIN")
            try:
                yield self.connection
            except BaseException:
                self.connection.execute("ROLLBACK")
                raise
            self.connection.execute("COMMIT")

    def copy_from(self, *, source: Path) -> None:
        """Replace every table with the contents of another database file."""
        with self.lock:
            origin = sqlite3.connect(source)
            try:
                origin.backup(self.connection)
            finally:
                origin.close()

    def copy_to(self, *, destination: Path) -> None:
        with self.lock:
            target = sqlite3.connect(destination)
            try:
                self.connection.backup(target)
            finally:
                target.close()

    def close(self) -> None:
        with self.lock:
            self.connection.close()
