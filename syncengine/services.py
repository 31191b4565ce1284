"""Running the sync engine for one linked user: plan → read → reconcile → write → record."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import ParamSpec

from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from preferences.selectors import EffectivePreferences, effective_preferences_get
from profiles.models import LinkedUser
from syncengine.healing import Healing, mappings_heal
from syncengine.held import held_decided_persons, held_deletions_record, held_persons_waiting
from syncengine.models import HeldDeletion, PersonMapping, RunKind, RunStatus, SyncRun
from syncengine.planner import PreferenceChange, RunPlan, plan_run
from syncengine.reconciler import MassDeleteGuard, Reconciliation, SourceOutcome, reconcile
from syncengine.rendering import ContactCard, render_person
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
from syncengine.targets.base import ContactExists, ContactGone, Target, TargetError

logger = logging.getLogger(__name__)
P = ParamSpec("P")

# Writes between two saves of a run's progress (mapping rows are saved with each write).
WRITE_BATCH_SIZE = 200
MAPPING_WRITE_FIELDS = ["provenance", "target_ref", "etag", "content_hash", "updated_at"]


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
# A mailbox that refuses this many writes in a row is treated as unreachable for this run,
# instead of waiting out a timeout for every remaining contact.
MAX_CONSECUTIVE_WRITE_FAILURES = 5

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


@dataclass
class _Writer:
    """Applies a reconciliation to the target, keeping the mapping table and the run's
    counts and progress in step.

    Each write's mapping row is saved as soon as the target confirms it: a worker killed
    at any point leaves at most the one write in flight unrecorded, never a row for a
    card already deleted (which later runs would take for present and never re-create).
    The run's count of the write is saved in the same transaction, so counts stay true
    across a kill and add up over the attempts of a resumed run. Progress is saved in
    batches; it is only a display.
    """

    run: SyncRun
    target: Target
    existing: dict[int, PersonMapping]
    # Called after every write with (done, total), e.g. for a progress bar.
    on_progress: Callable[[int, int], None] | None = None
    # Called before every write: raises when the run must stop (it lost its lock).
    before_write: Callable[[], None] | None = None
    done: int = 0
    consecutive_failures: int = 0
    # Provenance-only changes (no write to the target), saved together at the end.
    pending_updates: list[PersonMapping] = field(default_factory=list)
    done_since_flush: int = 0
    counts: dict[str, int] = field(
        default_factory=lambda: {"created": 0, "updated": 0, "deleted": 0, "failed": 0}
    )
    failures: list[str] = field(default_factory=list)

    def _record(self, outcome: str) -> None:
        """Count one write on the run; called inside the write's mapping transaction."""
        field_name = f"{outcome}_count"
        SyncRun.objects.filter(pk=self.run.pk).update(**{field_name: F(field_name) + 1})
        self.counts[outcome] += 1

    def create(self, card: ContactCard, provenance: frozenset[str]) -> None:
        outcome = "created"
        try:
            written = self.target.create(card=card)
        except ContactExists as exists:
            # Ours already (an attempt killed before recording it, a lost mapping): adopt
            # it. Rewriting an existing card is an update, not a creation.
            written = self.target.update(
                ref=exists.existing.ref, etag=exists.existing.etag, card=card
            )
            outcome = "updated"
        with transaction.atomic():
            PersonMapping.objects.update_or_create(
                linked_user_id=self.run.linked_user_id,
                person_id=card.person_id,
                defaults={
                    "provenance": sorted(provenance),
                    "target_uid": card.uid,
                    "target_ref": written.ref,
                    "etag": written.etag,
                    "content_hash": card.content_hash,
                },
            )
            self._record(outcome)

    def update(self, card: ContactCard, provenance: frozenset[str]) -> None:
        mapping = self.existing[card.person_id]
        try:
            written = self.target.update(ref=mapping.target_ref, etag=mapping.etag, card=card)
        except ContactGone:
            # Someone deleted our contact in the mailbox: the CRM still wants it there.
            try:
                written = self.target.create(card=card)
            except ContactExists as exists:
                written = self.target.update(
                    ref=exists.existing.ref, etag=exists.existing.etag, card=card
                )
        mapping.provenance = sorted(provenance)
        mapping.target_ref, mapping.etag = written.ref, written.etag
        mapping.content_hash = card.content_hash
        mapping.updated_at = timezone.now()
        with transaction.atomic():
            mapping.save(update_fields=MAPPING_WRITE_FIELDS)
            self._record("updated")

    def delete(self, person_id: int) -> None:
        mapping = self.existing[person_id]
        # Written ahead: if the worker dies between the two steps below, the row says "not
        # known to be written" (no hash), so whichever run names the person next rewrites
        # the card instead of taking it for present.
        PersonMapping.objects.filter(pk=mapping.pk).update(content_hash="")
        # Already gone from the mailbox: nothing left to delete.
        with contextlib.suppress(ContactGone):
            self.target.delete(ref=mapping.target_ref, etag=mapping.etag, uid=mapping.target_uid)
        with transaction.atomic():
            PersonMapping.objects.filter(pk=mapping.pk).delete()
            self._record("deleted")

    def apply(
        self, label: str, operation: Callable[P, None], *args: P.args, **kwargs: P.kwargs
    ) -> None:
        """Run one write; a write the target refuses for now is counted, and the run goes on
        (unless the mailbox refuses every write: then the run stops for now)."""
        if self.before_write is not None:
            self.before_write()
        try:
            operation(*args, **kwargs)
        except TargetError as error:
            if error.permanent:
                raise
            self.counts["failed"] += 1
            self.failures.append(f"{label}: {error}")
            logger.warning("target write failed: %s", error, extra={"operation": label})
            self.consecutive_failures += 1
            if self.consecutive_failures >= MAX_CONSECUTIVE_WRITE_FAILURES:
                raise TargetError(
                    f"the mailbox refused {self.consecutive_failures} writes in a row ({error}); "
                    "nothing more was written in this run, and the next run tries again",
                    permanent=True,
                ) from error
        else:
            self.consecutive_failures = 0
        self.done_since_flush += 1
        self.done += 1
        if self.on_progress is not None:
            self.on_progress(self.done, self.run.progress_total)
        if self.done_since_flush >= WRITE_BATCH_SIZE:
            self.flush()

    def flush(self) -> None:
        with transaction.atomic():
            PersonMapping.objects.bulk_update(self.pending_updates, MAPPING_WRITE_FIELDS)
            SyncRun.objects.filter(pk=self.run.pk).update(
                progress_done=F("progress_done") + self.done_since_flush,
                heartbeat_at=timezone.now(),
            )
        self.pending_updates = []
        self.done_since_flush = 0


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
        if unread := named - persons.keys():
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
    existing = {m.person_id: m for m in PersonMapping.objects.filter(linked_user=linked_user)}
    confirmed, keep = held_decided_persons(linked_user_id=linked_user.pk)
    healing = Healing()
    # The mapping is a cache of what we wrote: first and housekeeping runs compare it with
    # the mailbox's own listing, and so does any run that finds no mapping at all (lost
    # state, or a regular run before any full one), before deciding what to write.
    if kinds & FULL_READ_KINDS or not existing:
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
    error_text = _write(
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


def _write(
    *,
    run: SyncRun,
    target: Target,
    existing: dict[int, PersonMapping],
    reconciliation: Reconciliation,
    on_progress: Callable[[int, int], None] | None,
    before_write: Callable[[], None] | None,
) -> str:
    """Apply the reconciliation; returns error text when the target refused us for good."""
    run.progress_total = reconciliation.writes
    run.unchanged_count = reconciliation.unchanged
    run.held_deletions = sorted(reconciliation.held_deletes)
    run.save(update_fields=["progress_total", "unchanged_count", "held_deletions"])
    writer = _Writer(
        run=run,
        target=target,
        existing=existing,
        on_progress=on_progress,
        before_write=before_write,
    )
    error_text = ""
    try:
        for card, provenance in reconciliation.creates:
            writer.apply(f"create person {card.person_id}", writer.create, card, provenance)
        for card, provenance in reconciliation.updates:
            writer.apply(f"update person {card.person_id}", writer.update, card, provenance)
        for person_id in reconciliation.deletes:
            writer.apply(f"delete person {person_id}", writer.delete, person_id)
    except TargetError as error:
        error_text = f"The address book refused our changes: {error}"
    finally:
        if reconciliation.forgets:
            PersonMapping.objects.filter(
                linked_user_id=run.linked_user_id, person_id__in=reconciliation.forgets
            ).delete()
        now = timezone.now()
        for person_id, provenance in reconciliation.provenance_only.items():
            mapping = existing[person_id]
            mapping.provenance, mapping.updated_at = sorted(provenance), now
            writer.pending_updates.append(mapping)
        writer.flush()
        # Created, updated and deleted were counted with each write (over every attempt);
        # failures describe this attempt: writes still refused, which a resume retries.
        run.refresh_from_db(fields=["created_count", "updated_count", "deleted_count"])
        run.failed_count = writer.counts["failed"]
        run.target_requests = writer.done
        run.save(update_fields=["failed_count", "target_requests"])
        run.warnings += [{"source": "target", "message": m} for m in writer.failures[:50]]
    return error_text


def held_deletion_apply(*, held: HeldDeletion, target: Target) -> int:
    """Delete what a user or admin confirmed, for persons still named by no source. The
    deletions count on the run that last held them."""
    existing = {m.person_id: m for m in held_persons_waiting(held)}
    # A run long pruned from the history: the writes are counted nowhere.
    run = held.last_run or SyncRun(linked_user_id=held.linked_user_id)
    SyncRun.objects.filter(pk=run.pk).update(progress_total=F("progress_total") + len(existing))
    writer = _Writer(run=run, target=target, existing=existing)
    for person_id in existing:
        writer.apply(f"delete person {person_id}", writer.delete, person_id)
    writer.flush()
    return writer.counts["deleted"]
