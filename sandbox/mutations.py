"""Changes to the CRM data, shared by the control API and the admin page.

Each function validates its input and raises ``MutationError`` with a message fit for a
person; nothing is changed when it raises.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sandbox.clock import format_so_datetime, parse_so_datetime, utc_now
from sandbox.seed import AppointmentWriter
from sandbox.storage import Database

EDITABLE_PERSON_FIELDS = {
    "firstName": "first_name",
    "middleName": "middle_name",
    "lastName": "last_name",
    "mrMrs": "mrmrs",
    "title": "job_title",
    "email": "email",
    "officePhone": "office_phone",
    "mobilePhone": "mobile_phone",
    "privatePhone": "private_phone",
    "birthDate": "birth_date",
    "contactId": "contact_id",
}
SELECTION_TYPES = ("Static", "Dynamic", "Combined")


class MutationError(ValueError):
    """The change cannot be made; the message says why."""


def now_text() -> str:
    return format_so_datetime(moment=utc_now())


def require_tenant(*, database: Database, tenant: str) -> None:
    if database.query_one("SELECT 1 FROM tenant WHERE ctx = ?", (tenant,)) is None:
        raise MutationError(f"Unknown tenant {tenant!r}")


def require_associate(*, database: Database, tenant: str, associate_id: int) -> None:
    require_tenant(database=database, tenant=tenant)
    row = database.query_one(
        "SELECT 1 FROM associate WHERE tenant = ? AND associate_id = ?", (tenant, associate_id)
    )
    if row is None:
        raise MutationError(f"No associate {associate_id} in {tenant}")


def person_contact_id(*, database: Database, tenant: str, person_id: int) -> int:
    contact_id = database.scalar(
        "SELECT contact_id FROM person WHERE tenant = ? AND person_id = ?", (tenant, person_id)
    )
    if contact_id is None:
        raise MutationError(f"No person {person_id} in {tenant}")
    return int(contact_id)


def require_contact(*, database: Database, tenant: str, contact_id: int) -> None:
    row = database.query_one(
        "SELECT 1 FROM contact WHERE tenant = ? AND contact_id = ?", (tenant, contact_id)
    )
    if row is None:
        raise MutationError(f"No company {contact_id} in {tenant}")


def favourite_set(
    *,
    database: Database,
    tenant: str,
    associate_id: int,
    table_name: str,
    record_id: int,
    favourite: bool,
) -> bool:
    """Star or unstar a person or company for an associate; return whether anything changed."""
    require_associate(database=database, tenant=tenant, associate_id=associate_id)
    if table_name == "person":
        person_contact_id(database=database, tenant=tenant, person_id=record_id)
    elif table_name == "contact":
        require_contact(database=database, tenant=tenant, contact_id=record_id)
    else:
        raise MutationError("A favourite is a 'person' or a 'contact'")
    if favourite:
        rank = database.scalar(
            "SELECT COALESCE(MAX(rank), -1) + 1 FROM favourite WHERE tenant = ?"
            " AND associate_id = ? AND table_name = ?",
            (tenant, associate_id, table_name),
        )
        changed = database.execute(
            "INSERT OR IGNORE INTO favourite VALUES (?,?,?,?,?,?)",
            (tenant, associate_id, table_name, record_id, now_text(), rank),
        )
    else:
        changed = database.execute(
            "DELETE FROM favourite WHERE tenant = ? AND associate_id = ? AND table_name = ?"
            " AND record_id = ?",
            (tenant, associate_id, table_name, record_id),
        )
    return changed > 0


def selection_row_type(*, database: Database, tenant: str, selection_id: int) -> tuple[str, int]:
    row = database.query_one(
        "SELECT selection_type, target_table_number FROM selection WHERE tenant = ?"
        " AND selection_id = ?",
        (tenant, selection_id),
    )
    if row is None:
        raise MutationError(f"No selection {selection_id} in {tenant}")
    return str(row[0]), int(row[1])


def touch_selection(
    *, database: Database, tenant: str, selection_id: int, associate_id: int
) -> None:
    stamp = now_text()
    database.execute(
        "UPDATE selection SET last_membership_change = ?, last_membership_change_by = ?,"
        " updated = ? WHERE tenant = ? AND selection_id = ?",
        (stamp, associate_id, stamp, tenant, selection_id),
    )


def selection_member_add(
    *,
    database: Database,
    tenant: str,
    selection_id: int,
    person_id: int | None = None,
    contact_id: int | None = None,
    changed_by: int = 1,
) -> bool:
    """Add a person (or a company without a person) to a static person/company selection."""
    selection_type, target = selection_row_type(
        database=database, tenant=tenant, selection_id=selection_id
    )
    if selection_type != "Static" or target not in {5, 6}:
        raise MutationError("Members can be added to static company or person selections only")
    if person_id:
        contact_id = person_contact_id(database=database, tenant=tenant, person_id=person_id)
    elif contact_id:
        require_contact(database=database, tenant=tenant, contact_id=contact_id)
    else:
        raise MutationError("Give a person_id or a contact_id")
    with database.transaction() as connection:
        exists = connection.execute(
            "SELECT 1 FROM selection_member WHERE tenant = ? AND selection_id = ?"
            " AND person_id = ? AND contact_id = ?",
            (tenant, selection_id, person_id or 0, contact_id),
        ).fetchone()
        if exists:
            return False
        member_id = connection.execute(
            "SELECT COALESCE(MAX(member_id), 0) + 1 FROM selection_member WHERE tenant = ?",
            (tenant,),
        ).fetchone()[0]
        connection.execute(
            "INSERT INTO selection_member VALUES (?,?,?,?,?,0,'')",
            (tenant, member_id, selection_id, contact_id, person_id or 0),
        )
    touch_selection(
        database=database, tenant=tenant, selection_id=selection_id, associate_id=changed_by
    )
    return True


def selection_member_remove(
    *,
    database: Database,
    tenant: str,
    selection_id: int,
    person_id: int | None = None,
    contact_id: int | None = None,
    changed_by: int = 1,
) -> bool:
    selection_row_type(database=database, tenant=tenant, selection_id=selection_id)
    if person_id:
        removed = database.execute(
            "DELETE FROM selection_member WHERE tenant = ? AND selection_id = ? AND person_id = ?",
            (tenant, selection_id, person_id),
        )
    elif contact_id:
        removed = database.execute(
            "DELETE FROM selection_member WHERE tenant = ? AND selection_id = ? AND contact_id = ?",
            (tenant, selection_id, contact_id),
        )
    else:
        raise MutationError("Give a person_id or a contact_id")
    if removed:
        touch_selection(
            database=database, tenant=tenant, selection_id=selection_id, associate_id=changed_by
        )
    return removed > 0


def selection_set_type(
    *, database: Database, tenant: str, selection_id: int, selection_type: str
) -> None:
    """Change a selection's kind; a static selection made dynamic loses its stored members."""
    if selection_type not in SELECTION_TYPES:
        raise MutationError(f"selection_type must be one of {', '.join(SELECTION_TYPES)}")
    selection_row_type(database=database, tenant=tenant, selection_id=selection_id)
    with database.transaction() as connection:
        connection.execute(
            "UPDATE selection SET selection_type = ?, updated = ? WHERE tenant = ?"
            " AND selection_id = ?",
            (selection_type, now_text(), tenant, selection_id),
        )
        if selection_type != "Static":
            connection.execute(
                "DELETE FROM selection_member WHERE tenant = ? AND selection_id = ?",
                (tenant, selection_id),
            )


