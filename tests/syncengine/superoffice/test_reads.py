"""The typed reads against the live sandbox; expected values come from the sandbox's own
database (read-only), so nothing here depends on hard-coded seed counts."""

from __future__ import annotations

import math
import sqlite3
from datetime import UTC, date, datetime, timedelta

import pytest

from sandbox.testing import SandboxControl
from syncengine.superoffice.client import SuperOfficeClient
from syncengine.superoffice.errors import NotFound, PermanentError, SelectionRefused
from syncengine.superoffice.reads import (
    DETAIL_CHUNK_SIZE,
    appointment_person_ids,
    favourite_company_ids,
    favourite_person_ids,
    person_ids_at_companies,
    persons_by_ids,
    selection_find_static,
    selection_member_person_ids,
)
from syncengine.superoffice.records import SyncWindow
from tests.plugins.nordlys import TENANT

# --- facts from the sandbox's own data ---------------------------------------------------

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


# --- selections ----------------------------------------------------------------------------


def test_a_static_person_selection_is_found_by_name_ignoring_case_and_spaces(
    client: SuperOfficeClient, crm: sqlite3.Connection
) -> None:
    expected = selection_row(
        crm,
        where="selection_type = 'Static' AND target_table_name = 'person' AND name NOT IN"
        " (SELECT name FROM selection s WHERE s.tenant = selection.tenant"
        " GROUP BY name HAVING COUNT(*) > 1)",
    )

    info = selection_find_static(client=client, name=f"  {expected['name'].upper()} ")

    assert info.selection_id == expected["selection_id"]
    assert info.name == expected["name"]
    assert info.selection_type == "Static"
    assert info.target_table == "person"
    assert info.member_count == len(member_person_ids(crm, selection_id=info.selection_id))


def test_a_static_company_selection_with_persons_is_accepted(
    client: SuperOfficeClient, crm: sqlite3.Connection
) -> None:
    expected = selection_row(
        crm,
        where="selection_type = 'Static' AND target_table_name = 'contact' AND EXISTS"
        " (SELECT 1 FROM selection_member m WHERE m.tenant = selection.tenant"
        " AND m.selection_id = selection.selection_id AND m.person_id = 0)",
    )

    info = selection_find_static(client=client, name=expected["name"])

    assert (info.selection_id, info.target_table) == (expected["selection_id"], "contact")


def test_an_empty_static_selection_is_accepted(
    client: SuperOfficeClient, crm: sqlite3.Connection
) -> None:
    empty = selection_row(
        crm,
        where="selection_type = 'Static' AND target_table_number IN (5, 6) AND NOT EXISTS"
        " (SELECT 1 FROM selection_member m WHERE m.tenant = selection.tenant"
        " AND m.selection_id = selection.selection_id)",
        unique_name=True,
    )

    info = selection_find_static(client=client, name=empty["name"])

    assert (info.selection_id, info.member_count) == (empty["selection_id"], 0)
    assert selection_member_person_ids(client=client, selection_id=info.selection_id) == set()


def test_an_unknown_name_is_refused(client: SuperOfficeClient) -> None:
    with pytest.raises(SelectionRefused) as refused:
        selection_find_static(client=client, name="No such list 4711")

    assert refused.value.reason == "No selection is called “No such list 4711”."
    assert refused.value.name == "No such list 4711"


def test_a_name_shared_by_several_selections_is_refused_with_their_ids(
    client: SuperOfficeClient, crm: sqlite3.Connection
) -> None:
    shared = crm.execute(
        "SELECT name, group_concat(selection_id) AS ids, COUNT(*) AS n FROM selection"
        " WHERE tenant = ? GROUP BY name HAVING COUNT(*) > 1",
        (TENANT,),
    ).fetchone()
    assert shared is not None
    ids = ", ".join(str(value) for value in sorted(int(x) for x in shared["ids"].split(",")))

    typed = shared["name"].lower()

    with pytest.raises(SelectionRefused) as refused:
        selection_find_static(client=client, name=typed)

    assert refused.value.reason == (
        f"{shared['n']} selections are called “{typed}”: ids {ids}; rename one in SuperOffice."
    )


