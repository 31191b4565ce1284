from __future__ import annotations

import pytest

from preferences.selectors import EffectivePreferences, StaticSelection
from syncengine.models import RunKind
from syncengine.planner import PreferenceChange, plan_run
from syncengine.sources import (
    APPOINTMENTS_KEY,
    FAVOURITE_COMPANIES_KEY,
    FAVOURITE_PERSONS_KEY,
    selection_key,
)

VIP = StaticSelection(id=10, name="VIP")
PRESS = StaticSelection(id=20, name="Press")


def prefs(
    *selections: StaticSelection, companies: bool = False, persons: bool = False
) -> EffectivePreferences:
    return EffectivePreferences(
        static_selections=selections,
        sync_favourite_company_contacts=companies,
        sync_favourite_contacts=persons,
        sync_job_title=True,
        sync_title=True,
        sync_department=True,
        personal_phone_as_primary=True,
        sync_birthdays=True,
    )


EVERYTHING = prefs(VIP, PRESS, companies=True, persons=True)
ALL_KEYS = {
    APPOINTMENTS_KEY,
    selection_key(10),
    selection_key(20),
    FAVOURITE_COMPANIES_KEY,
    FAVOURITE_PERSONS_KEY,
}


@pytest.mark.parametrize("kind", [RunKind.FIRST, RunKind.HOUSEKEEPING])
def test_first_and_housekeeping_read_every_source_the_user_has(kind: RunKind) -> None:
    plan = plan_run(kinds=[kind], preferences=EVERYTHING)

    assert plan.evaluate == ALL_KEYS
    assert plan.enabled == ALL_KEYS


@pytest.mark.parametrize("kind", [RunKind.FIRST, RunKind.HOUSEKEEPING])
def test_sources_switched_off_are_not_read(kind: RunKind) -> None:
    plan = plan_run(kinds=[kind], preferences=prefs(VIP))

    assert plan.evaluate == {APPOINTMENTS_KEY, selection_key(10)}


def test_every_sync_reads_appointments_only() -> None:
    plan = plan_run(kinds=[RunKind.REGULAR], preferences=EVERYTHING)

    assert plan.evaluate == {APPOINTMENTS_KEY}
    # Sources not read keep their persons: they are still enabled.
    assert plan.enabled == ALL_KEYS


def test_a_preference_change_never_reads_appointments() -> None:
    change = PreferenceChange(old=prefs(), new=EVERYTHING)

    plan = plan_run(
        kinds=[RunKind.PREFERENCE_CHANGE], preferences=EVERYTHING, preference_change=change
    )

    assert APPOINTMENTS_KEY not in plan.evaluate


def test_a_preference_change_reads_only_newly_added_selections() -> None:
    change = PreferenceChange(old=prefs(VIP), new=prefs(VIP, PRESS))

    plan = plan_run(
        kinds=[RunKind.PREFERENCE_CHANGE], preferences=prefs(VIP, PRESS), preference_change=change
    )

    assert plan.evaluate == {selection_key(20)}


def test_a_removed_selection_is_not_read_and_no_longer_enabled() -> None:
    change = PreferenceChange(old=prefs(VIP, PRESS), new=prefs(VIP))

    plan = plan_run(
        kinds=[RunKind.PREFERENCE_CHANGE], preferences=prefs(VIP), preference_change=change
    )

    assert plan.evaluate == frozenset()
    assert selection_key(20) not in plan.enabled


def test_a_renamed_selection_with_the_same_id_is_not_new() -> None:
    renamed = StaticSelection(id=10, name="VIP customers")
    change = PreferenceChange(old=prefs(VIP), new=prefs(renamed))

    plan = plan_run(
        kinds=[RunKind.PREFERENCE_CHANGE], preferences=prefs(renamed), preference_change=change
    )

    assert plan.evaluate == frozenset()


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # Turning one switch on reads every favourites source now on.
        (
            prefs(persons=True),
            prefs(companies=True, persons=True),
            {FAVOURITE_COMPANIES_KEY, FAVOURITE_PERSONS_KEY},
        ),
        (prefs(), prefs(persons=True), {FAVOURITE_PERSONS_KEY}),
        # Turning one off reads the other, still on; the one off loses its persons.
        (prefs(companies=True, persons=True), prefs(companies=True), {FAVOURITE_COMPANIES_KEY}),
        # Nothing changed in the favourites switches: nothing to read.
        (prefs(companies=True), prefs(VIP, companies=True), {selection_key(10)}),
    ],
)
def test_favourites_are_read_when_a_favourites_switch_changed(
    old: EffectivePreferences, new: EffectivePreferences, expected: set[str]
) -> None:
    plan = plan_run(
        kinds=[RunKind.PREFERENCE_CHANGE],
        preferences=new,
        preference_change=PreferenceChange(old=old, new=new),
    )

    assert plan.evaluate == expected


def test_a_preference_change_without_a_recorded_change_reads_nothing() -> None:
    plan = plan_run(kinds=[RunKind.PREFERENCE_CHANGE], preferences=EVERYTHING)

    assert plan.evaluate == frozenset()


def test_coalesced_requests_read_the_union() -> None:
    change = PreferenceChange(old=prefs(VIP), new=prefs(VIP, PRESS))

    plan = plan_run(
        kinds=[RunKind.REGULAR, RunKind.PREFERENCE_CHANGE],
        preferences=prefs(VIP, PRESS),
        preference_change=change,
    )

    assert plan.evaluate == {APPOINTMENTS_KEY, selection_key(20)}


def test_preference_change_round_trips_through_json() -> None:
    change = PreferenceChange(old=prefs(VIP), new=prefs(VIP, PRESS, companies=True))

    assert PreferenceChange.from_json(change.as_json()) == change