def selection_delete(*, database: Database, tenant: str, selection_id: int) -> None:
    selection_row_type(database=database, tenant=tenant, selection_id=selection_id)
    with database.transaction() as connection:
        connection.execute(
            "DELETE FROM selection_member WHERE tenant = ? AND selection_id = ?",
            (tenant, selection_id),
        )
        connection.execute(
            "DELETE FROM selection WHERE tenant = ? AND selection_id = ?", (tenant, selection_id)
        )


def person_set_retired(*, database: Database, tenant: str, person_id: int, retired: bool) -> None:
    person_contact_id(database=database, tenant=tenant, person_id=person_id)
    database.execute(
        "UPDATE person SET retired = ?, updated = ? WHERE tenant = ? AND person_id = ?",
        (int(retired), now_text(), tenant, person_id),
    )


def person_update(
    *, database: Database, tenant: str, person_id: int, fields: Mapping[str, object]
) -> list[str]:
    """Change a person's fields (names as in ``EDITABLE_PERSON_FIELDS``); return those changed."""
    person_contact_id(database=database, tenant=tenant, person_id=person_id)
    unknown = set(fields) - set(EDITABLE_PERSON_FIELDS)
    if unknown:
        raise MutationError(
            f"Cannot edit {', '.join(sorted(unknown))}; editable: "
            f"{', '.join(EDITABLE_PERSON_FIELDS)}"
        )
    if not fields:
        raise MutationError("Nothing to change")
    assignments: list[str] = []
    values: list[object] = []
    for name, value in fields.items():
        column = EDITABLE_PERSON_FIELDS[name]
        if name == "contactId":
            require_contact(database=database, tenant=tenant, contact_id=int(str(value)))
            value = int(str(value))
        elif name == "birthDate":
            value = birth_date_value(text=str(value or ""))
        else:
            value = "" if value is None else str(value)
        assignments.append(f"{column} = ?")
        values.append(value)
    assignments.append("updated = ?")
    values.append(now_text())
    database.execute(
        f"UPDATE person SET {', '.join(assignments)} WHERE tenant = ? AND person_id = ?",  # noqa: S608 - columns come from a fixed map
        (*values, tenant, person_id),
    )
    return sorted(fields)


