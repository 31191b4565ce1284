"""Directories (tenants), their users, the app's admin consent and users' delegated grants.

Tenant names in URLs resolve to a directory by id or by verified domain; ``common`` and
``organizations`` stand for "any directory" and never resolve to one.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from sandbox.microsoft.config import APP_PERMISSIONS
from sandbox.storage import Database

MULTI_TENANT_NAMES = ("common", "organizations")


class DirectoryError(ValueError):
    """A control request that makes no sense; the message says why."""


def create_directory(*, database: Database, name: str, domain: str) -> dict[str, Any]:
    name, domain = name.strip(), domain.strip().lower()
    if not name or not domain or "." not in domain:
        raise DirectoryError("A directory needs a name and a domain such as contoso.example")
    directory_id = str(uuid.uuid4())
    try:
        database.execute(
            "INSERT INTO directory (id, name, domain, created) VALUES (?, ?, ?, ?)",
            (directory_id, name, domain, datetime.now(UTC).isoformat()),
        )
    except sqlite3.IntegrityError as error:
        raise DirectoryError(f"The domain {domain} belongs to another directory") from error
    return {"id": directory_id, "name": name, "domain": domain}


def create_user(
    *, database: Database, directory_id: str, display_name: str, mail: str, is_admin: bool
) -> dict[str, Any]:
    if find_directory(database=database, tenant=directory_id) is None:
        raise DirectoryError(f"No directory {directory_id}")
    display_name, mail = display_name.strip(), mail.strip()
    if not display_name or "@" not in mail:
        raise DirectoryError("A user needs a displayName and a mail address")
    given, _, surname = display_name.partition(" ")
    user_id = str(uuid.uuid4())
    try:
        database.execute(
            "INSERT INTO account (id, directory_id, display_name, given_name, surname, mail,"
            " is_admin) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (user_id, directory_id, display_name, given, surname or None, mail, int(is_admin)),
        )
    except sqlite3.IntegrityError as error:
        raise DirectoryError(f"The address {mail} is taken") from error
    row = database.query_one("SELECT * FROM account WHERE id = ?", (user_id,))
    assert row is not None
    return user_json(row=row)


def user_json(*, row: sqlite3.Row) -> dict[str, Any]:
    """A Graph user, as ``GET /users/{id}`` shows it."""
    return {
        "id": row["id"],
        "displayName": row["display_name"],
        "givenName": row["given_name"],
        "surname": row["surname"],
        "mail": row["mail"],
        "userPrincipalName": row["mail"],
    }


def find_directory(*, database: Database, tenant: str) -> sqlite3.Row | None:
    return database.query_one(
        "SELECT * FROM directory WHERE id = ? OR domain = ?", (tenant.lower(), tenant)
    )


def find_user(
    *, database: Database, key: str, directory_id: str | None = None
) -> sqlite3.Row | None:
    """A user by id, userPrincipalName or mail (both are the mail here)."""
    row = database.query_one("SELECT * FROM account WHERE id = ? OR mail = ?", (key.lower(), key))
    if row is None or (directory_id is not None and row["directory_id"] != directory_id):
        return None
    return row


def users_of(*, database: Database, tenant: str, admins_only: bool = False) -> list[sqlite3.Row]:
    """Users of one directory, or of all of them for ``common`` / ``organizations``."""
    where = "WHERE is_admin = 1" if admins_only else "WHERE 1 = 1"
    if tenant.lower() in MULTI_TENANT_NAMES:
        return database.query(f"SELECT * FROM account {where} ORDER BY rowid")  # noqa: S608
    directory = find_directory(database=database, tenant=tenant)
    if directory is None:
        return []
    return database.query(
        f"SELECT * FROM account {where} AND directory_id = ? ORDER BY rowid",  # noqa: S608
        (directory["id"],),
    )


def set_consent(*, database: Database, directory_id: str, client_id: str, granted: bool) -> None:
    if find_directory(database=database, tenant=directory_id) is None:
        raise DirectoryError(f"No directory {directory_id}")
    database.execute(
        "INSERT OR REPLACE INTO app_consent (directory_id, client_id, granted, changed_at)"
        " VALUES (?, ?, ?, ?)",
        (directory_id, client_id, int(granted), time.time()),
    )


def consent_state(*, database: Database, directory_id: str, client_id: str) -> str:
    """``granted``, ``revoked`` or ``never``."""
    row = database.query_one(
        "SELECT granted FROM app_consent WHERE directory_id = ? AND client_id = ?",
        (directory_id, client_id),
    )
    if row is None:
        return "never"
    return "granted" if row["granted"] else "revoked"


def grant_user(*, database: Database, user_id: str, client_id: str, scope: str) -> None:
    """A sign-in with consent: the delegated grant exists (again) with these scopes. Only a
    grant made anew after a revocation gets a new start time (older tokens stay dead)."""
    database.execute(
        "INSERT INTO user_grant (user_id, client_id, scope, granted_at, revoked_at)"
        " VALUES (?, ?, ?, ?, NULL) ON CONFLICT (user_id, client_id) DO UPDATE SET"
        " scope = excluded.scope, revoked_at = NULL, granted_at = CASE WHEN revoked_at IS NULL"
        " THEN granted_at ELSE excluded.granted_at END",
        (user_id, client_id, scope, time.time()),
    )


def revoke_grants(*, database: Database, user_id: str) -> int:
    if database.query_one("SELECT id FROM account WHERE id = ?", (user_id,)) is None:
        raise DirectoryError(f"No user {user_id}")
    with database.transaction() as connection:
        connection.execute("UPDATE refresh_token SET revoked = 1 WHERE user_id = ?", (user_id,))
        cursor = connection.execute(
            "UPDATE user_grant SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
            (time.time(), user_id),
        )
        return cursor.rowcount


def grant_row(*, database: Database, user_id: str, client_id: str) -> sqlite3.Row | None:
    return database.query_one(
        "SELECT * FROM user_grant WHERE user_id = ? AND client_id = ?", (user_id, client_id)
    )


def directories_json(*, database: Database, client_id: str) -> list[dict[str, Any]]:
    """Every directory with its users, the app's consent and each user's grant."""
    result = []
    for directory in database.query("SELECT * FROM directory ORDER BY rowid"):
        users = []
        for row in users_of(database=database, tenant=directory["id"]):
            grant = grant_row(database=database, user_id=row["id"], client_id=client_id)
            users.append(
                {
                    **user_json(row=row),
                    "isAdmin": bool(row["is_admin"]),
                    "grant": None
                    if grant is None
                    else ("revoked" if grant["revoked_at"] else "granted"),
                }
            )
        state = consent_state(database=database, directory_id=directory["id"], client_id=client_id)
        result.append(
            {
                "id": directory["id"],
                "name": directory["name"],
                "domain": directory["domain"],
                "consent": state,
                "permissions": list(APP_PERMISSIONS) if state == "granted" else [],
                "users": users,
            }
        )
    return result