@pytest.mark.parametrize(
    ("where", "words"),
    [
        ("selection_type = 'Dynamic' AND target_table_number IN (5, 6)", "is a dynamic selection"),
        ("selection_type = 'Combined'", "is a combined selection"),
        ("target_table_name = 'sale'", "is a selection of sales, not persons"),
    ],
)
def test_selections_that_cannot_be_synced_are_refused_saying_why(
    client: SuperOfficeClient, crm: sqlite3.Connection, where: str, words: str
) -> None:
    row = selection_row(
        crm,
        where=where,
        unique_name=True,
    )

    with pytest.raises(SelectionRefused) as refused:
        selection_find_static(client=client, name=row["name"])

    assert refused.value.reason.startswith(f"“{row['name']}” {words}")


def test_a_static_selection_made_dynamic_is_refused(
    client: SuperOfficeClient, crm: sqlite3.Connection, sandbox: SandboxControl
) -> None:
    row = selection_row(crm, where="selection_type = 'Static' AND target_table_name = 'person'")
    sandbox.set_selection_type(
        tenant=TENANT, selection_id=row["selection_id"], selection_type="Dynamic"
    )

    with pytest.raises(SelectionRefused, match="is a dynamic selection"):
        selection_find_static(client=client, name=row["name"])


def test_a_company_selection_without_persons_is_refused_as_companies(
    client: SuperOfficeClient, crm: sqlite3.Connection, sandbox: SandboxControl
) -> None:
    row = selection_row(crm, where="selection_type = 'Static' AND target_table_name = 'contact'")
    selection_id = row["selection_id"]
    for person_id in member_person_ids(crm, selection_id=selection_id):
        sandbox.remove_selection_member(
            tenant=TENANT, selection_id=selection_id, person_id=person_id
        )
    companies = crm.execute(
        "SELECT COUNT(*) FROM selection_member WHERE tenant = ? AND selection_id = ?",
        (TENANT, selection_id),
    ).fetchone()[0]
    assert companies > 0

    with pytest.raises(SelectionRefused) as refused:
        selection_find_static(client=client, name=row["name"])

    assert refused.value.reason.startswith(
        f"“{row['name']}” is a selection of companies, not persons: it lists {companies} "
        "companies and none of their contact persons."
    )


def test_members_of_the_biggest_selection_are_read_in_pages_of_a_thousand(
    client: SuperOfficeClient, crm: sqlite3.Connection, sandbox: SandboxControl
) -> None:
    selection = biggest_static_person_selection(crm)
    expected = member_person_ids(crm, selection_id=selection["selection_id"])
    assert len(expected) > 2000, "the big selection should need several pages"

    found = selection_member_person_ids(client=client, selection_id=selection["selection_id"])

    assert found == expected
    # One request for the selection itself, then pages until a short one.
    pages = len(expected) // 1000 + 1
    assert client.stats.requests == 1 + pages
    assert sandbox.request_counts()["per_tenant"][TENANT] == client.stats.requests


def test_company_only_rows_name_no_person_and_new_members_show_up(
    client: SuperOfficeClient, crm: sqlite3.Connection, sandbox: SandboxControl
) -> None:
    selection = selection_row(
        crm,
        where="selection_type = 'Static' AND target_table_name = 'contact' AND EXISTS"
        " (SELECT 1 FROM selection_member m WHERE m.tenant = selection.tenant"
        " AND m.selection_id = selection.selection_id AND m.person_id = 0)",
    )
    selection_id = selection["selection_id"]
    newcomer = crm.execute(
        "SELECT person_id FROM person WHERE tenant = ? AND person_id NOT IN"
        " (SELECT person_id FROM selection_member WHERE tenant = ? AND selection_id = ?)"
        " ORDER BY person_id DESC",
        (TENANT, TENANT, selection_id),
    ).fetchone()[0]
    sandbox.add_selection_member(tenant=TENANT, selection_id=selection_id, person_id=newcomer)

    found = selection_member_person_ids(client=client, selection_id=selection_id)

    assert found == member_person_ids(crm, selection_id=selection_id)
    assert newcomer in found
    assert 0 not in found


