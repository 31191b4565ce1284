"""An administrator's change that alters users' effective Person Synchronization values is
held until its impact is known and the administrator confirms it.

Flow: `profile_change_submit` saves at once when no user's effective values change;
otherwise it stores a PendingPreferenceChange and queues `preference_change_impact_task`,
whose service `preference_change_impact_compute` works out, per affected user, which
contacts the catch-up run would add and remove (SuperOffice reads of the sources the
change makes the engine read, against the user's mapping: what is in their mailbox now).
`preference_change_apply` saves through preferences.services, which queue the catch-up
runs as always, once the figures are current; `preference_change_cancel` discards it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from preferences.models import OPEN_STATUSES, ChangeStatus, PendingPreferenceChange
from preferences.selectors import (
    EffectivePreferences,
    effective_preferences_for_profile,
    effective_preferences_for_profile_after,
    profile_preferences_fingerprint,
)
from preferences.services import (
    person_sync_changes_clean,
    profile_defaults_update,
    profile_users_can_edit_set,
)
from preferences.signals import InitiatedBy
from preferences.tasks import preference_change_impact_task
from profiles.models import LinkedUser, SyncProfile, User
from profiles.selectors import linked_users_for_profile
from syncengine.held import held_decided_persons
from syncengine.models import PersonMapping, RunKind, SyncSchedule
from syncengine.orchestration import sync_run_request
from syncengine.planner import PreferenceChange, plan_run
from syncengine.reconciler import Mapped, MassDeleteGuard, SourceOutcome, reconcile
from syncengine.rendering import ContactCard, render_person
from syncengine.services import read_source, sync_window_for
from syncengine.sources import SourceKind, source_kind_of, source_label
from syncengine.superoffice.client import superoffice_client_for_linked_user
from syncengine.superoffice.errors import SignInNeeded, SuperOfficeError, TransientError
from syncengine.superoffice.records import SourceMembers

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProfileChange:
    """What an administrator asked to save: cleaned default values (possibly none), whether
    users' own values of those fields go, the users-can-edit switch (None: untouched), and
    whether every user's contacts are rewritten at once."""

    defaults: Mapping[str, Any] = field(default_factory=dict)
    overwrite_user_settings: bool = False
    users_can_edit: bool | None = None
    resync_now: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "defaults": dict(self.defaults),
            "overwrite_user_settings": self.overwrite_user_settings,
            "users_can_edit": self.users_can_edit,
            "resync_now": self.resync_now,
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> ProfileChange:
        return cls(
            defaults=dict(value.get("defaults") or {}),
            overwrite_user_settings=bool(value.get("overwrite_user_settings")),
            users_can_edit=value.get("users_can_edit"),
            resync_now=bool(value.get("resync_now")),
        )


class ImpactStale(ValidationError):
    """The preferences changed since the impact was computed; it is being computed again."""


def _affected(
    *, profile: SyncProfile, change: ProfileChange
) -> dict[int, tuple[EffectivePreferences, EffectivePreferences]]:
    """(old, new) effective values of every user whose values the change alters."""
    before = effective_preferences_for_profile(profile=profile)
    after = effective_preferences_for_profile_after(
        profile=profile,
        defaults=change.defaults,
        overwrite_user_settings=change.overwrite_user_settings,
        users_can_edit=change.users_can_edit,
    )
    return {
        linked_user_id: (old, after[linked_user_id])
        for linked_user_id, old in before.items()
        if after.get(linked_user_id, old) != old
    }


def _apply(*, profile: SyncProfile, change: ProfileChange) -> None:
    """Save through the services, which announce each user's effective change (and so
    queue their catch-up runs); only the values the change names are touched."""
    if change.defaults or change.users_can_edit is None:
        profile_defaults_update(
            profile=profile,
            changes=change.defaults,
            overwrite_user_settings=change.overwrite_user_settings,
        )
    if change.users_can_edit is not None:
        profile_users_can_edit_set(profile=profile, allowed=change.users_can_edit)
    if change.resync_now:
        for linked_user in linked_users_for_profile(profile=profile):
            sync_run_request(linked_user_id=linked_user.pk, kind=RunKind.HOUSEKEEPING)


def _queue_computation(pending: PendingPreferenceChange) -> None:
    transaction.on_commit(
        partial(preference_change_impact_task.delay, pending.pk, pending.computation)
    )


def profile_change_submit(
    *, profile: SyncProfile, proposed_by: User, change: ProfileChange
) -> PendingPreferenceChange | None:
    """Save a change at once when it alters no user's effective values (None); otherwise
    hold it, queue the computation of its impact and return the held change.

    Raises ValidationError (saving nothing) when the values are not valid."""
    change = replace(
        change, defaults=person_sync_changes_clean(changes=change.defaults, allow_inherit=False)
    )
    with transaction.atomic():
        if not _affected(profile=profile, change=change):
            _apply(profile=profile, change=change)
            return None
        # A newer change of the same profile replaces any still waiting: its figures were
        # computed against values that this one is about to replace.
        PendingPreferenceChange.objects.filter(profile=profile, status__in=OPEN_STATUSES).update(
            status=ChangeStatus.CANCELLED, decided_by=proposed_by, decided_at=timezone.now()
        )
        pending = PendingPreferenceChange.objects.create(
            profile=profile,
            proposed_by=proposed_by,
            proposal=change.as_json(),
            fingerprint=profile_preferences_fingerprint(profile=profile),
            computation_started_at=timezone.now(),
        )
        _queue_computation(pending)
    return pending