def birth_date_value(*, text: str) -> str | None:
    if not text.strip():
        return None
    try:
        return format_so_datetime(moment=parse_so_datetime(text=text).replace(hour=0, minute=0))
    except ValueError:
        raise MutationError(f"Not a date: {text!r}") from None


def appointment_create(
    *,
    database: Database,
    tenant: str,
    associate_id: int,
    person_id: int,
    start: str,
    title: str,
    participant_associate_ids: Sequence[int] = (),
    participant_person_ids: Sequence[int] = (),
) -> int:
    """Create an appointment (a booking when it has participants); return its id."""
    require_associate(database=database, tenant=tenant, associate_id=associate_id)
    contact_id = (
        person_contact_id(database=database, tenant=tenant, person_id=person_id) if person_id else 0
    )
    for other in participant_associate_ids:
        require_associate(database=database, tenant=tenant, associate_id=other)
    guests = [
        (guest, person_contact_id(database=database, tenant=tenant, person_id=guest))
        for guest in participant_person_ids
    ]
    try:
        start_moment: datetime = parse_so_datetime(text=start)
    except ValueError:
        raise MutationError(f"Not a date and time: {start!r}") from None
    if not title.strip():
        raise MutationError("An appointment needs a title")
    with database.transaction() as connection:
        writer = AppointmentWriter(connection=connection, tenant=tenant)
        return writer.add(
            owner=associate_id,
            person_id=person_id,
            contact_id=contact_id,
            start=start_moment,
            title=title.strip(),
            invited_associates=[a for a in participant_associate_ids if a != associate_id],
            invited_persons=guests,
        )


def appointment_delete(*, database: Database, tenant: str, appointment_id: int) -> int:
    """Delete an appointment, and the whole booking when it is part of one."""
    row = database.query_one(
        "SELECT mother_id FROM appointment WHERE tenant = ? AND appointment_id = ?",
        (tenant, appointment_id),
    )
    if row is None:
        raise MutationError(f"No appointment {appointment_id} in {tenant}")
    if row[0]:
        return database.execute(
            "DELETE FROM appointment WHERE tenant = ? AND mother_id = ?", (tenant, row[0])
        )
    return database.execute(
        "DELETE FROM appointment WHERE tenant = ? AND appointment_id = ?", (tenant, appointment_id)
    )
