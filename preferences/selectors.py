"""Reading Person Synchronization preferences: the profile's defaults plus a user's overrides."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from preferences.models import PersonSyncPreferences
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


def effective_preferences_for_profile(*, profile: SyncProfile) -> dict[int, EffectivePreferences]:
    """Every live linked user's effective preferences, keyed by linked user id, in two queries."""
    linked_user_ids = list(
        LinkedUser.objects.alive().filter(profile=profile).values_list("id", flat=True)
    )
    overrides = {
        preferences.linked_user_id: preferences
        for preferences in PersonSyncPreferences.objects.filter(linked_user_id__in=linked_user_ids)
    }
    return {
        linked_user_id: effective_preferences_resolve(
            profile=profile, overrides=overrides.get(linked_user_id)
        )
        for linked_user_id in linked_user_ids
    }
