"""Archive cells are read by type, and a cell of the wrong type is refused, not guessed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from syncengine.superoffice.cells import (
    bool_cell,
    datetime_cell,
    id_cell,
    text_cell,
)
from syncengine.superoffice.errors import PermanentError


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), (False, False), ("true", True), ("False", False), (1, True), (0, False)],
)
def test_logical_booleans_are_read(value: object, expected: bool) -> None:
    assert bool_cell({"retired": value}, "retired") is expected


@pytest.mark.parametrize("value", ["[I:checked]", "[I:unchecked]", "", "yes", 2])
def test_display_values_are_not_taken_for_booleans(value: object) -> None:
    # Display output sends icon hints, which bool() would read as true.
    with pytest.raises(PermanentError, match="boolean column retired"):
        bool_cell({"retired": value}, "retired")


@pytest.mark.parametrize(("value", "expected"), [(42, 42), ("42", 42), (None, 0), ("", 0)])
def test_ids_are_read_from_numbers_and_numeric_text(value: object, expected: int) -> None:
    assert id_cell({"associateDbId": value}, "associateDbId") == expected


@pytest.mark.parametrize("value", ["IH", "Ingrid Haugen", True, 4.5])
def test_display_names_are_not_taken_for_ids(value: object) -> None:
    # An associate or list column in Display output holds a name or initials.
    with pytest.raises(PermanentError, match="id column associateDbId"):
        id_cell({"associateDbId": value}, "associateDbId")


def test_dates_are_iso_text_in_utc() -> None:
    row = {"updated": "2026-03-01T12:30:00", "none": "", "bad": "01.03.2026"}

    assert datetime_cell(row, "updated") == datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    assert datetime_cell(row, "none") is None
    with pytest.raises(PermanentError, match="date column bad"):
        datetime_cell(row, "bad")


def test_an_empty_boolean_is_false() -> None:
    assert bool_cell({"retired": None}, "retired") is False
    assert bool_cell({}, "retired") is False


def test_text_is_trimmed_and_none_is_empty() -> None:
    assert text_cell({"name": "  Nordlys AS "}, "name") == "Nordlys AS"
    assert text_cell({}, "name") == ""
