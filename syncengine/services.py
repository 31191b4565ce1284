"""Running the sync engine for one linked user: plan → read → reconcile → write → record."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db.models import F
from django.utils import timezone

from preferences.selectors import EffectivePreferences, effective_preferences_get
from profiles.models import LinkedUser
from syncengine.healing import Healing, mailbox_changes_heal, mappings_heal
from syncengine.held import held_decided_persons, held_deletions_record, held_persons_waiting
from syncengine.models import HeldDeletion, PersonMapping, RunKind, RunStatus, SyncRun
from syncengine.planner import PreferenceChange, RunPlan, plan_run
from syncengine.reconciler import MassDeleteGuard, SourceOutcome, reconcile
from syncengine.rendering import render_person
from syncengine.sources import (
    APPOINTMENTS_KEY,
    FAVOURITE_COMPANIES_KEY,
    FAVOURITE_PERSONS_KEY,
    selection_id_of,
    source_label,
)
from syncengine.superoffice import reads, selections
from syncengine.superoffice.client import SuperOfficeClient
from syncengine.superoffice.errors import SignInNeeded, SuperOfficeError, TransientError
from syncengine.superoffice.records import PersonRecord, SourceMembers, SyncWindow
from syncengine.targets.base import Target
from syncengine.writing import Writer, reconciliation_write

logger = logging.getLogger(__name__)


def sync_window_for(*, linked_user: LinkedUser, now: datetime) -> SyncWindow:
    profile = linked_user.profile
    return SyncWindow(
        start=now - timedelta(days=profile.sync_window_days_back),
        end=now + timedelta(days=profile.sync_window_days_ahead),
    )


ATTEMPT_FIELDS = (
    "progress_done",
    "progress_total",
    "created_count",
    "updated_count",
    "deleted_count",
    "failed_count",
    "unchanged_count",
    "warnings",
    "held_deletions",
    "error_text",
)

# Runs that read every source the user has, so they compare the mapping with the mailbox.
FULL_READ_KINDS = frozenset({RunKind.FIRST, RunKind.HOUSEKEEPING})


def run_kinds(run: SyncRun) -> set[RunKind]:
    """The kinds a run stands for: its own, plus those of requests merged into it."""
    merged = run.trigger.get("merged_kinds", [])
    return {RunKind(run.kind), *(RunKind(kind) for kind in merged)}


def run_preference_change(run: SyncRun) -> PreferenceChange | None:
    change = run.trigger.get("preference_change")
    return PreferenceChange.from_json(change) if change else None


class ParticipantsInCache:
    """Bookings' external participants in the shared cache (Redis), per booking version,
    so every worker reads a booking's participants once until the booking changes."""

    timeout = 40 * 24 * 60 * 60  # longer than a booking stays unchanged in a busy diary

    def get(self, key: str) -> frozenset[int] | None:
        value = cache.get(f"participants:{key}")
        return frozenset(value) if value is not None else None

    def set(self, key: str, person_ids: frozenset[int]) -> None:
        cache.set(f"participants:{key}", sorted(person_ids), timeout=self.timeout)


def read_source(
    *, key: str, client: SuperOfficeClient, linked_user: LinkedUser, window: SyncWindow
) -> SourceMembers:
    """The complete membership of one source, with details where its archive gives them."""
    associate_id = linked_user.associate_id
    if key == APPOINTMENTS_KEY:
        return SourceMembers(
            person_ids=reads.appointment_person_ids(
                client=client,
                associate_id=associate_id,
                window=window,
                participants_cache=ParticipantsInCache(),
            )
        )
    if key == FAVOURITE_COMPANIES_KEY:
        companies = reads.favourite_company_ids(client=client, associate_id=associate_id)
        return SourceMembers.of(reads.persons_at_companies(client=client, company_ids=companies))
    if key == FAVOURITE_PERSONS_KEY:
        return SourceMembers.of(reads.favourite_persons(client=client, associate_id=associate_id))
    return SourceMembers.of(
        selections.selection_members(client=client, selection_id=selection_id_of(key))
    )


