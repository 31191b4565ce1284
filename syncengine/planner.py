"""Deciding which sources a run reads, from the trigger table."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from preferences.selectors import EffectivePreferences, effective_preferences_from_json
from preferences.signals import InitiatedBy
from syncengine.models import RunKind
from syncengine.rules import TRIGGER_TABLE, Trigger
from syncengine.sources import SourceKind, enabled_source_keys, selection_key


@dataclass(frozen=True)
class PreferenceChange:
    """Effective values before the first of the coalesced changes, and after the latest,
    and who made them: the admin when any of the coalesced changes was an administrator's.
    Sources a user removed themselves take their persons with them at once; an
    administrator's removal goes through the mass-delete guard like any other loss."""

    old: EffectivePreferences
    new: EffectivePreferences
    initiated_by: InitiatedBy = InitiatedBy.USER

    def then(self, later: PreferenceChange) -> PreferenceChange:
        """This change followed by a later one, coalesced into one."""
        admin = InitiatedBy.ADMIN in (self.initiated_by, later.initiated_by)
        return PreferenceChange(
            old=self.old,
            new=later.new,
            initiated_by=InitiatedBy.ADMIN if admin else InitiatedBy.USER,
        )

    @property
    def removed_source_keys(self) -> frozenset[str]:
        def keys(preferences: EffectivePreferences) -> frozenset[str]:
            return frozenset().union(*enabled_source_keys(preferences).values())

        return keys(self.old) - keys(self.new)

    @property
    def favourite_settings_changed(self) -> bool:
        return (self.old.sync_favourite_company_contacts, self.old.sync_favourite_contacts) != (
            self.new.sync_favourite_company_contacts,
            self.new.sync_favourite_contacts,
        )

    @property
    def added_selection_ids(self) -> frozenset[int]:
        return self.new.selection_ids - self.old.selection_ids

    def as_json(self) -> dict[str, Any]:
        return {
            "old": self.old.as_json(),
            "new": self.new.as_json(),
            "initiated_by": self.initiated_by,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> PreferenceChange:
        return cls(
            old=effective_preferences_from_json(value["old"]),
            new=effective_preferences_from_json(value["new"]),
            # Changes stored before who made them was recorded were treated as the user's.
            initiated_by=InitiatedBy(value.get("initiated_by", InitiatedBy.USER)),
        )


@dataclass(frozen=True)
class RunPlan:
    """`evaluate`: the sources whose complete membership the run reads.
    `enabled`: every source the user has now; provenance from any other source is dropped.
    `removed_by_user`: sources the user removed themselves in the run's change; deletions
    that follow from them alone are exempt from the mass-delete guard."""

    evaluate: frozenset[str]
    enabled: frozenset[str]
    removed_by_user: frozenset[str] = frozenset()


def plan_run(
    *,
    kinds: Iterable[RunKind],
    preferences: EffectivePreferences,
    preference_change: PreferenceChange | None = None,
) -> RunPlan:
    """The sources to read for a run of these kinds (several when requests coalesced:
    the run reads the union of what each would read)."""
    enabled_by_kind = enabled_source_keys(preferences)
    evaluate: set[str] = set()
    for kind in kinds:
        for source_kind, enabled in enabled_by_kind.items():
            trigger = TRIGGER_TABLE[source_kind][kind]
            evaluate |= _triggered(trigger, source_kind, enabled, preference_change)
    return RunPlan(
        evaluate=frozenset(evaluate),
        enabled=frozenset().union(*enabled_by_kind.values()),
        removed_by_user=preference_change.removed_source_keys
        if preference_change is not None and preference_change.initiated_by == InitiatedBy.USER
        else frozenset(),
    )


def _triggered(
    trigger: Trigger,
    source_kind: SourceKind,
    enabled: frozenset[str],
    change: PreferenceChange | None,
) -> frozenset[str]:
    if trigger is Trigger.YES:
        return enabled
    if trigger in (Trigger.NO, Trigger.NOT_APPLICABLE) or change is None:
        return frozenset()
    if trigger is Trigger.NEWLY_ADDED_SELECTIONS:
        added = frozenset(selection_key(i) for i in change.added_selection_ids)
        return enabled & added
    if trigger is Trigger.FAVOURITE_SETTINGS_CHANGED:
        return enabled if change.favourite_settings_changed else frozenset()
    raise AssertionError(f"{source_kind}: no rule for trigger {trigger}")