def test_a_deleted_selection_is_not_found(
    client: SuperOfficeClient, crm: sqlite3.Connection, sandbox: SandboxControl
) -> None:
    row = selection_row(crm, where="selection_type = 'Static' AND target_table_name = 'person'")
    sandbox.delete_selection(tenant=TENANT, selection_id=row["selection_id"])

    with pytest.raises(NotFound, match=f"Selection id {row['selection_id']} not found"):
        selection_member_person_ids(client=client, selection_id=row["selection_id"])


def test_a_selection_no_longer_static_is_a_permanent_error(
    client: SuperOfficeClient, crm: sqlite3.Connection, sandbox: SandboxControl
) -> None:
    row = selection_row(crm, where="selection_type = 'Static' AND target_table_name = 'person'")
    sandbox.set_selection_type(
        tenant=TENANT, selection_id=row["selection_id"], selection_type="Dynamic"
    )

    with pytest.raises(PermanentError, match="is a dynamic selection") as raised:
        selection_member_person_ids(client=client, selection_id=row["selection_id"])

    assert not isinstance(raised.value, NotFound)


# --- favourites ----------------------------------------------------------------------------


def favourites(crm: sqlite3.Connection, *, table_name: str) -> set[int]:
    rows = crm.execute(
        "SELECT record_id FROM favourite WHERE tenant = ? AND associate_id = ? AND table_name = ?",
        (TENANT, 1, table_name),
    )
    return {int(row[0]) for row in rows}


def test_favourite_companies_and_persons_are_the_associates_own(
    client: SuperOfficeClient, crm: sqlite3.Connection, sandbox: SandboxControl
) -> None:
    starred_by_someone_else = crm.execute(
        "SELECT record_id FROM favourite WHERE tenant = ? AND associate_id != ?"
        " AND table_name = 'contact' AND record_id NOT IN (SELECT record_id FROM favourite"
        " WHERE tenant = ? AND associate_id = ? AND table_name = 'contact')",
        (TENANT, 1, TENANT, 1),
    ).fetchone()[0]

    companies = favourite_company_ids(client=client, associate_id=1)
    persons = favourite_person_ids(client=client, associate_id=1)

    assert companies == favourites(crm, table_name="contact")
    assert persons == favourites(crm, table_name="person")
    assert starred_by_someone_else not in companies
    assert client.stats.requests == 2

    sandbox.set_favourite(
        tenant=TENANT,
        associate_id=1,
        kind="contact",
        record_id=starred_by_someone_else,
    )
    assert starred_by_someone_else in favourite_company_ids(client=client, associate_id=1)


def test_a_favourite_former_employee_is_still_a_favourite_person(
    client: SuperOfficeClient, crm: sqlite3.Connection
) -> None:
    retired = crm.execute(
        "SELECT f.record_id FROM favourite f JOIN person p ON p.tenant = f.tenant"
        " AND p.person_id = f.record_id WHERE f.tenant = ? AND f.associate_id = ?"
        " AND f.table_name = 'person' AND p.retired = 1",
        (TENANT, 1),
    ).fetchone()
    assert retired is not None

    assert retired[0] in favourite_person_ids(client=client, associate_id=1)


def test_persons_at_favourite_companies_leave_out_former_employees(
    client: SuperOfficeClient, crm: sqlite3.Connection, sandbox: SandboxControl
) -> None:
    company_ids = favourites(crm, table_name="contact")
    placeholders = ",".join("?" * len(company_ids))
    sql = f"SELECT * FROM person WHERE tenant = ? AND contact_id IN ({placeholders})"  # noqa: S608 - test SQL
    staff = crm.execute(sql, (TENANT, *company_ids)).fetchall()
    current = {int(row["person_id"]) for row in staff if not row["retired"]}
    former = {int(row["person_id"]) for row in staff if row["retired"]}
    assert former, "the seed retires someone at every small company"

    found = person_ids_at_companies(client=client, company_ids=company_ids)

    assert found == current
    assert not found & former

    leaving = min(current)
    sandbox.set_retired(tenant=TENANT, person_id=leaving)
    assert person_ids_at_companies(client=client, company_ids=company_ids) == current - {leaving}


