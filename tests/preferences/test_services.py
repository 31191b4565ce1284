from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from preferences.models import PersonSyncPreferences
from preferences.selectors import EffectivePreferences, StaticSelection, effective_preferences_get
from preferences.services import (
    INHERIT,
    PreferencesLocked,
    person_sync_preferences_update,
    profile_defaults_update,
    profile_users_can_edit_set,
)
from preferences.signals import preferences_changed
from profiles.models import LinkedUser, SyncProfile


@pytest.fixture
def announcements() -> Iterator[list[dict[str, Any]]]:
    """Every preferences_changed signal sent during the test."""
    received: list[dict[str, Any]] = []

    def receiver(sender: object, **kwargs: Any) -> None:
        received.append(kwargs)

    preferences_changed.connect(receiver, dispatch_uid="test-announcements")
    yield received
    preferences_changed.disconnect(dispatch_uid="test-announcements")


def test_user_override_is_stored_and_announced(
    alice_link: LinkedUser, announcements: list[dict[str, Any]]
) -> None:
    person_sync_preferences_update(
        linked_user=alice_link,
        changes={
            "sync_favourite_contacts": True,
            "static_selections": [{"id": 5, "name": " VIP "}],
        },
    )

    effective = effective_preferences_get(linked_user=alice_link)
    assert effective.sync_favourite_contacts is True
    assert effective.static_selections == (StaticSelection(id=5, name="VIP"),)
    [announcement] = announcements
    assert announcement["linked_user_id"] == alice_link.id
    assert isinstance(announcement["old"], EffectivePreferences)
    assert announcement["old"].sync_favourite_contacts is False
    assert announcement["new"] == effective


def test_inherit_returns_a_field_to_the_default(
    alice_link: LinkedUser, announcements: list[dict[str, Any]]
) -> None:
    person_sync_preferences_update(linked_user=alice_link, changes={"sync_birthdays": False})

    person_sync_preferences_update(linked_user=alice_link, changes={"sync_birthdays": INHERIT})

    stored = PersonSyncPreferences.objects.get(linked_user=alice_link)
    assert stored.sync_birthdays is None
    assert "sync_birthdays" in effective_preferences_get(linked_user=alice_link).inherited
    assert [a["new"].sync_birthdays for a in announcements] == [False, True]


def test_a_change_that_keeps_the_effective_values_is_not_announced(
    alice_link: LinkedUser, announcements: list[dict[str, Any]]
) -> None:
    # The profile default is already on: overriding it with "on" changes no effective value.
    person_sync_preferences_update(linked_user=alice_link, changes={"sync_birthdays": True})

    assert PersonSyncPreferences.objects.get(linked_user=alice_link).sync_birthdays is True
    assert announcements == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"no_such_field": True}, "is not a Person Synchronization field"),
        ({"sync_birthdays": "yes"}, "Choose on or off"),
        ({"static_selections": "VIP"}, "must be a list"),
        ({"static_selections": [{"name": "VIP"}]}, "no valid SuperOffice id"),
        ({"static_selections": [{"id": True, "name": "VIP"}]}, "no valid SuperOffice id"),
        ({"static_selections": [{"id": 3, "name": "  "}]}, "has no name"),
        (
            {"static_selections": [{"id": 3, "name": "A"}, {"id": 3, "name": "A"}]},
            "is listed twice",
        ),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    alice_link: LinkedUser,
    announcements: list[dict[str, Any]],
    changes: dict[str, Any],
    message: str,
) -> None:
    changes = {"sync_favourite_contacts": True, **changes}

    with pytest.raises(ValidationError) as raised:
        person_sync_preferences_update(linked_user=alice_link, changes=changes)

    assert message in " ".join(raised.value.messages)
    assert not PersonSyncPreferences.objects.filter(linked_user=alice_link).exists()
    assert announcements == []


