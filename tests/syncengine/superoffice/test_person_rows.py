"""Birth dates from SuperOffice's documented birth columns (year, month, day as ints)."""

from __future__ import annotations

from datetime import date

import pytest

from syncengine.superoffice.person_rows import (
    PERSON_ARCHIVE_COLUMNS,
    SELECTION_MEMBER_COLUMNS,
    birth_date,
    person_records,
    street_address,
)
from syncengine.superoffice.records import Address


def test_a_whole_birth_date_is_a_date() -> None:
    assert birth_date(year=1980, month=2, day=29) == date(1980, 2, 29)


@pytest.mark.parametrize(
    ("year", "month", "day"),
    [(0, 0, 0), (1, 1, 1), (2, 5, 17), (1980, 0, 12), (1980, 4, 0), (1981, 2, 29)],
)
def test_an_unknown_or_impossible_birth_date_is_none(year: int, month: int, day: int) -> None:
    assert birth_date(year=year, month=month, day=day) is None


def test_the_street_address_is_read_under_each_archives_names() -> None:
    parts = {"line1": "Storgata 1", "line2": "", "line3": "Bakgården", "zip": "0155"}
    parts |= {"city": "Oslo", "county": "", "state": ""}
    person_row = {f"personContact/streetAddress/{k}": v for k, v in parts.items()}
    member_row = {f"streetAddress/{k}": v for k, v in parts.items()}
    expected = Address(
        street_lines=("Storgata 1", "Bakgården"), zip_code="0155", city="Oslo", region=""
    )

    assert street_address(person_row, columns=PERSON_ARCHIVE_COLUMNS) == expected
    assert street_address(member_row, columns=SELECTION_MEMBER_COLUMNS) == expected
    assert street_address(person_row, columns=SELECTION_MEMBER_COLUMNS) is None


def test_the_region_is_the_state_else_the_county() -> None:
    row = {"streetAddress/city": "Leeds", "streetAddress/county": "West Yorkshire"}
    with_state = row | {"streetAddress/state": "England"}

    county = street_address(row, columns=SELECTION_MEMBER_COLUMNS)
    state = street_address(with_state, columns=SELECTION_MEMBER_COLUMNS)

    assert county == Address(street_lines=(), zip_code="", city="Leeds", region="West Yorkshire")
    assert state == Address(street_lines=(), zip_code="", city="Leeds", region="England")


def test_an_empty_street_address_is_none() -> None:
    row = {"personId": 5, **{column: "" for column in PERSON_ARCHIVE_COLUMNS.address_columns()}}

    (record,) = person_records(iter([row]), columns=PERSON_ARCHIVE_COLUMNS)

    assert record.address is None


def test_the_address_columns_are_asked_for() -> None:
    assert "personContact/streetAddress/line1" in PERSON_ARCHIVE_COLUMNS.select()
    assert "streetAddress/zip" in SELECTION_MEMBER_COLUMNS.select()