def _load_sources(
    *,
    plan: RunPlan,
    client: SuperOfficeClient,
    linked_user: LinkedUser,
    preferences: EffectivePreferences,
    window: SyncWindow,
) -> tuple[list[SourceOutcome], bool, dict[int, PersonRecord]]:
    """Every planned source's outcome, whether every failure was transient, and the
    details the sources' archives carried."""
    outcomes: list[SourceOutcome] = []
    only_transient = True
    details: dict[int, PersonRecord] = {}
    for key in sorted(plan.evaluate):
        try:
            members = read_source(key=key, client=client, linked_user=linked_user, window=window)
        except SignInNeeded:
            raise
        except SuperOfficeError as error:
            only_transient = only_transient and isinstance(error, TransientError)
            label = source_label(key, preferences)
            outcomes.append(SourceOutcome(key=key, error=f"{label}: {error}"))
        else:
            outcomes.append(SourceOutcome(key=key, person_ids=members.person_ids))
            details.update(members.persons)
    return outcomes, only_transient, details


def _finish(
    run: SyncRun, *, client: SuperOfficeClient, status: str, error_text: str = ""
) -> SyncRun:
    run.status = status
    run.error_text = error_text
    run.finished_at = timezone.now()
    run.superoffice_requests = client.stats.requests
    run.save(
        update_fields=["status", "error_text", "finished_at", "warnings", "superoffice_requests"]
    )
    logger.info(
        "sync run finished: %s",
        status,
        extra={
            "status": status,
            "contacts_created": run.created_count,
            "contacts_updated": run.updated_count,
            "contacts_deleted": run.deleted_count,
            "writes_failed": run.failed_count,
            "error_text": error_text,
        },
    )
    return run


