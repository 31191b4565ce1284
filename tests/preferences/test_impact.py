"""preferences.impact and the selectors behind it, called directly: what an administrator's
change would do, and a computation's claim on the change it computes."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from preferences.impact import (
    ProfileChange,
    preference_change_apply,
    preference_change_impact_compute,
    preference_change_recompute,
    profile_change_submit,
)
from preferences.models import ChangeStatus, PendingPreferenceChange, PersonSyncPreferences
from preferences.selectors import (
    effective_preferences_for_profile,
    effective_preferences_for_profile_after,
    profile_preferences_fingerprint,
)
from preferences.services import person_sync_preferences_update
from preferences.signals import InitiatedBy, preferences_changed
from profiles.models import LinkedUser, SyncProfile, User
from tests.portals.conftest import make_ready
from tests.preferences.impact_task import impact_task_runs_at_once  # noqa: F401

Commit = Callable[..., AbstractContextManager[Any]]


def test_effective_values_after_a_change_are_computed_without_saving(
    acme_profile: SyncProfile, alice_link: LinkedUser, bob_link: LinkedUser
) -> None:
    PersonSyncPreferences.objects.create(linked_user=bob_link, sync_title=False)

    after = effective_preferences_for_profile_after(
        profile=acme_profile, defaults={}, users_can_edit=False
    )
    overwritten = effective_preferences_for_profile_after(
        profile=acme_profile, defaults={"sync_title": True}, overwrite_user_settings=True
    )

    assert after[bob_link.pk].sync_title is True
    assert overwritten[bob_link.pk].sync_title is True
    acme_profile.refresh_from_db()
    assert acme_profile.users_can_edit_preferences is True
    assert effective_preferences_for_profile(profile=acme_profile)[bob_link.pk].sync_title is False
    assert PersonSyncPreferences.objects.get(linked_user=bob_link).sync_title is False


def test_the_fingerprint_follows_every_users_preferences(
    acme_profile: SyncProfile, alice_link: LinkedUser, bob_link: LinkedUser
) -> None:
    first = profile_preferences_fingerprint(profile=acme_profile)
    assert profile_preferences_fingerprint(profile=acme_profile) == first

    PersonSyncPreferences.objects.create(linked_user=bob_link, sync_title=False)
    second = profile_preferences_fingerprint(profile=acme_profile)
    SyncProfile.objects.filter(pk=acme_profile.pk).update(sync_birthdays=False)
    third = profile_preferences_fingerprint(profile=acme_profile)

    assert len({first, second, third}) == 3


@pytest.fixture
def pending(
    acme_profile: SyncProfile,
    alice: User,
    bob_link: LinkedUser,
    django_capture_on_commit_callbacks: Commit,
) -> PendingPreferenceChange:
    make_ready(bob_link)
    PersonSyncPreferences.objects.create(linked_user=bob_link, sync_title=False)
    with django_capture_on_commit_callbacks(execute=True):
        held = profile_change_submit(
            profile=acme_profile, proposed_by=alice, change=ProfileChange(users_can_edit=False)
        )
    assert held is not None
    held.refresh_from_db()
    return held


def test_an_earlier_computation_does_not_overwrite_a_later_one(
    pending: PendingPreferenceChange, bob_link: LinkedUser
) -> None:
    pending = preference_change_recompute(pending=pending)  # queued, not run: no commit
    assert (pending.status, pending.computation) == (ChangeStatus.COMPUTING, 2)

    preference_change_impact_compute(change_id=pending.pk, computation=1)
    pending.refresh_from_db()
    assert pending.status == ChangeStatus.COMPUTING

    preference_change_impact_compute(change_id=pending.pk, computation=2)
    pending.refresh_from_db()
    assert (pending.status, pending.users_affected) == (ChangeStatus.READY, 1)


def test_the_admins_change_is_announced_as_the_admins(
    pending: PendingPreferenceChange, alice: User, bob_link: LinkedUser
) -> None:
    received: list[dict[str, Any]] = []

    def receiver(sender: object, **kwargs: Any) -> None:
        received.append(kwargs)

    preferences_changed.connect(receiver, dispatch_uid="test-initiated-by")
    try:
        preference_change_apply(
            pending=pending, decided_by=alice, seen_computation=pending.computation
        )
    finally:
        preferences_changed.disconnect(dispatch_uid="test-initiated-by")

    assert [(r["linked_user_id"], r["initiated_by"]) for r in received] == [
        (bob_link.pk, InitiatedBy.ADMIN)
    ]


def test_a_users_own_edit_is_announced_as_the_users(alice_link: LinkedUser) -> None:
    received: list[dict[str, Any]] = []

    def receiver(sender: object, **kwargs: Any) -> None:
        received.append(kwargs)

    preferences_changed.connect(receiver, dispatch_uid="test-initiated-by")
    try:
        person_sync_preferences_update(linked_user=alice_link, changes={"sync_birthdays": False})
    finally:
        preferences_changed.disconnect(dispatch_uid="test-initiated-by")

    assert [r["initiated_by"] for r in received] == ["user"]


def test_a_newer_change_replaces_one_still_waiting(
    pending: PendingPreferenceChange, acme_profile: SyncProfile, alice: User
) -> None:
    newer = profile_change_submit(
        profile=acme_profile,
        proposed_by=alice,
        change=ProfileChange(defaults={"sync_title": True}, overwrite_user_settings=True),
    )

    assert newer is not None
    pending.refresh_from_db()
    assert pending.status == ChangeStatus.CANCELLED
    with pytest.raises(ValidationError, match="already cancelled"):
        preference_change_apply(
            pending=pending, decided_by=alice, seen_computation=pending.computation
        )


def test_invalid_defaults_are_refused_and_nothing_is_held(
    acme_profile: SyncProfile, alice: User, bob_link: LinkedUser
) -> None:
    with pytest.raises(ValidationError):
        profile_change_submit(
            profile=acme_profile,
            proposed_by=alice,
            change=ProfileChange(defaults={"sync_title": "sometimes"}),
        )

    assert not PendingPreferenceChange.objects.exists()
