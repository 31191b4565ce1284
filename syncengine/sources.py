"""Sources: the reasons a person is synced, and their keys in provenance.

A source key names one source of one user: "appointments", "selection:12",
"favourite_companies" or "favourite_persons". A person's provenance is the set of
keys that name them.
"""

from __future__ import annotations

from enum import StrEnum

from preferences.selectors import EffectivePreferences


class SourceKind(StrEnum):
    APPOINTMENTS = "appointments"
    STATIC_SELECTIONS = "selections"
    FAVOURITE_COMPANIES = "favourite_companies"
    FAVOURITE_PERSONS = "favourite_persons"


APPOINTMENTS_KEY = "appointments"
FAVOURITE_COMPANIES_KEY = "favourite_companies"
FAVOURITE_PERSONS_KEY = "favourite_persons"
_SELECTION_PREFIX = "selection:"


def selection_key(selection_id: int) -> str:
    return f"{_SELECTION_PREFIX}{selection_id}"


def selection_id_of(key: str) -> int:
    return int(key.removeprefix(_SELECTION_PREFIX))


def source_kind_of(key: str) -> SourceKind:
    if key.startswith(_SELECTION_PREFIX):
        return SourceKind.STATIC_SELECTIONS
    return SourceKind(key)


def enabled_source_keys(preferences: EffectivePreferences) -> dict[SourceKind, frozenset[str]]:
    """The sources a user has now, by kind. Appointments are always on."""
    return {
        SourceKind.APPOINTMENTS: frozenset({APPOINTMENTS_KEY}),
        SourceKind.STATIC_SELECTIONS: frozenset(
            selection_key(selection_id) for selection_id in preferences.selection_ids
        ),
        SourceKind.FAVOURITE_COMPANIES: frozenset(
            {FAVOURITE_COMPANIES_KEY} if preferences.sync_favourite_company_contacts else set()
        ),
        SourceKind.FAVOURITE_PERSONS: frozenset(
            {FAVOURITE_PERSONS_KEY} if preferences.sync_favourite_contacts else set()
        ),
    }


def source_label(key: str, preferences: EffectivePreferences) -> str:
    """How a source is named to a person, e.g. in a run's warnings."""
    kind = source_kind_of(key)
    if kind is SourceKind.STATIC_SELECTIONS:
        selection_id = selection_id_of(key)
        names = [s.name for s in preferences.static_selections if s.id == selection_id]
        return f"Selection “{names[0]}”" if names else f"Selection {selection_id}"
    return {
        SourceKind.APPOINTMENTS: "Persons on appointments",
        SourceKind.FAVOURITE_COMPANIES: "Contacts at favourite companies",
        SourceKind.FAVOURITE_PERSONS: "Favourite contacts",
    }[kind]
