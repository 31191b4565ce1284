"""The trigger table is the seed's table, cell by cell."""

from __future__ import annotations

from syncengine.models import RunKind
from syncengine.rules import TRIGGER_TABLE, Trigger
from syncengine.sources import SourceKind

SEED_TABLE = {
    # source: (first run, housekeeping, preference change, every sync)
    SourceKind.APPOINTMENTS: ("yes", "yes", "n/a", "yes"),
    SourceKind.STATIC_SELECTIONS: ("yes", "yes", "persons in a newly added selection", "no"),
    SourceKind.FAVOURITE_COMPANIES: (
        "yes",
        "yes",
        "if Contacts at favourite company or Favourite contacts changed",
        "no",
    ),
    SourceKind.FAVOURITE_PERSONS: (
        "yes",
        "yes",
        "if Contacts at favourite company or Favourite contacts changed",
        "no",
    ),
}
COLUMNS = (RunKind.FIRST, RunKind.HOUSEKEEPING, RunKind.PREFERENCE_CHANGE, RunKind.REGULAR)


def test_the_table_is_the_seeds_table() -> None:
    as_read = {
        source: tuple(str(TRIGGER_TABLE[source][kind]) for kind in COLUMNS)
        for source in TRIGGER_TABLE
    }

    assert as_read == SEED_TABLE


def test_every_source_and_run_kind_has_a_cell() -> None:
    assert set(TRIGGER_TABLE) == set(SourceKind)
    for row in TRIGGER_TABLE.values():
        assert set(row) == set(RunKind)
        assert all(isinstance(cell, Trigger) for cell in row.values())
