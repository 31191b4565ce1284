"""Which persons are synced when: the seed's table, as data (DESIGN §5).

Read it as the seed's table: a row per source, a column per run kind. The planner
(syncengine.planner) is the only reader.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from syncengine.models import RunKind
from syncengine.sources import SourceKind


class Trigger(StrEnum):
    YES = "yes"
    NO = "no"
    # "n/a": a catch-up run does not read appointments; the next regular run does.
    NOT_APPLICABLE = "n/a"
    # Only selections newly added to the effective list, compared by SuperOffice id.
    NEWLY_ADDED_SELECTIONS = "persons in a newly added selection"
    # Every favourites source now on, when either favourites switch changed.
    FAVOURITE_SETTINGS_CHANGED = "if Contacts at favourite company or Favourite contacts changed"


TRIGGER_TABLE: Mapping[SourceKind, Mapping[RunKind, Trigger]] = MappingProxyType(
    {
        SourceKind.APPOINTMENTS: {
            RunKind.FIRST: Trigger.YES,
            RunKind.HOUSEKEEPING: Trigger.YES,
            RunKind.PREFERENCE_CHANGE: Trigger.NOT_APPLICABLE,
            RunKind.REGULAR: Trigger.YES,
        },
        SourceKind.STATIC_SELECTIONS: {
            RunKind.FIRST: Trigger.YES,
            RunKind.HOUSEKEEPING: Trigger.YES,
            RunKind.PREFERENCE_CHANGE: Trigger.NEWLY_ADDED_SELECTIONS,
            RunKind.REGULAR: Trigger.NO,
        },
        SourceKind.FAVOURITE_COMPANIES: {
            RunKind.FIRST: Trigger.YES,
            RunKind.HOUSEKEEPING: Trigger.YES,
            RunKind.PREFERENCE_CHANGE: Trigger.FAVOURITE_SETTINGS_CHANGED,
            RunKind.REGULAR: Trigger.NO,
        },
        SourceKind.FAVOURITE_PERSONS: {
            RunKind.FIRST: Trigger.YES,
            RunKind.HOUSEKEEPING: Trigger.YES,
            RunKind.PREFERENCE_CHANGE: Trigger.FAVOURITE_SETTINGS_CHANGED,
            RunKind.REGULAR: Trigger.NO,
        },
    }
)
