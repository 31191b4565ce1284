"""Facts read straight from the sandbox's own database (read-only), so the read tests
expect what the data holds rather than hard-coded seed counts."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from tests.plugins.nordlys import TENANT

UNIQUE_NAME = (
    " AND name NOT IN (SELECT name FROM selection s"
    " WHERE s.tenant = selection.tenant GROUP BY name HAVING COUNT(*) > 1)"
)


def selection_row(
    crm: sqlite3.Connection,
    *,
    where: str,
    order_by: str = "selection_id",
    unique_name: bool = False,
) -> sqlite3.Row:
    """The first selection matching `where`; with `unique_name`, one whose name no other
    selection shares."""
    if unique_name:
        where += UNIQUE_NAME
    sql = f"SELECT * FROM selection WHERE tenant = ? AND {where} ORDER BY {order_by}"  # noqa: S608 - test SQL
    row: sqlite3.Row | None = crm.execute(sql, (TENANT,)).fetchone()
    assert row is not None, f"The sandbox seed has no selection where {where}"
    return row


def member_person_ids(crm: sqlite3.Connection, *, selection_id: int) -> set[int]:
    rows = crm.execute(
        "SELECT person_id FROM selection_member WHERE tenant = ? AND selection_id = ?"
        " AND person_id != 0",
        (TENANT, selection_id),
    )
    return {int(row[0]) for row in rows}


def biggest_static_person_selection(crm: sqlite3.Connection) -> sqlite3.Row:
    return selection_row(
        crm,
        where="selection_type = 'Static' AND target_table_number IN (5, 6)",
        order_by="(SELECT COUNT(*) FROM selection_member m WHERE m.tenant = selection.tenant"
        " AND m.selection_id = selection.selection_id AND m.person_id != 0) DESC, selection_id",
    )


def so_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