def test_users_cannot_edit_when_the_profile_forbids_it(
    acme_profile: SyncProfile, alice_link: LinkedUser, announcements: list[dict[str, Any]]
) -> None:
    profile_users_can_edit_set(profile=acme_profile, allowed=False)

    with pytest.raises(PreferencesLocked, match="administrator sets"):
        person_sync_preferences_update(linked_user=alice_link, changes={"sync_title": False})

    assert not PersonSyncPreferences.objects.filter(linked_user=alice_link).exists()


def test_default_change_reaches_inheriting_users_only(
    acme_profile: SyncProfile,
    alice_link: LinkedUser,
    bob_link: LinkedUser,
    charlie_link: LinkedUser,
    announcements: list[dict[str, Any]],
) -> None:
    person_sync_preferences_update(linked_user=bob_link, changes={"sync_favourite_contacts": False})
    announcements.clear()

    profile_defaults_update(profile=acme_profile, changes={"sync_favourite_contacts": True})

    assert effective_preferences_get(linked_user=alice_link).sync_favourite_contacts is True
    assert effective_preferences_get(linked_user=bob_link).sync_favourite_contacts is False
    assert [a["linked_user_id"] for a in announcements] == [alice_link.id]


def test_overwrite_clears_overrides_of_the_saved_fields_only(
    acme_profile: SyncProfile,
    alice_link: LinkedUser,
    bob_link: LinkedUser,
    announcements: list[dict[str, Any]],
) -> None:
    person_sync_preferences_update(
        linked_user=bob_link, changes={"sync_favourite_contacts": False, "sync_title": False}
    )
    announcements.clear()

    profile_defaults_update(
        profile=acme_profile,
        changes={"sync_favourite_contacts": True},
        overwrite_user_settings=True,
    )

    bob_overrides = PersonSyncPreferences.objects.get(linked_user=bob_link)
    assert bob_overrides.sync_favourite_contacts is None
    assert bob_overrides.sync_title is False
    assert effective_preferences_get(linked_user=bob_link).sync_favourite_contacts is True
    assert sorted(a["linked_user_id"] for a in announcements) == sorted(
        [alice_link.id, bob_link.id]
    )


def test_overwrite_announces_users_whose_override_equalled_the_old_default_not_at_all(
    acme_profile: SyncProfile, bob_link: LinkedUser, announcements: list[dict[str, Any]]
) -> None:
    # Bob overrides "title" with the value the new default will have: his effective
    # value stays the same, so no catch-up run is due.
    person_sync_preferences_update(linked_user=bob_link, changes={"sync_title": False})
    announcements.clear()

    profile_defaults_update(
        profile=acme_profile, changes={"sync_title": False}, overwrite_user_settings=True
    )

    assert PersonSyncPreferences.objects.get(linked_user=bob_link).sync_title is None
    assert announcements == []


def test_profile_defaults_refuse_inherit_and_bad_values(
    acme_profile: SyncProfile, alice_link: LinkedUser, announcements: list[dict[str, Any]]
) -> None:
    with pytest.raises(ValidationError, match="cannot inherit"):
        profile_defaults_update(
            profile=acme_profile, changes={"sync_title": False, "sync_birthdays": INHERIT}
        )

    acme_profile.refresh_from_db()
    assert acme_profile.sync_title is True
    assert announcements == []


def test_forbidding_edits_applies_the_defaults_and_keeps_the_overrides(
    acme_profile: SyncProfile, alice_link: LinkedUser, announcements: list[dict[str, Any]]
) -> None:
    person_sync_preferences_update(
        linked_user=alice_link, changes={"sync_favourite_contacts": True}
    )
    announcements.clear()

    profile_users_can_edit_set(profile=acme_profile, allowed=False)

    assert effective_preferences_get(linked_user=alice_link).sync_favourite_contacts is False
    assert PersonSyncPreferences.objects.get(linked_user=alice_link).sync_favourite_contacts is True
    assert [a["new"].sync_favourite_contacts for a in announcements] == [False]

    profile_users_can_edit_set(profile=acme_profile, allowed=True)

    assert effective_preferences_get(linked_user=alice_link).sync_favourite_contacts is True
    assert [a["new"].sync_favourite_contacts for a in announcements] == [False, True]