def preference_change_recompute(*, pending: PendingPreferenceChange) -> PendingPreferenceChange:
    """Compute the impact again (after a failure, or because it went stale)."""
    updated = PendingPreferenceChange.objects.filter(
        pk=pending.pk, status__in=OPEN_STATUSES
    ).update(
        status=ChangeStatus.COMPUTING,
        computation=F("computation") + 1,
        error_text="",
        computation_started_at=timezone.now(),
    )
    pending.refresh_from_db()
    if not updated:
        raise ValidationError(f"This change was already {pending.get_status_display().lower()}.")
    _queue_computation(pending)
    return pending


def preference_change_cancel(
    *, pending: PendingPreferenceChange, decided_by: User
) -> PendingPreferenceChange:
    updated = PendingPreferenceChange.objects.filter(
        pk=pending.pk, status__in=OPEN_STATUSES
    ).update(status=ChangeStatus.CANCELLED, decided_by=decided_by, decided_at=timezone.now())
    pending.refresh_from_db()
    if not updated:
        raise ValidationError(f"This change was already {pending.get_status_display().lower()}.")
    return pending


def preference_change_apply(
    *,
    pending: PendingPreferenceChange,
    decided_by: User,
    seen_computation: int,
    anyway: bool = False,
) -> PendingPreferenceChange:
    """Save the held change, once its figures are current; `anyway` applies a change
    whose impact could not be computed. `seen_computation` is the computation whose
    figures the administrator confirmed: figures computed since then were not seen.

    Raises ImpactStale (a new computation is queued) when the preferences changed since
    the figures were computed, ValidationError when the change cannot be applied now."""
    stale = False
    with transaction.atomic():
        locked = PendingPreferenceChange.objects.select_for_update().get(pk=pending.pk)
        profile = SyncProfile.objects.select_for_update().get(pk=locked.profile_id)
        if locked.status == ChangeStatus.COMPUTING:
            raise ValidationError("The impact is still being computed; nothing was saved yet.")
        if locked.status == ChangeStatus.FAILED and not anyway:
            raise ValidationError(
                "The impact could not be computed: compute it again, or apply the change "
                "without knowing its impact."
            )
        if locked.status not in (ChangeStatus.READY, ChangeStatus.FAILED):
            raise ValidationError(f"This change was already {locked.get_status_display().lower()}.")
        if locked.computation != seen_computation:
            raise ValidationError(
                "The impact was computed again since this page was shown; nothing was saved. "
                "Check the figures below and confirm again."
            )
        if profile_preferences_fingerprint(profile=profile) != locked.fingerprint:
            stale = True
        else:
            _apply(profile=profile, change=ProfileChange.from_json(locked.proposal))
            locked.status = ChangeStatus.APPLIED
            locked.decided_by, locked.decided_at = decided_by, timezone.now()
            locked.save(update_fields=["status", "decided_by", "decided_at"])
    if stale:
        preference_change_recompute(pending=locked)
        raise ImpactStale(
            "Person Synchronization preferences of this profile changed since the impact was "
            "computed, so nothing was saved: the impact is being computed again."
        )
    return locked


# --- the computation (a worker runs it) -----------------------------------------------------