def sync_run_execute(
    *,
    run: SyncRun,
    client: SuperOfficeClient,
    target: Target,
    now: datetime | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    before_write: Callable[[], None] | None = None,
) -> SyncRun:
    """Run the engine for the run's linked user and record what happened on the run.

    When SuperOffice could not be read at all for a passing reason, the run is recorded
    as failed and the TransientError goes on to the caller, which may try again."""
    now = now or timezone.now()
    linked_user = run.linked_user
    profile = linked_user.profile
    # Progress, failures and warnings describe this attempt; what was created, updated and
    # deleted adds up over the attempts of a resumed run (each write counted as it lands).
    run.status, run.started_at, run.heartbeat_at = RunStatus.RUNNING, now, now
    run.progress_done = run.progress_total = 0
    if run.attempt <= 1:
        run.created_count = run.updated_count = run.deleted_count = 0
    run.failed_count = run.unchanged_count = 0
    run.warnings, run.held_deletions, run.error_text = [], [], ""
    run.save(update_fields=[*ATTEMPT_FIELDS, "status", "started_at", "heartbeat_at"])
    started = time.monotonic()

    preferences = effective_preferences_get(linked_user=linked_user)
    kinds, change = run_kinds(run), run_preference_change(run)
    plan = plan_run(kinds=kinds, preferences=preferences, preference_change=change)
    window = sync_window_for(linked_user=linked_user, now=now)
    existing = {m.person_id: m for m in PersonMapping.objects.filter(linked_user=linked_user)}
    # The mapping is a cache of what we wrote: first and housekeeping runs compare it with
    # the mailbox's own listing, and so does any run that finds no mapping at all (lost
    # state, or a regular run before any full one), before deciding what to write. Other
    # runs hear from the mailbox's change feed, where the target has one.
    compare = bool(kinds & FULL_READ_KINDS) or not existing
    feed = Healing() if compare else mailbox_changes_heal(target=target, existing=existing)
    # Contacts to write again whatever this run's sources are (reported changed in the
    # mailbox, or left unconfirmed by an earlier run): their persons are read too.
    rewrite = frozenset(pid for pid, m in existing.items() if not m.content_hash)
    try:
        outcomes, only_transient, details = _load_sources(
            plan=plan,
            client=client,
            linked_user=linked_user,
            preferences=preferences,
            window=window,
        )
        named = frozenset().union(*(o.person_ids for o in outcomes if o.ok))
        # Only persons no source archive described are read by id (appointments' mostly).
        persons = {pid: details[pid] for pid in named if pid in details}
        if unread := (named | rewrite) - persons.keys():
            persons.update(reads.persons_by_ids(client=client, person_ids=unread))
    except SignInNeeded as error:
        return _finish(
            run,
            client=client,
            status=RunStatus.FAILED,
            error_text=f"SuperOffice needs {linked_user.email} to sign in again: {error}",
        )
    except SuperOfficeError as error:
        _finish(
            run,
            client=client,
            status=RunStatus.FAILED,
            error_text=f"SuperOffice could not be read, so nothing was changed: {error}",
        )
        if isinstance(error, TransientError):
            raise
        return run
    run.warnings = [{"source": o.key, "message": o.error} for o in outcomes if o.error is not None]
    if outcomes and not any(o.ok for o in outcomes):
        _finish(
            run,
            client=client,
            status=RunStatus.FAILED,
            error_text="No source could be read from SuperOffice, so nothing was changed.",
        )
        if only_transient:
            raise TransientError(run.error_text)
        return run

    context_identifier = linked_user.tenant.context_identifier
    cards = {
        person_id: render_person(
            person=person, context_identifier=context_identifier, preferences=preferences
        )
        for person_id, person in persons.items()
    }
    confirmed, keep = held_decided_persons(linked_user_id=linked_user.pk)
    healing = feed
    if compare:
        healing = mappings_heal(
            run=run, target=target, existing=existing, cards=cards, provenance=plan.enabled
        )
    mapped = healing.mapped(existing)
    reconciliation = reconcile(
        mapped=mapped,
        outcomes=outcomes,
        enabled=plan.enabled,
        cards=cards,
        guard=MassDeleteGuard(
            max_percent=profile.mass_delete_max_percent, max_count=profile.mass_delete_max_count
        ),
        removed_by_user=plan.removed_by_user,
        confirmed=confirmed,
        keep=keep,
    )
    healing.record(run=run, reconciliation=reconciliation)
    # Their sources before this run takes them away, for the decision to show.
    held = {pid: mapped[pid].provenance for pid in reconciliation.held_deletes}
    error_text = reconciliation_write(
        run=run,
        target=target,
        existing=existing,
        reconciliation=reconciliation,
        on_progress=on_progress,
        before_write=before_write,
    )
    logger.info(
        "sync run wrote its changes",
        extra={
            "seconds": round(time.monotonic() - started, 3),
            "superoffice_requests": client.stats.requests,
            "planned_creates": len(reconciliation.creates),
            "planned_updates": len(reconciliation.updates),
            "planned_deletes": len(reconciliation.deletes),
            "held_deletes": len(reconciliation.held_deletes),
        },
    )
    run.refresh_from_db(fields=["progress_done", "heartbeat_at"])
    asks = held_deletions_record(run=run, held=held, preferences=preferences, change=change)
    if error_text:
        status = RunStatus.FAILED
    elif asks:
        status = RunStatus.NEEDS_CONFIRMATION
    elif run.warnings or run.failed_count:
        status = RunStatus.PARTIAL
    else:
        status = RunStatus.SUCCEEDED
    return _finish(run, client=client, status=status, error_text=error_text)


def held_deletion_apply(*, held: HeldDeletion, target: Target) -> int:
    """Delete what a user or admin confirmed, for persons still named by no source. The
    deletions count on the run that last held them."""
    existing = {m.person_id: m for m in held_persons_waiting(held)}
    # A run long pruned from the history: the writes are counted nowhere.
    run = held.last_run or SyncRun(linked_user_id=held.linked_user_id)
    SyncRun.objects.filter(pk=run.pk).update(progress_total=F("progress_total") + len(existing))
    writer = Writer(run=run, target=target, existing=existing)
    writer.delete_all(list(existing))
    writer.flush()
    return writer.counts["deleted"]
