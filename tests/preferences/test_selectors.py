from __future__ import annotations

import itertools

import pytest

from preferences.models import PersonSyncPreferences
from preferences.selectors import (
    BOOLEAN_FIELDS,
    PERSON_SYNC_FIELDS,
    StaticSelection,
    effective_preferences_for_profile,
    effective_preferences_get,
    effective_preferences_resolve,
)
from profiles.models import LinkedUser, SyncProfile

PROFILE_SELECTIONS = [{"id": 10, "name": "Customers"}]
USER_SELECTIONS = [{"id": 20, "name": "Partners"}, {"id": 21, "name": "Press"}]


def _value(field: str, *, side: str, flag: bool) -> object:
    if field == "static_selections":
        return PROFILE_SELECTIONS if side == "profile" else USER_SELECTIONS
    return flag


@pytest.mark.parametrize("field", PERSON_SYNC_FIELDS)
@pytest.mark.parametrize(
    ("profile_flag", "override", "users_can_edit"),
    list(itertools.product([True, False], ["inherit", True, False], [True, False])),
)
def test_every_field_in_every_combination(
    field: str,
    profile_flag: bool,
    override: str | bool,
    users_can_edit: bool,
    acme_profile: SyncProfile,
    alice_link: LinkedUser,
) -> None:
    setattr(acme_profile, field, _value(field, side="profile", flag=profile_flag))
    acme_profile.users_can_edit_preferences = users_can_edit
    acme_profile.save()
    overrides = PersonSyncPreferences.objects.create(linked_user=alice_link)
    if override != "inherit":
        setattr(overrides, field, _value(field, side="user", flag=bool(override)))
        overrides.save()

    effective = effective_preferences_get(linked_user=alice_link)

    user_wins = override != "inherit" and users_can_edit
    expected = (
        _value(field, side="user", flag=bool(override))
        if user_wins
        else _value(field, side="profile", flag=profile_flag)
    )
    if field == "static_selections":
        assert effective.static_selections == tuple(
            StaticSelection(id=item["id"], name=item["name"])
            for item in expected  # type: ignore[attr-defined]
        )
    else:
        assert getattr(effective, field) is expected
    assert (field in effective.inherited) is not user_wins


def test_without_an_overrides_row_everything_is_inherited(
    acme_profile: SyncProfile, alice_link: LinkedUser
) -> None:
    effective = effective_preferences_get(linked_user=alice_link)

    assert effective.inherited == frozenset(PERSON_SYNC_FIELDS)
    assert effective.sync_favourite_contacts is False
    assert effective.sync_birthdays is True
    assert effective.static_selections == ()


def test_an_empty_list_is_an_override_not_inheritance(acme_profile: SyncProfile) -> None:
    acme_profile.static_selections = PROFILE_SELECTIONS
    overrides = PersonSyncPreferences(static_selections=[])

    effective = effective_preferences_resolve(profile=acme_profile, overrides=overrides)

    assert effective.static_selections == ()
    assert "static_selections" not in effective.inherited


def test_equality_ignores_where_values_come_from(acme_profile: SyncProfile) -> None:
    inherited = effective_preferences_resolve(profile=acme_profile, overrides=None)
    same_values = effective_preferences_resolve(
        profile=acme_profile,
        overrides=PersonSyncPreferences(sync_birthdays=acme_profile.sync_birthdays),
    )

    assert inherited == same_values
    assert inherited.inherited != same_values.inherited


def test_as_json_carries_every_value(acme_profile: SyncProfile) -> None:
    acme_profile.static_selections = PROFILE_SELECTIONS
    effective = effective_preferences_resolve(profile=acme_profile, overrides=None)

    as_json = effective.as_json()

    assert set(as_json) == set(PERSON_SYNC_FIELDS)
    assert as_json["static_selections"] == PROFILE_SELECTIONS
    assert all(as_json[name] is getattr(effective, name) for name in BOOLEAN_FIELDS)


def test_for_profile_covers_live_links_of_that_profile_only(
    acme_profile: SyncProfile,
    alice_link: LinkedUser,
    bob_link: LinkedUser,
    charlie_link: LinkedUser,
    django_assert_max_num_queries: object,
) -> None:
    PersonSyncPreferences.objects.create(linked_user=bob_link, sync_favourite_contacts=True)
    bob_link.soft_delete()

    by_link = effective_preferences_for_profile(profile=acme_profile)

    assert set(by_link) == {alice_link.id}
    PersonSyncPreferences.objects.create(linked_user=alice_link, sync_favourite_contacts=True)
    with django_assert_max_num_queries(2):  # type: ignore[operator]
        assert effective_preferences_for_profile(profile=acme_profile)[
            alice_link.id
        ].sync_favourite_contacts
