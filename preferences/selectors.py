"""Reading Person Synchronization preferences: the profile's defaults plus a user's overrides."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from preferences.models import OPEN_STATUSES, PendingPreferenceChange, PersonSyncPreferences
from profiles.models import LinkedUser, SyncProfile

# The Person Synchronization fields, in the order the portals show them. SyncProfile holds
# a default for each, PersonSyncPreferences a nullable override of the same name.
PERSON_SYNC_FIELDS: tuple[str, ...] = (
    "static_selections",
    "sync_favourite_company_contacts",
    "sync_favourite_contacts",
    "sync_job_title",
    "sync_title",
    "sync_department",
    "personal_phone_as_primary",
    "sync_birthdays",
)
BOOLEAN_FIELDS: frozenset[str] = frozenset(PERSON_SYNC_FIELDS) - {"static_selections"}


@dataclass(frozen=True, order=True)
class StaticSelection:
    """A static selection as stored: its SuperOffice id, and the name it was chosen by."""

    id: int
    name: str


@dataclass(frozen=True)
class EffectivePreferences:
    """The values a linked user's runs use, and which of them come from the profile."""

    static_selections: tuple[StaticSelection, ...]
    sync_favourite_company_contacts: bool
    sync_favourite_contacts: bool
    sync_job_title: bool
    sync_title: bool
    sync_department: bool
    personal_phone_as_primary: bool
    sync_birthdays: bool
    inherited: frozenset[str] = field(default=frozenset(), compare=False)

    @property
    def selection_ids(self) -> frozenset[int]:
        return frozenset(selection.id for selection in self.static_selections)

    def as_json(self) -> dict[str, Any]:
        """The values alone, as JSON (for a run's record of what triggered it)."""
        values: dict[str, Any] = {name: getattr(self, name) for name in BOOLEAN_FIELDS}
        values["static_selections"] = [
            {"id": selection.id, "name": selection.name} for selection in self.static_selections
        ]
        return values


def _selections(value: list[dict[str, Any]]) -> tuple[StaticSelection, ...]:
    return tuple(StaticSelection(id=int(item["id"]), name=str(item["name"])) for item in value)


def effective_preferences_resolve(
    *, profile: SyncProfile, overrides: PersonSyncPreferences | None
) -> EffectivePreferences:
    """Field by field, the user's override where there is one and editing is allowed."""
    use_overrides = overrides is not None and profile.users_can_edit_preferences
    values: dict[str, Any] = {}
    inherited: set[str] = set()
    for name in PERSON_SYNC_FIELDS:
        override = getattr(overrides, name) if use_overrides else None
        if override is None:
            inherited.add(name)
            value = getattr(profile, name)
        else:
            value = override
        values[name] = _selections(value) if name == "static_selections" else bool(value)
    return EffectivePreferences(**values, inherited=frozenset(inherited))


def effective_preferences_from_json(value: dict[str, Any]) -> EffectivePreferences:
    """The inverse of EffectivePreferences.as_json (for values recorded on a run)."""
    values: dict[str, Any] = {name: bool(value[name]) for name in BOOLEAN_FIELDS}
    values["static_selections"] = _selections(value["static_selections"])
    return EffectivePreferences(**values)


def effective_preferences_get(*, linked_user: LinkedUser) -> EffectivePreferences:
    overrides = PersonSyncPreferences.objects.filter(linked_user=linked_user).first()
    return effective_preferences_resolve(profile=linked_user.profile, overrides=overrides)


def _live_overrides(*, profile: SyncProfile) -> dict[int, PersonSyncPreferences | None]:
    """Every live linked user's overrides (None without any), keyed by linked user id."""
    linked_user_ids = list(
        LinkedUser.objects.alive().filter(profile=profile).values_list("id", flat=True)
    )
    overrides = {
        preferences.linked_user_id: preferences
        for preferences in PersonSyncPreferences.objects.filter(linked_user_id__in=linked_user_ids)
    }
    return {linked_user_id: overrides.get(linked_user_id) for linked_user_id in linked_user_ids}


def effective_preferences_for_profile(*, profile: SyncProfile) -> dict[int, EffectivePreferences]:
    """Every live linked user's effective preferences, keyed by linked user id, in two queries."""
    return {
        linked_user_id: effective_preferences_resolve(profile=profile, overrides=overrides)
        for linked_user_id, overrides in _live_overrides(profile=profile).items()
    }


def effective_preferences_for_profile_after(
    *,
    profile: SyncProfile,
    defaults: Mapping[str, Any],
    overwrite_user_settings: bool = False,
    users_can_edit: bool | None = None,
) -> dict[int, EffectivePreferences]:
    """What every live linked user's effective preferences would be after an administrator's
    change (cleaned default values, overwrite, the users-can-edit switch), saving nothing."""
    proposed = copy.copy(profile)
    for name, value in defaults.items():
        setattr(proposed, name, value)
    if users_can_edit is not None:
        proposed.users_can_edit_preferences = users_can_edit
    after: dict[int, EffectivePreferences] = {}
    for linked_user_id, overrides in _live_overrides(profile=profile).items():
        if overrides is not None and overwrite_user_settings and defaults:
            overrides = copy.copy(overrides)
            for name in defaults:
                setattr(overrides, name, None)
        after[linked_user_id] = effective_preferences_resolve(profile=proposed, overrides=overrides)
    return after


def profile_preferences_fingerprint(*, profile: SyncProfile) -> str:
    """A digest of everything the profile's users' effective preferences are made of, read
    afresh from the database: equal digests, equal effective preferences for every user."""
    stored = SyncProfile.objects.get(pk=profile.pk)
    state = {
        "defaults": {name: getattr(stored, name) for name in PERSON_SYNC_FIELDS},
        "users_can_edit": stored.users_can_edit_preferences,
        "users": sorted(
            [
                linked_user_id,
                [getattr(overrides, name) for name in PERSON_SYNC_FIELDS] if overrides else None,
            ]
            for linked_user_id, overrides in _live_overrides(profile=stored).items()
        ),
    }
    canonical = json.dumps(state, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def pending_change_waiting(*, profile: SyncProfile) -> PendingPreferenceChange | None:
    """The administrator's change of the profile still waiting for a decision, if any."""
    return (
        PendingPreferenceChange.objects.filter(profile=profile, status__in=OPEN_STATUSES)
        .order_by("-created_at")
        .first()
    )
