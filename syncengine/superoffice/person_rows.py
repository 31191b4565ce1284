"""Person rows of the archives as PersonRecords.

Several archives carry every card field of a person, each under its own column names for
the company, its street address and the e-mail address; `PersonColumns` says which, so one
reader serves all.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from syncengine.superoffice.cells import (
    bool_cell,
    datetime_cell,
    id_cell,
    text_cell,
)
from syncengine.superoffice.records import Address, PersonRecord

# The parts of a documented StructuredAddress column the card uses.
STREET_ADDRESS_PARTS = ("line1", "line2", "line3", "zip", "city", "county", "state")


@dataclass(frozen=True)
class PersonColumns:
    """Where a provider keeps each card field: the person archives name the company
    `personContact/…`, the selection archive names it at the top, beside its members."""

    company_name: str
    department: str
    email: str
    # The company's street address: `personContact/streetAddress` or `streetAddress`.
    street_address: str

    def address_columns(self) -> tuple[str, ...]:
        return tuple(f"{self.street_address}/{part}" for part in STREET_ADDRESS_PARTS)

    def select(self) -> tuple[str, ...]:
        return (
            "personId",
            "firstName",
            "middleName",
            "lastName",
            "title",
            "mrMrs",
            "contactId",
            self.company_name,
            self.department,
            self.email,
            "personDirectPhone/formattedNumber",
            "personMobilePhone/formattedNumber",
            "personPrivate/formattedNumber",
            # The documented birth columns: `birthdate` has no restriction type, so no
            # documented value form; these three are ints.
            "birthYear",
            "birthMonth",
            "birthDay",
            "retired",
            "personUpdatedDate",
            *self.address_columns(),
        )


PERSON_ARCHIVE_COLUMNS = PersonColumns(
    company_name="personContact/name",
    department="personContact/department",
    email="email/emailAddress",
    street_address="personContact/streetAddress",
)
SELECTION_MEMBER_COLUMNS = PersonColumns(
    company_name="name",
    department="department",
    email="personEmail/emailAddress",
    street_address="streetAddress",
)


def birth_date(*, year: int, month: int, day: int) -> date | None:
    """A card needs a whole date: none when a part is unknown. SuperOffice stores a
    missing year as year 1 or 2 ("day and month, year unknown")."""
    if year <= 2 or not month or not day:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def street_address(row: dict[str, Any], *, columns: PersonColumns) -> Address | None:
    """The company's street address, None when every part of it is empty."""
    part = {
        name: text_cell(row, f"{columns.street_address}/{name}") for name in STREET_ADDRESS_PARTS
    }
    address = Address(
        street_lines=tuple(line for line in (part["line1"], part["line2"], part["line3"]) if line),
        zip_code=part["zip"],
        city=part["city"],
        region=part["state"] or part["county"],
    )
    if not (address.street_lines or address.zip_code or address.city or address.region):
        return None
    return address


def person_records(
    rows: Iterator[dict[str, Any]], *, columns: PersonColumns
) -> Iterator[PersonRecord]:
    for row in rows:
        if person_id := id_cell(row, "personId"):
            yield _person_record(row=row, person_id=person_id, columns=columns)


def _present(row: dict[str, Any], column: str) -> tuple[str, ...]:
    # The archive gives each person's primary address and number of each kind.
    text = text_cell(row, column)
    return (text,) if text else ()


def _person_record(*, row: dict[str, Any], person_id: int, columns: PersonColumns) -> PersonRecord:
    return PersonRecord(
        person_id=person_id,
        first_name=text_cell(row, "firstName"),
        middle_name=text_cell(row, "middleName"),
        last_name=text_cell(row, "lastName"),
        job_title=text_cell(row, "title"),
        salutation=text_cell(row, "mrMrs"),
        company_id=id_cell(row, "contactId"),
        company_name=text_cell(row, columns.company_name),
        department=text_cell(row, columns.department),
        emails=_present(row, columns.email),
        office_phones=_present(row, "personDirectPhone/formattedNumber"),
        mobile_phones=_present(row, "personMobilePhone/formattedNumber"),
        private_phones=_present(row, "personPrivate/formattedNumber"),
        birth_date=birth_date(
            year=id_cell(row, "birthYear"),
            month=id_cell(row, "birthMonth"),
            day=id_cell(row, "birthDay"),
        ),
        retired=bool_cell(row, "retired"),
        updated_at=datetime_cell(row, "personUpdatedDate"),
        address=street_address(row, columns=columns),
    )
