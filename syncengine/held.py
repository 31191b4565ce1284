"""The mass-delete guard's decisions: one open decision per linked user, kept up to date
by the runs that hold deletions, and decided once by the user or an administrator.

- A run whose guard holds deletions creates the user's decision, or updates the open one
  (its persons, each person's sources before they lost them, the run that last held
  them). Only a run that holds someone new finishes as *needs confirmation*; a run that
  holds the same persons again (or fewer) finishes as it otherwise would, linked to the
  decision, so the history shows one question, not one every 15 minutes.
- *Apply* deletes the held persons still named by no source; *Keep these contacts* marks
  them kept (reconciler.KEPT_KEY): they stay, and later runs neither hold nor delete
  them. Kept ends when a source names the person again (the usual rules apply from then
  on), or when the card is deleted in the mailbox (it is forgotten, not re-created).
- A decision is carried out under the user's lock, by its task or, if that failed or a
  run came first, by the next run (which treats the persons as confirmed or kept). It is
  closed once none of its persons waits with no source left.
- Once decided, no run of the decision shows *needs confirmation* any more; the decision
  records who decided and when.
- A pending decision lapses when a run holds nothing: its persons came back to a source,
  or went with so few deletions that the guard let them through.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from preferences.selectors import EffectivePreferences
from profiles.models import User
from syncengine.models import (
    HeldDecision,
    HeldDeletion,
    PersonMapping,
    RunStatus,
    SyncRun,
)
from syncengine.planner import PreferenceChange
from syncengine.reconciler import KEPT_KEY
from syncengine.sources import SourceKind, selection_id_of, source_kind_of, source_label

DECISIONS = (HeldDecision.APPLY, HeldDecision.KEEP)


def _open(linked_user_id: int) -> QuerySet[HeldDeletion]:
    return HeldDeletion.objects.filter(linked_user_id=linked_user_id, closed_at__isnull=True)


def held_persons_waiting(held: HeldDeletion) -> QuerySet[PersonMapping]:
    """The decision's persons still mapped with no source: what carrying it out changes."""
    return PersonMapping.objects.filter(
        linked_user_id=held.linked_user_id, person_id__in=held.person_ids, provenance=[]
    )


def held_decided_persons(*, linked_user_id: int) -> tuple[frozenset[int], frozenset[int]]:
    """Persons of the user's decided decision not carried out yet: (to delete, to keep)."""
    held = _open(linked_user_id).exclude(decision=HeldDecision.PENDING).first()
    if held is None:
        return frozenset(), frozenset()
    persons = frozenset(held.person_ids)
    if held.decision == HeldDecision.APPLY:
        return persons, frozenset()
    return frozenset(), persons


def _label(key: str, preferences: EffectivePreferences, change: PreferenceChange | None) -> str:
    if key == KEPT_KEY:
        return "Kept after an earlier decision"
    if (
        change is not None
        and source_kind_of(key) is SourceKind.STATIC_SELECTIONS
        and selection_id_of(key) not in preferences.selection_ids
    ):
        # A selection removed by the change: only the values before it know its name.
        return source_label(key, change.old)
    return source_label(key, preferences)


def _runs_settle(held: HeldDeletion) -> None:
    """The decision's runs stop asking for one: each ends as it would have without it."""
    for run in SyncRun.objects.filter(held_deletion=held, status=RunStatus.NEEDS_CONFIRMATION):
        status = RunStatus.PARTIAL if run.warnings or run.failed_count else RunStatus.SUCCEEDED
        SyncRun.objects.filter(pk=run.pk, status=RunStatus.NEEDS_CONFIRMATION).update(status=status)


def _close(held: HeldDeletion, *, decision: HeldDecision | None = None) -> None:
    held.closed_at = timezone.now()
    held.error_text = ""
    fields = ["closed_at", "error_text", "updated_at"]
    if decision is not None:
        held.decision = decision
        fields.append("decision")
    held.save(update_fields=fields)
    _runs_settle(held)


def held_deletions_record(
    *,
    run: SyncRun,
    held: Mapping[int, Iterable[str]],
    preferences: EffectivePreferences,
    change: PreferenceChange | None,
) -> bool:
    """After a run's writes: bring the user's open decision up to date with the persons
    the run held (each with their sources before this run). Returns whether the run asks
    for a decision, i.e. finishes as *needs confirmation*."""
    with transaction.atomic():
        current = _open(run.linked_user_id).select_for_update().first()
        if current is not None and not current.is_pending:
            if held_persons_waiting(current).exists():
                # Decided while this run worked (or its carrying out failed): it is carried
                # out first; what this run held is asked about once it is.
                return False
            _close(current)
            current = None
        if current is None and not held:
            return False
        if current is not None and not held:
            _close(current, decision=HeldDecision.LAPSED)
            return False
        known = current.sources if current is not None else {}
        sources = {
            str(person_id): known.get(str(person_id)) or sorted(provenance)
            for person_id, provenance in held.items()
        }
        labels = dict(current.source_labels) if current is not None else {}
        for keys in sources.values():
            for key in keys:
                labels.setdefault(key, _label(key, preferences, change))
        values = {
            "person_ids": sorted(held),
            "sources": sources,
            "source_labels": labels,
            "last_run": run,
        }
        if current is None:
            current = HeldDeletion.objects.create(linked_user_id=run.linked_user_id, **values)
            asks = True
        else:
            asks = bool(set(held) - set(current.person_ids))
            for name, value in values.items():
                setattr(current, name, value)
            current.save(update_fields=[*values, "updated_at"])
        SyncRun.objects.filter(pk=run.pk).update(held_deletion=current)
        run.held_deletion = current
        return asks


def held_deletion_decide(*, held: HeldDeletion, decision: HeldDecision, decided_by: User) -> bool:
    """Record the decision on a pending held deletion; False when it was decided (or
    lapsed) meanwhile. The caller has it carried out (syncengine.performing)."""
    if decision not in DECISIONS:
        raise ValueError(f"not a decision: {decision}")
    with transaction.atomic():
        decided = HeldDeletion.objects.filter(
            pk=held.pk, decision=HeldDecision.PENDING, closed_at__isnull=True
        ).update(
            decision=decision,
            decided_by=decided_by,
            decided_by_name=decided_by.get_full_name() or decided_by.email or str(decided_by),
            decided_at=timezone.now(),
            error_text="",
        )
        if not decided:
            return False
        held.refresh_from_db()
        _runs_settle(held)
    return True


def held_deletion_keep(*, held: HeldDeletion) -> int:
    """Mark the kept persons (still named by no source) as kept; how many were."""
    return held_persons_waiting(held).update(provenance=[KEPT_KEY], updated_at=timezone.now())


def held_deletion_close_if_done(*, held: HeldDeletion) -> bool:
    """Close a decided decision once none of its persons waits with no source."""
    with transaction.atomic():
        current = HeldDeletion.objects.select_for_update().get(pk=held.pk)
        if (
            current.closed_at is not None
            or current.is_pending
            or held_persons_waiting(current).exists()
        ):
            return False
        _close(current)
    return True