def test_persons_at_many_companies_are_read_in_chunks(
    client: SuperOfficeClient, crm: sqlite3.Connection
) -> None:
    company_ids = [
        int(row[0])
        for row in crm.execute(
            "SELECT contact_id FROM contact WHERE tenant = ? ORDER BY contact_id LIMIT 600",
            (TENANT,),
        )
    ]
    expected = {
        int(row[0])
        for row in crm.execute(
            "SELECT person_id FROM person WHERE tenant = ? AND retired = 0 AND contact_id <= ?",
            (TENANT, max(company_ids)),
        )
    }

    assert person_ids_at_companies(client=client, company_ids=company_ids) == expected
    assert client.stats.requests >= math.ceil(len(company_ids) / DETAIL_CHUNK_SIZE)


# --- appointments --------------------------------------------------------------------------


def window_around_now() -> SyncWindow:
    now = datetime.now(UTC).replace(microsecond=0)
    return SyncWindow(start=now - timedelta(days=7), end=now + timedelta(days=180))


def expected_appointment_persons(crm: sqlite3.Connection, *, window: SyncWindow) -> set[int]:
    """The rule, straight on the appointment table: the user's diary rows in the window
    give their `person_id`; their bookings give every external invitee."""
    rows = crm.execute(
        "SELECT * FROM appointment WHERE tenant = ? AND associate_id = ?"
        " AND start_date >= ? AND start_date < ?",
        (TENANT, 1, so_time(window.start), so_time(window.end)),
    ).fetchall()
    persons = {int(row["person_id"]) for row in rows if row["person_id"]}
    for row in rows:
        if row["mother_id"]:
            invitees = crm.execute(
                "SELECT invited_person_id FROM appointment WHERE tenant = ? AND mother_id = ?"
                " AND associate_id = 0 AND invited_person_id != 0",
                (TENANT, row["mother_id"]),
            )
            persons.update(int(invitee[0]) for invitee in invitees)
    return persons


def test_appointment_persons_follow_the_diary_inside_the_window(
    client: SuperOfficeClient, crm: sqlite3.Connection
) -> None:
    window = window_around_now()
    expected = expected_appointment_persons(crm, window=window)
    outside = {
        int(row[0])
        for row in crm.execute(
            "SELECT person_id FROM appointment WHERE tenant = ? AND associate_id = ?"
            " AND (start_date < ? OR start_date >= ?) AND person_id != 0",
            (TENANT, 1, so_time(window.start), so_time(window.end)),
        )
    }
    assert outside - expected, "the seed has appointments outside the window"

    found = appointment_person_ids(client=client, associate_id=1, window=window)

    assert found == expected
    assert not (outside - expected) & found


