"""The typed reads against the live sandbox; expected values come from the sandbox's own
database (read-only), so nothing here depends on hard-coded seed counts."""

from __future__ import annotations

import math
import sqlite3
from datetime import UTC, date, datetime, timedelta

from sandbox.testing import SandboxControl
from syncengine.superoffice.client import DEFAULT_PAGE_SIZE, SuperOfficeClient
from syncengine.superoffice.reads import (
    COMPANY_RANGE_GAP,
    PERSON_RANGE_GAP,
    appointment_person_ids,
    associates_list,
    favourite_company_ids,
    favourite_persons,
    id_ranges,
    persons_at_companies,
    persons_by_ids,
)
from syncengine.superoffice.records import Address, SyncWindow
from tests.plugins.nordlys import TENANT
from tests.syncengine.superoffice.crm_facts import (
    biggest_static_person_selection,
    member_person_ids,
    so_time,
)

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
    persons = set(favourite_persons(client=client, associate_id=1))

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

    assert retired[0] in set(favourite_persons(client=client, associate_id=1))


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

    found = set(persons_at_companies(client=client, company_ids=company_ids))

    assert found == current
    assert not found & former

    leaving = min(current)
    sandbox.set_retired(tenant=TENANT, person_id=leaving)
    assert set(persons_at_companies(client=client, company_ids=company_ids)) == current - {leaving}


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

    assert set(persons_at_companies(client=client, company_ids=company_ids)) == expected
    # 600 neighbouring companies are one range, read in pages of a thousand persons.
    assert client.stats.requests == len(expected) // DEFAULT_PAGE_SIZE + 1


def test_companies_far_apart_are_read_as_separate_ranges(
    client: SuperOfficeClient, crm: sqlite3.Connection
) -> None:
    low, high = crm.execute(
        "SELECT MIN(contact_id), MAX(contact_id) FROM contact WHERE tenant = ?", (TENANT,)
    ).fetchone()
    assert high - low > 2 * COMPANY_RANGE_GAP
    company_ids = {low, high}
    expected = {
        int(row[0])
        for row in crm.execute(
            "SELECT person_id FROM person WHERE tenant = ? AND retired = 0"
            " AND contact_id IN (?, ?)",
            (TENANT, low, high),
        )
    }

    found = persons_at_companies(client=client, company_ids=company_ids)

    assert set(found) == expected
    assert {person.company_id for person in found.values()} <= company_ids
    assert client.stats.requests == 2


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


def stored_street_address(crm: sqlite3.Connection, *, company_id: int) -> Address | None:
    row = crm.execute(
        "SELECT * FROM contact WHERE tenant = ? AND contact_id = ?", (TENANT, company_id)
    ).fetchone()
    if not row["street_line1"]:
        return None
    lines = (row["street_line1"], row["street_line2"], row["street_line3"])
    return Address(
        street_lines=tuple(line for line in lines if line),
        zip_code=row["street_zip"],
        city=row["street_city"],
        region=row["street_state"] or row["street_county"],
    )


def test_person_details_carry_the_companys_street_address(
    client: SuperOfficeClient, crm: sqlite3.Connection
) -> None:
    with_address = int(
        crm.execute(
            "SELECT p.person_id FROM person p JOIN contact c ON c.tenant = p.tenant"
            " AND c.contact_id = p.contact_id WHERE p.tenant = ? AND c.street_line2 != ''"
            " ORDER BY p.person_id",
            (TENANT,),
        ).fetchone()[0]
    )
    without_address = int(
        crm.execute(
            "SELECT p.person_id FROM person p JOIN contact c ON c.tenant = p.tenant"
            " AND c.contact_id = p.contact_id WHERE p.tenant = ? AND c.street_line1 = ''"
            " ORDER BY p.person_id",
            (TENANT,),
        ).fetchone()[0]
    )

    found = persons_by_ids(client=client, person_ids=[with_address, without_address])

    person = found[with_address]
    assert person.address is not None
    assert person.address == stored_street_address(crm, company_id=person.company_id)
    assert len(person.address.street_lines) == 2
    assert person.address.zip_code
    assert found[without_address].address is None


def test_ids_close_together_share_a_range() -> None:
    assert id_ranges([7, 3, 5, 3], widest_gap=2) == [(3, 7)]
    assert id_ranges([1, 4, 5, 9], widest_gap=2) == [(1, 1), (4, 5), (9, 9)]
    assert id_ranges([], widest_gap=2) == []


def test_person_details_come_in_ranges_of_pages(
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
    # Every range is read in pages of a thousand rows, the rows between wanted ids included.
    expected_requests = sum(
        (high - low + 1) // DEFAULT_PAGE_SIZE + 1
        for low, high in id_ranges(person_ids, widest_gap=PERSON_RANGE_GAP)
    )
    assert client.stats.requests <= expected_requests
    assert client.stats.requests <= math.ceil(len(person_ids) / DEFAULT_PAGE_SIZE) + len(
        id_ranges(person_ids, widest_gap=PERSON_RANGE_GAP)
    )
    for person_id in set(person_ids) & empty_birth_dates:
        assert found[person_id].birth_date is None


def test_no_ids_cost_no_requests(client: SuperOfficeClient) -> None:
    assert persons_by_ids(client=client, person_ids=[]) == {}
    assert persons_at_companies(client=client, company_ids=[]) == {}
    assert client.stats.requests == 0


def test_associates_list_gives_every_user_of_the_tenant(
    client: SuperOfficeClient, crm: sqlite3.Connection
) -> None:
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
        ordinary = row["user_type"] == "InternalAssociate" and bool(row["email"])
        assert info.can_be_linked is (ordinary and bool(row["is_active"]))
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
