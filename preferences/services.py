"""Changing Person Synchronization preferences: a user's own, and a profile's defaults.

Every change that alters a linked user's *effective* values sends `preferences_changed`
for that user (and only then), carrying the old and the new values.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any, Final

from django.core.exceptions import ValidationError
from django.db import transaction

from preferences.models import PersonSyncPreferences
from preferences.selectors import (
    BOOLEAN_FIELDS,
    PERSON_SYNC_FIELDS,
    effective_preferences_for_profile,
)
from preferences.signals import InitiatedBy, preferences_changed
from profiles.models import LinkedUser, SyncProfile, User


class _Inherit:
    def __repr__(self) -> str:
        return "INHERIT"


# Pass as a value to return a user's field to the profile's default.
INHERIT: Final = _Inherit()


def _cleaned_selections(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list | tuple):
        raise ValidationError("Static selections must be a list.")
    cleaned: list[dict[str, Any]] = []
    seen: set[int] = set()
    for item in value:
        selection_id = item.get("id") if isinstance(item, Mapping) else None
        name = item.get("name") if isinstance(item, Mapping) else None
        if isinstance(selection_id, bool) or not isinstance(selection_id, int) or selection_id < 1:
            raise ValidationError(f"Selection {item!r} has no valid SuperOffice id.")
        if not isinstance(name, str) or not name.strip():
            raise ValidationError(f"Selection {selection_id} has no name.")
        if selection_id in seen:
            raise ValidationError(f"Selection “{name.strip()}” is listed twice.")
        seen.add(selection_id)
        cleaned.append({"id": selection_id, "name": name.strip()})
    return cleaned


def person_sync_changes_clean(*, changes: Mapping[str, Any], allow_inherit: bool) -> dict[str, Any]:
    """Validate every change before anything is written; raise one ValidationError for all."""
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in PERSON_SYNC_FIELDS:
            errors.setdefault("__all__", []).append(
                f"“{name}” is not a Person Synchronization field."
            )
        elif value is INHERIT:
            if allow_inherit:
                cleaned[name] = None
            else:
                errors.setdefault(name, []).append("A profile default cannot inherit.")
        elif name in BOOLEAN_FIELDS:
            if isinstance(value, bool):
                cleaned[name] = value
            else:
                errors.setdefault(name, []).append("Choose on or off.")
        else:
            try:
                cleaned[name] = _cleaned_selections(value)
            except ValidationError as error:
                errors.setdefault(name, []).extend(error.messages)
    if errors:
        raise ValidationError(errors)
    return cleaned


@contextlib.contextmanager
def _announcing_effective_changes(
    *, profile: SyncProfile, initiated_by: InitiatedBy
) -> Iterator[None]:
    """Compare every linked user's effective values before and after the block."""
    before = effective_preferences_for_profile(profile=profile)
    yield
    after = effective_preferences_for_profile(profile=profile)
    for linked_user_id, old in before.items():
        new = after.get(linked_user_id)
        if new is not None and new != old:
            preferences_changed.send(
                sender=PersonSyncPreferences,
                linked_user_id=linked_user_id,
                old=old,
                new=new,
                initiated_by=initiated_by,
            )


class PreferencesLocked(ValidationError):
    """The profile does not let users edit their own preferences."""


def person_sync_preferences_update(
    *,
    linked_user: LinkedUser,
    changes: Mapping[str, Any],
    edited_by: User | None = None,
) -> PersonSyncPreferences:
    """Store a user's overrides; a value of INHERIT returns that field to the default.
    `edited_by` is who made the change: anyone but the linked user themself (an
    administrator) makes it an administrator's change."""
    initiated_by = (
        InitiatedBy.ADMIN
        if edited_by is not None and edited_by.pk != linked_user.user_id
        else InitiatedBy.USER
    )
    profile = linked_user.profile
    if not profile.users_can_edit_preferences:
        raise PreferencesLocked(
            "Your administrator sets the Person Synchronization preferences for this profile."
        )
    cleaned = person_sync_changes_clean(changes=changes, allow_inherit=True)
    with (
        transaction.atomic(),
        _announcing_effective_changes(profile=profile, initiated_by=initiated_by),
    ):
        preferences, _ = PersonSyncPreferences.objects.select_for_update().get_or_create(
            linked_user=linked_user
        )
        for name, value in cleaned.items():
            setattr(preferences, name, value)
        preferences.save()
    return preferences


def profile_defaults_update(
    *, profile: SyncProfile, changes: Mapping[str, Any], overwrite_user_settings: bool = False
) -> SyncProfile:
    """Store the profile's defaults. With overwrite, users' overrides of the saved fields go."""
    cleaned = person_sync_changes_clean(changes=changes, allow_inherit=False)
    with (
        transaction.atomic(),
        _announcing_effective_changes(profile=profile, initiated_by=InitiatedBy.ADMIN),
    ):
        for name, value in cleaned.items():
            setattr(profile, name, value)
        profile.full_clean()
        profile.save(update_fields=[*cleaned, "updated_at"])
        if overwrite_user_settings and cleaned:
            PersonSyncPreferences.objects.filter(linked_user__profile=profile).update(
                **dict.fromkeys(cleaned)
            )
    return profile


def profile_users_can_edit_set(*, profile: SyncProfile, allowed: bool) -> SyncProfile:
    """Allow or forbid users' own preferences. Overrides are kept, and apply again when
    editing is allowed again; while forbidden, everyone gets the profile's values."""
    with (
        transaction.atomic(),
        _announcing_effective_changes(profile=profile, initiated_by=InitiatedBy.ADMIN),
    ):
        profile.users_can_edit_preferences = allowed
        profile.save(update_fields=["users_can_edit_preferences", "updated_at"])
    return profile