def test_bookings_add_external_participants_but_not_associates(
    client: SuperOfficeClient, crm: sqlite3.Connection, sandbox: SandboxControl
) -> None:
    window = window_around_now()
    customers = [
        int(row[0])
        for row in crm.execute(
            "SELECT person_id FROM person WHERE tenant = ? AND contact_id != 1"
            " AND person_id NOT IN (SELECT person_id FROM appointment WHERE tenant = ?)"
            " AND person_id NOT IN (SELECT invited_person_id FROM appointment WHERE tenant = ?)"
            " ORDER BY person_id LIMIT 6",
            (TENANT, TENANT, TENANT),
        )
    ]
    with_person, guest, invited_with, invited_guest, too_early, at_the_end = customers
    colleague = next(
        a for a in sandbox.associates() if a["tenant"] == TENANT and a["associate_id"] == 2
    )
    start = window.start + timedelta(days=10)
    own_booking = sandbox.create_appointment(
        tenant=TENANT,
        associate_id=1,
        start=so_time(start),
        person_id=with_person,
        participant_associate_ids=(colleague["associate_id"],),
        participant_person_ids=(guest,),
    )
    # An invitation: the colleague's booking, with our user among the participants.
    sandbox.create_appointment(
        tenant=TENANT,
        associate_id=colleague["associate_id"],
        start=so_time(start + timedelta(days=1)),
        person_id=invited_with,
        participant_associate_ids=(1,),
        participant_person_ids=(invited_guest,),
    )
    sandbox.create_appointment(
        tenant=TENANT,
        associate_id=1,
        start=so_time(window.start - timedelta(seconds=1)),
        person_id=too_early,
    )
    sandbox.create_appointment(
        tenant=TENANT,
        associate_id=1,
        start=so_time(window.end),
        person_id=at_the_end,
    )

    found = appointment_person_ids(client=client, associate_id=1, window=window)

    assert {with_person, guest, invited_with, invited_guest} <= found
    assert too_early not in found
    assert at_the_end not in found, "the window's end is exclusive"
    assert colleague["person_id"] not in found, "associates are not synced as participants"
    assert found == expected_appointment_persons(crm, window=window)
    assert own_booking > 0


def test_an_appointment_at_the_start_of_the_window_counts(
    client: SuperOfficeClient, crm: sqlite3.Connection, sandbox: SandboxControl
) -> None:
    window = window_around_now()
    person_id = int(
        crm.execute(
            "SELECT person_id FROM person WHERE tenant = ? AND person_id NOT IN"
            " (SELECT person_id FROM appointment WHERE tenant = ?) ORDER BY person_id DESC",
            (TENANT, TENANT),
        ).fetchone()[0]
    )
    sandbox.create_appointment(
        tenant=TENANT,
        associate_id=1,
        start=so_time(window.start),
        person_id=person_id,
    )

    found = appointment_person_ids(client=client, associate_id=1, window=window)

    assert person_id in found


# --- person details ------------------------------------------------------------------------


def test_person_details_carry_every_card_field(
    client: SuperOfficeClient, crm: sqlite3.Connection, sandbox: SandboxControl
) -> None:
    person_id = int(
        crm.execute(
            "SELECT person_id FROM person WHERE tenant = ? AND contact_id != 1"
            " AND retired = 0 ORDER BY person_id",
            (TENANT,),
        ).fetchone()[0]
    )
    sandbox.edit_person(
        tenant=TENANT,
        person_id=person_id,
        firstName="Åse",
        middleName="Marie",
        lastName="Ødegård",
        mrMrs="Fru",
        title="Innkjøpssjef",
        email="ase.odegard@example.no",
        officePhone="+47 22 00 00 01",
        mobilePhone="+47 900 00 002",
        privatePhone="+47 22 00 00 03",
        birthDate="1980-02-29",
    )
    retired_id = int(
        crm.execute(
            "SELECT person_id FROM person WHERE tenant = ? AND retired = 1 ORDER BY person_id",
            (TENANT,),
        ).fetchone()[0]
    )
    missing_id = int(crm.execute("SELECT MAX(person_id) + 1000 FROM person").fetchone()[0])

    found = persons_by_ids(client=client, person_ids=[person_id, retired_id, missing_id])

    assert set(found) == {person_id, retired_id}
    person = found[person_id]
    stored = crm.execute(
        "SELECT p.*, c.name AS company, c.department FROM person p JOIN contact c"
        " ON c.tenant = p.tenant AND c.contact_id = p.contact_id"
        " WHERE p.tenant = ? AND p.person_id = ?",
        (TENANT, person_id),
    ).fetchone()
    assert (person.first_name, person.middle_name, person.last_name) == ("Åse", "Marie", "Ødegård")
    assert person.full_name == "Åse Marie Ødegård"
    assert person.salutation == "Fru"
    assert person.job_title == "Innkjøpssjef"
    assert person.emails == ("ase.odegard@example.no",)
    assert person.office_phones == ("+47 22 00 00 01",)
    assert person.mobile_phones == ("+47 900 00 002",)
    assert person.private_phones == ("+47 22 00 00 03",)
    assert person.birth_date == date(1980, 2, 29)
    assert person.company_id == stored["contact_id"]
    assert person.company_name == stored["company"]
    assert person.department == stored["department"]
    assert person.retired is False
    assert person.updated_at == datetime.fromisoformat(stored["updated"]).replace(tzinfo=UTC)
    assert found[retired_id].retired is True