@dataclass
class _UserImpact:
    linked_user_id: int
    name: str
    synced: int = 0
    added: int = 0
    removed: int = 0
    large: bool = False
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _user_impact(
    *,
    linked_user: LinkedUser,
    old: EffectivePreferences,
    new: EffectivePreferences,
    shared_selections: dict[str, SourceMembers],
) -> _UserImpact:
    """What the user's catch-up run would add and remove: the engine's own plan and
    reconciliation, with SuperOffice read for exactly the sources that run would read.
    `shared_selections`: members of static selections read once per computation (the same
    whoever reads them; a big one should not be read once per user)."""
    impact = _UserImpact(linked_user_id=linked_user.pk, name=str(linked_user))
    mapped = {
        m.person_id: Mapped(
            person_id=m.person_id, provenance=frozenset(m.provenance), content_hash=m.content_hash
        )
        for m in PersonMapping.objects.filter(linked_user=linked_user)
    }
    impact.synced = len(mapped)
    if (
        not linked_user.is_runnable
        or not SyncSchedule.objects.filter(linked_user=linked_user).exists()
    ):
        # No catch-up run happens for them: their first run will read the new values whole.
        impact.note = "Not syncing yet; their first run uses the new values."
        return impact
    plan = plan_run(
        kinds=[RunKind.PREFERENCE_CHANGE],
        preferences=new,
        preference_change=PreferenceChange(old=old, new=new, initiated_by=InitiatedBy.ADMIN),
    )
    outcomes: list[SourceOutcome] = []
    cards: dict[int, ContactCard] = {}
    problems: list[str] = []
    if plan.evaluate:
        try:
            client = superoffice_client_for_linked_user(linked_user=linked_user)
        except SignInNeeded as error:
            # Their run would change nothing until they sign in again.
            impact.note = f"Nothing changes until they sign in to SuperOffice again ({error})."
            return impact
        window = sync_window_for(linked_user=linked_user, now=timezone.now())
        context_identifier = linked_user.tenant.context_identifier
        with client:
            for key in sorted(plan.evaluate):
                is_selection = source_kind_of(key) is SourceKind.STATIC_SELECTIONS
                try:
                    members = shared_selections.get(key) if is_selection else None
                    if members is None:
                        members = read_source(
                            key=key, client=client, linked_user=linked_user, window=window
                        )
                except SignInNeeded as error:
                    impact.note = (
                        f"Nothing changes until they sign in to SuperOffice again ({error})."
                    )
                    return impact
                except TransientError:
                    raise
                except SuperOfficeError as error:
                    # As in a run: a source that cannot be read changes nothing for its persons.
                    label = source_label(key, new)
                    problems.append(f"{label}: {error}")
                    outcomes.append(SourceOutcome(key=key, error=str(error)))
                    continue
                if is_selection:
                    shared_selections[key] = members
                outcomes.append(SourceOutcome(key=key, person_ids=members.person_ids))
                cards.update(
                    (
                        person_id,
                        render_person(
                            person=person,
                            context_identifier=context_identifier,
                            preferences=new,
                        ),
                    )
                    for person_id, person in members.persons.items()
                )
    profile = linked_user.profile
    guard = MassDeleteGuard(
        max_percent=profile.mass_delete_max_percent, max_count=profile.mass_delete_max_count
    )
    # The real guard would hold some deletions; an administrator is shown all of them.
    # Decided held deletions count as the run will carry them out.
    confirmed, keep = held_decided_persons(linked_user_id=linked_user.pk)
    reconciliation = reconcile(
        mapped=mapped,
        outcomes=outcomes,
        enabled=plan.enabled,
        cards=cards,
        guard=MassDeleteGuard(max_percent=100, max_count=len(mapped)),
        confirmed=confirmed,
        keep=keep,
    )
    impact.added = len(reconciliation.creates)
    impact.removed = len(reconciliation.deletes) + len(reconciliation.held_deletes)
    impact.large = guard.holds(deletions=impact.removed, synced=impact.synced)
    if problems:
        impact.note = "Could not be read, so nothing changes for their persons: " + "; ".join(
            problems
        )
    return impact


def preference_change_impact_compute(*, change_id: int, computation: int) -> None:
    """Compute and store the impact of a held change (a worker's unit of work).

    Does nothing when the change was cancelled, applied or asked to compute again since
    this computation was queued."""
    current = {"pk": change_id, "computation": computation, "status": ChangeStatus.COMPUTING}
    pending = (
        PendingPreferenceChange.objects.select_related("profile__tenant").filter(**current).first()
    )
    if pending is None:
        return
    profile = pending.profile
    fingerprint = profile_preferences_fingerprint(profile=profile)
    affected = _affected(profile=profile, change=ProfileChange.from_json(pending.proposal))
    links = LinkedUser.objects.select_related("profile", "tenant", "user").in_bulk(affected)
    shared_selections: dict[str, SourceMembers] = {}
    impacts: list[_UserImpact] = []
    try:
        for linked_user_id, (old, new) in affected.items():
            impacts.append(
                _user_impact(
                    linked_user=links[linked_user_id],
                    old=old,
                    new=new,
                    shared_selections=shared_selections,
                )
            )
    except TransientError as error:
        logger.warning("impact of a preference change not computed: %s", error)
        PendingPreferenceChange.objects.filter(**current).update(
            status=ChangeStatus.FAILED,
            fingerprint=fingerprint,
            error_text=(
                "SuperOffice could not be reached, so we do not know which contacts this "
                f"change would add or remove ({error})."
            ),
            computed_at=timezone.now(),
        )
        return
    except Exception:
        # Not left "computing" for ever: the page offers to compute again or apply anyway.
        PendingPreferenceChange.objects.filter(**current).update(
            status=ChangeStatus.FAILED,
            fingerprint=fingerprint,
            error_text="Something went wrong while computing the impact of this change.",
            computed_at=timezone.now(),
        )
        raise
    impacts.sort(key=lambda impact: (-impact.removed, -impact.added, impact.name))
    PendingPreferenceChange.objects.filter(**current).update(
        status=ChangeStatus.READY,
        fingerprint=fingerprint,
        users_affected=len(impacts),
        contacts_added=sum(impact.added for impact in impacts),
        contacts_removed=sum(impact.removed for impact in impacts),
        per_user=[impact.as_json() for impact in impacts],
        error_text="",
        computed_at=timezone.now(),
    )
