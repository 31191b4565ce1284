"""Contact folders and contacts of one mailbox, in SQLite, plus the change log delta reads.

Every mailbox has a default folder "Contacts" (made on first use). ``/contactFolders``
lists the folders below it; ``/contacts`` means the default folder's contacts.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from datetime import UTC, datetime
from typing import Any

from sandbox.microsoft.contacts import generated_display_name, property_key
from sandbox.microsoft.errors import GraphError, not_found
from sandbox.storage import Database

DEFAULT_FOLDER_NAME = "Contacts"


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id(*, prefix: str) -> str:
    return prefix + secrets.token_urlsafe(54).replace("-", "_") + "="


def new_change_key() -> str:
    return "EQAAABYAAA" + secrets.token_urlsafe(18)


def default_folder(*, database: Database, user_id: str) -> sqlite3.Row:
    with database.transaction() as connection:
        row: sqlite3.Row | None = connection.execute(
            "SELECT * FROM folder WHERE user_id = ? AND parent_id IS NULL", (user_id,)
        ).fetchone()
        if row is None:
            folder_id = new_id(prefix="AAMkAGI2")
            connection.execute(
                "INSERT INTO folder (id, user_id, display_name, parent_id, created)"
                " VALUES (?, ?, ?, NULL, ?)",
                (folder_id, user_id, DEFAULT_FOLDER_NAME, now_text()),
            )
            row = connection.execute("SELECT * FROM folder WHERE id = ?", (folder_id,)).fetchone()
        assert row is not None
        return row


def folder_json(*, row: sqlite3.Row) -> dict[str, Any]:
    return {"id": row["id"], "displayName": row["display_name"], "parentFolderId": row["parent_id"]}


def child_folders(*, database: Database, user_id: str) -> list[sqlite3.Row]:
    root = default_folder(database=database, user_id=user_id)
    return database.query("SELECT * FROM folder WHERE parent_id = ? ORDER BY rowid", (root["id"],))


def folder_by_name(*, database: Database, user_id: str, name: str) -> sqlite3.Row | None:
    for row in child_folders(database=database, user_id=user_id):
        if row["display_name"].casefold() == name.casefold():
            return row
    return None


def folder_create(*, database: Database, user_id: str, display_name: Any) -> sqlite3.Row:
    if not isinstance(display_name, str) or not display_name.strip():
        raise GraphError(status=400, code="ErrorInvalidRequest", message="displayName is required")
    root = default_folder(database=database, user_id=user_id)
    folder_id = new_id(prefix="AAMkAGI2")
    with database.lock:  # the check and the insert as one step
        if folder_by_name(database=database, user_id=user_id, name=display_name) is not None:
            raise GraphError(
                status=409, code="ErrorFolderExists",
                message="A folder with the specified name already exists.",
            )  # fmt: skip
        database.execute(
            "INSERT INTO folder (id, user_id, display_name, parent_id, created)"
            " VALUES (?, ?, ?, ?, ?)",
            (folder_id, user_id, display_name, root["id"], now_text()),
        )
    row = database.query_one("SELECT * FROM folder WHERE id = ?", (folder_id,))
    assert row is not None
    return row


def folder_get(*, database: Database, user_id: str, folder_id: str) -> sqlite3.Row:
    if folder_id.lower() == "contacts":  # the well-known name of the default folder
        return default_folder(database=database, user_id=user_id)
    row = database.query_one(
        "SELECT * FROM folder WHERE id = ? AND user_id = ?", (folder_id, user_id)
    )
    if row is None:
        raise not_found()
    return row


def folder_delete(*, database: Database, user_id: str, folder_id: str) -> None:
    row = folder_get(database=database, user_id=user_id, folder_id=folder_id)
    if row["parent_id"] is None:
        raise GraphError(
            status=400, code="ErrorDeleteDistinguishedFolder",
            message="Distinguished folders cannot be deleted.",
        )  # fmt: skip
    for contact in database.query("SELECT * FROM contact WHERE folder_id = ?", (row["id"],)):
        contact_delete(database=database, row=contact)
    database.execute("DELETE FROM folder WHERE id = ?", (row["id"],))


def properties_of(*, row: sqlite3.Row) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(row["data"])
    return data


def extended_of(
    *, database: Database, contact_id: str, key: str | None = None
) -> list[dict[str, str]]:
    sql = "SELECT prop_id, value FROM ext_property WHERE contact_id = ?"
    params: tuple[str, ...] = (contact_id,)
    if key is not None:
        sql += " AND prop_key = ?"
        params += (key,)
    return [{"id": r["prop_id"], "value": r["value"]} for r in database.query(sql, params)]


def log_change(*, connection: sqlite3.Connection, row: sqlite3.Row | dict[str, Any]) -> None:
    connection.execute(
        "INSERT INTO change_log (user_id, folder_id, contact_id) VALUES (?, ?, ?)",
        (row["user_id"], row["folder_id"], row["id"]),
    )


def store_extended(
    *, connection: sqlite3.Connection, contact_id: str, extended: list[dict[str, str]]
) -> None:
    for item in extended:
        connection.execute(
            "INSERT OR REPLACE INTO ext_property (contact_id, prop_key, prop_id, value, value_fold)"
            " VALUES (?, ?, ?, ?, ?)",
            (contact_id, property_key(property_id=item["id"]), item["id"], item["value"],
             item["value"].casefold()),
        )  # fmt: skip


def contact_create(
    *, database: Database, user_id: str, folder_id: str, properties: dict[str, Any],
    extended: list[dict[str, str]],
) -> sqlite3.Row:  # fmt: skip
    if not properties.get("displayName"):
        properties["displayName"] = generated_display_name(properties=properties)
    contact_id = new_id(prefix="AAMkADk0")
    stamp = now_text()
    values = {"id": contact_id, "user_id": user_id, "folder_id": folder_id}
    with database.transaction() as connection:
        connection.execute(
            "INSERT INTO contact (id, user_id, folder_id, data, change_key, created, modified)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                contact_id,
                user_id,
                folder_id,
                json.dumps(properties),
                new_change_key(),
                stamp,
                stamp,
            ),
        )
        store_extended(connection=connection, contact_id=contact_id, extended=extended)
        log_change(connection=connection, row=values)
    row = database.query_one("SELECT * FROM contact WHERE id = ?", (contact_id,))
    assert row is not None
    return row


def contact_get(
    *, database: Database, user_id: str, contact_id: str, folder_id: str | None = None
) -> sqlite3.Row:
    row = database.query_one(
        "SELECT * FROM contact WHERE id = ? AND user_id = ?", (contact_id, user_id)
    )
    if row is None or (folder_id is not None and row["folder_id"] != folder_id):
        raise not_found()
    return row


def check_if_match(*, row: sqlite3.Row, if_match: str | None) -> None:
    """``If-Match`` takes ``W/"changeKey"``, ``"changeKey"``, the bare key or ``*``."""
    if not if_match:
        return
    wanted = [part.strip().removeprefix("W/").strip('"') for part in if_match.split(",")]
    if "*" in wanted or row["change_key"] in wanted:
        return
    raise GraphError(
        status=412, code="ErrorIrresolvableConflict",
        message="The change key passed in the request does not match the current change key"
        " of the item.",
    )  # fmt: skip


def contact_update(
    *, database: Database, row: sqlite3.Row, properties: dict[str, Any],
    extended: list[dict[str, str]], if_match: str | None = None,
) -> sqlite3.Row:  # fmt: skip
    with database.transaction() as connection:
        current = connection.execute("SELECT * FROM contact WHERE id = ?", (row["id"],)).fetchone()
        if current is None:
            raise not_found()
        check_if_match(row=current, if_match=if_match)
        merged = {**properties_of(row=current), **properties}
        connection.execute(
            "UPDATE contact SET data = ?, change_key = ?, modified = ? WHERE id = ?",
            (json.dumps(merged), new_change_key(), now_text(), row["id"]),
        )
        store_extended(connection=connection, contact_id=row["id"], extended=extended)
        log_change(connection=connection, row=current)
    updated = database.query_one("SELECT * FROM contact WHERE id = ?", (row["id"],))
    assert updated is not None
    return updated


def contact_delete(*, database: Database, row: sqlite3.Row, if_match: str | None = None) -> None:
    with database.transaction() as connection:
        current = connection.execute("SELECT * FROM contact WHERE id = ?", (row["id"],)).fetchone()
        if current is None:
            raise not_found()
        check_if_match(row=current, if_match=if_match)
        connection.execute("DELETE FROM contact WHERE id = ?", (row["id"],))
        connection.execute("DELETE FROM ext_property WHERE contact_id = ?", (row["id"],))
        log_change(connection=connection, row=current)


def contacts_page(
    *, database: Database, folder_id: str, where: str, params: tuple[Any, ...], offset: int,
    limit: int,
) -> tuple[list[sqlite3.Row], bool]:  # fmt: skip
    """One page of a folder's contacts in creation order, and whether more follow."""
    rows = database.query(
        f"SELECT * FROM contact WHERE folder_id = ? {where} ORDER BY rowid"  # noqa: S608
        " LIMIT ? OFFSET ?",
        (folder_id, *params, limit + 1, offset),
    )
    return rows[:limit], len(rows) > limit