def test_person_details_come_in_chunks_of_one_page(
    client: SuperOfficeClient, crm: sqlite3.Connection
) -> None:
    selection = biggest_static_person_selection(crm)
    person_ids = sorted(member_person_ids(crm, selection_id=selection["selection_id"]))[:1200]
    empty_birth_dates = {
        int(row[0])
        for row in crm.execute(
            "SELECT person_id FROM person WHERE tenant = ? AND birth_date IS NULL", (TENANT,)
        )
    }

    found = persons_by_ids(client=client, person_ids=person_ids)

    assert set(found) == set(person_ids)
    assert client.stats.requests == math.ceil(len(person_ids) / DETAIL_CHUNK_SIZE)
    for person_id in set(person_ids) & empty_birth_dates:
        assert found[person_id].birth_date is None


def test_no_ids_cost_no_requests(client: SuperOfficeClient) -> None:
    assert persons_by_ids(client=client, person_ids=[]) == {}
    assert person_ids_at_companies(client=client, company_ids=[]) == frozenset()
    assert client.stats.requests == 0


def test_associates_list_gives_every_user_of_the_tenant(
    client: SuperOfficeClient, crm: sqlite3.Connection
) -> None:
    from syncengine.superoffice.reads import associates_list

    stored = {
        int(row["associate_id"]): row
        for row in crm.execute("SELECT * FROM associate WHERE tenant = ?", (TENANT,))
    }

    associates = associates_list(client=client)

    assert {info.associate_id for info in associates} == set(stored)
    assert [info.full_name for info in associates] == sorted(
        (info.full_name for info in associates), key=str.casefold
    )
    for info in associates:
        row = stored[info.associate_id]
        assert info.full_name == f"{row['first_name']} {row['last_name']}"
        assert info.email == row["email"]
        assert info.user_name == row["user_name"]
        assert info.is_active is bool(row["is_active"])
    inactive = [info for info in associates if not info.is_active]
    assert inactive, "the sandbox seeds one inactive user"
    assert not any(info.can_be_linked for info in inactive)
    assert client.stats.requests == 1


class _DictCache:
    def __init__(self) -> None:
        self.values: dict[str, frozenset[int]] = {}

    def get(self, key: str) -> frozenset[int] | None:
        return self.values.get(key)

    def set(self, key: str, person_ids: frozenset[int]) -> None:
        self.values[key] = person_ids


def test_participants_are_read_again_only_for_new_or_changed_bookings(
    client: SuperOfficeClient, crm: sqlite3.Connection, sandbox: SandboxControl
) -> None:
    window = window_around_now()
    cache = _DictCache()
    first = appointment_person_ids(
        client=client, associate_id=1, window=window, participants_cache=cache
    )
    assert cache.values, "the seed's diary has bookings"
    requests_before = client.stats.requests

    again = appointment_person_ids(
        client=client, associate_id=1, window=window, participants_cache=cache
    )

    assert again == first == expected_appointment_persons(crm, window=window)
    assert client.stats.requests - requests_before == 1  # the diary only

    guest = 5123
    start = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0).isoformat()
    sandbox.create_appointment(
        tenant=TENANT,
        associate_id=1,
        start=start,
        participant_associate_ids=(2,),
        participant_person_ids=(guest,),
    )
    requests_before = client.stats.requests

    with_new_booking = appointment_person_ids(
        client=client, associate_id=1, window=window, participants_cache=cache
    )

    assert guest in with_new_booking
    assert client.stats.requests - requests_before == 2  # the diary and the new booking
