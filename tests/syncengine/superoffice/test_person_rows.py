"""Birth dates from SuperOffice's documented birth columns (year, month, day as ints)."""

from __future__ import annotations

from datetime import date

import pytest

from syncengine.superoffice.person_rows import birth_date


def test_a_whole_birth_date_is_a_date() -> None:
    assert birth_date(year=1980, month=2, day=29) == date(1980, 2, 29)


@pytest.mark.parametrize(
    ("year", "month", "day"),
    [(0, 0, 0), (1, 1, 1), (2, 5, 17), (1980, 0, 12), (1980, 4, 0), (1981, 2, 29)],
)
def test_an_unknown_or_impossible_birth_date_is_none(year: int, month: int, day: int) -> None:
    assert birth_date(year=year, month=month, day=day) is None
