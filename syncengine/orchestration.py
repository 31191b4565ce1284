"""When runs happen: requests that coalesce, the first run, the schedule, and performing
one run under the user's lock. Celery tasks (syncengine.tasks) are thin wrappers."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, Subquery
from django.utils import timezone

from profiles.models import LinkedUser, SuperOfficeToken, TargetAccount
from syncengine.locks import run_lock
from syncengine.models import RunKind, RunStatus, SyncRun, SyncSchedule
from syncengine.planner import PreferenceChange
from syncengine.services import (
    run_preference_change,
    sync_run_apply_held_deletions,
    sync_run_execute,
)
from syncengine.superoffice.client import superoffice_client_for_linked_user
from syncengine.superoffice.errors import TransientError
from syncengine.targets import TARGETS
from syncengine.targets.base import Target, TargetError
from synchronizer.logcontext import log_context

logger = logging.getLogger(__name__)

REGULAR_INTERVAL = timedelta(minutes=15)
HOUSEKEEPING_INTERVAL = timedelta(hours=24)
OPEN_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)
RETRY_AFTER_TRANSIENT_SECONDS = 60


# --- Readiness ---------------------------------------------------------------------------


def link_waiting_for(linked_user: LinkedUser) -> list[str]:
    """Why the user's runs cannot happen yet, in words; empty when they can."""
    reasons: list[str] = []
    if linked_user.deleted_at is not None or linked_user.profile.deleted_at is not None:
        reasons.append("The link is deleted.")
    elif not linked_user.is_enabled:
        reasons.append("The link is disabled.")
    # Only the token's state: its secrets need not be decrypted to tell.
    token_state = (
        SuperOfficeToken.objects.filter(user_id=linked_user.user_id)
        .values_list("refresh_failed_at", "refresh_error")
        .first()
        if linked_user.user_id
        else None
    )
    if token_state is None:
        reasons.append("Waiting for sign-in: the user has not signed in with SuperOffice yet.")
    elif token_state[0] is not None:
        reasons.append(f"Waiting for sign-in: {token_state[1]}")
    verified_at = (
        TargetAccount.objects.filter(linked_user=linked_user)
        .values_list("verified_at", flat=True)
        .first()
    )
    if verified_at is None:
        reasons.append("Waiting for mailbox credentials that have been tested.")
    return reasons


def _schedule_offset(linked_user: LinkedUser) -> timedelta:
    """A stable per-user offset within the regular interval: no thundering herd."""
    digest = hashlib.sha256(str(linked_user.code).encode()).digest()
    return timedelta(
        seconds=int.from_bytes(digest[:4], "big") % int(REGULAR_INTERVAL.total_seconds())
    )


def first_run_queue_if_ready(*, linked_user_id: int, now: datetime | None = None) -> SyncRun | None:
    """Queue the user's first run when the last of its conditions has become true."""
    now = now or timezone.now()
    with transaction.atomic():
        linked_user = (
            LinkedUser.objects.select_for_update()
            .select_related("profile")
            .filter(pk=linked_user_id)
            .first()
        )
        if linked_user is None or link_waiting_for(linked_user):
            return None
        if SyncSchedule.objects.filter(linked_user=linked_user).exists():
            return None  # the first run was queued before
        offset = _schedule_offset(linked_user)
        SyncSchedule.objects.create(
            linked_user=linked_user,
            next_regular_at=now + REGULAR_INTERVAL + offset,
            next_housekeeping_at=now + HOUSEKEEPING_INTERVAL + offset,
        )
        return _request_locked(linked_user=linked_user, kind=RunKind.FIRST)


# --- Requests ---------------------------------------------------------------------------------


def _enqueue_after_commit(run: SyncRun) -> None:
    from syncengine.tasks import sync_run_task

    run_id = run.pk
    transaction.on_commit(lambda: sync_run_task.delay(run_id))


def _merge(run: SyncRun, *, kind: RunKind, change: PreferenceChange | None) -> None:
    """Fold a request into a queued run: it will read the union of both."""
    trigger = dict(run.trigger)
    if kind != run.kind and kind not in trigger.get("merged_kinds", []):
        trigger["merged_kinds"] = [*trigger.get("merged_kinds", []), kind]
    if change is not None:
        earlier = run_preference_change(run)
        # Old values from before the first change, new values from the latest.
        merged = PreferenceChange(old=earlier.old, new=change.new) if earlier else change
        trigger["preference_change"] = merged.as_json()
    run.trigger = trigger
    run.save(update_fields=["trigger"])


def _request_locked(
    *, linked_user: LinkedUser, kind: RunKind, change: PreferenceChange | None = None
) -> SyncRun:
    """With the linked user's row locked: merge into a queued run, or queue a new one
    (a follow-up when a run is running)."""
    queued = SyncRun.objects.filter(linked_user=linked_user, status=RunStatus.QUEUED).first()
    if queued is not None:
        _merge(queued, kind=kind, change=change)
        return queued
    trigger = {"preference_change": change.as_json()} if change else {}
    run = SyncRun.objects.create(linked_user=linked_user, kind=kind, trigger=trigger)
    _enqueue_after_commit(run)
    return run


def sync_run_request(
    *, linked_user_id: int, kind: RunKind, change: PreferenceChange | None = None
) -> SyncRun | None:
    """Ask for a run (Sync now, a catch-up after a preference change, a full resync).

    Nothing happens for users whose first run has not been queued yet (their first run
    will read everything), nor for disabled or deleted links."""
    with transaction.atomic():
        linked_user = (
            LinkedUser.objects.select_for_update()
            .select_related("profile")
            .filter(pk=linked_user_id)
            .first()
        )
        if linked_user is None or not linked_user.is_runnable:
            return None
        if not SyncSchedule.objects.filter(linked_user=linked_user).exists():
            return None
        return _request_locked(linked_user=linked_user, kind=kind, change=change)


# --- Performing a run ----------------------------------------------------------------------------


def target_for_linked_user(linked_user: LinkedUser) -> Target:
    kind = linked_user.profile.target_kind
    if kind not in TARGETS:
        raise TargetError(f"{kind} mailboxes are not supported yet.", permanent=True)
    return TARGETS[kind](linked_user.target_account)


class RetryLater(Exception):
    """The run could not read SuperOffice for now; its task should try again."""

    def __init__(self, *, reason: str, seconds: int) -> None:
        super().__init__(reason)
        self.seconds = seconds


def sync_run_perform(
    *,
    run_id: int,
    final_attempt: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> SyncRun:
    """Run a queued run (or resume a redelivered one) under its user's lock."""
    run = SyncRun.objects.select_related("linked_user__profile", "linked_user__tenant").get(
        pk=run_id
    )
    if run.status not in OPEN_STATUSES:
        return run  # finished already: a duplicate delivery
    linked_user = run.linked_user
    with log_context(
        tenant=linked_user.tenant.context_identifier,
        linked_user=str(linked_user.code),
        run=str(run.code),
    ):
        return _perform(run, final_attempt=final_attempt, on_progress=on_progress)


def _perform(
    run: SyncRun, *, final_attempt: bool, on_progress: Callable[[int, int], None] | None
) -> SyncRun:
    linked_user = run.linked_user
    if not linked_user.is_runnable or link_waiting_for(linked_user):
        run.status, run.finished_at = RunStatus.SKIPPED, timezone.now()
        run.error_text = " ".join(link_waiting_for(linked_user)) or "The link cannot run."
        run.save(update_fields=["status", "finished_at", "error_text"])
        logger.info("sync run skipped: %s", run.error_text)
        return run
    logger.info("sync run starting", extra={"kind": run.kind})
    with run_lock(linked_user_id=linked_user.pk, owner=str(run.code)):
        target = target_for_linked_user(linked_user)
        try:
            with superoffice_client_for_linked_user(linked_user=linked_user) as client:
                return sync_run_execute(
                    run=run, client=client, target=target, on_progress=on_progress
                )
        except TransientError as error:
            if final_attempt:
                return SyncRun.objects.get(pk=run.pk)
            # SuperOffice could not be read at all for now: the same run goes again.
            SyncRun.objects.filter(pk=run.pk).update(status=RunStatus.QUEUED, finished_at=None)
            raise RetryLater(reason=str(error), seconds=RETRY_AFTER_TRANSIENT_SECONDS) from error
        finally:
            target.close()


def held_deletions_confirm(*, run: SyncRun) -> int:
    """A user or admin confirmed the held deletions: apply them in the background."""
    from syncengine.tasks import sync_run_apply_held_deletions_task

    count = len(run.held_deletions)
    if count:
        run_id = run.pk
        transaction.on_commit(lambda: sync_run_apply_held_deletions_task.delay(run_id))
    return count


def held_deletions_apply(*, run_id: int) -> int:
    """Delete what the guard held (under the user's lock); the run then counts as done."""
    run = SyncRun.objects.select_related("linked_user__profile").get(pk=run_id)
    if not run.held_deletions:
        return 0
    with run_lock(linked_user_id=run.linked_user_id, owner=f"held-{run.code}"):
        target = target_for_linked_user(run.linked_user)
        try:
            deleted = sync_run_apply_held_deletions(run=run, target=target)
        finally:
            target.close()
    SyncRun.objects.filter(pk=run.pk, status=RunStatus.NEEDS_CONFIRMATION).update(
        status=RunStatus.SUCCEEDED
    )
    return deleted


# --- The schedule -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DispatchResult:
    regular: int
    housekeeping: int
    merged: int


# Which queued run already covers a due run: any of these reads the appointments, and
# only these read every source.
_COVERS = {
    RunKind.REGULAR: {RunKind.FIRST, RunKind.REGULAR, RunKind.HOUSEKEEPING},
    RunKind.HOUSEKEEPING: {RunKind.FIRST, RunKind.HOUSEKEEPING},
}


def sync_dispatch_due(*, now: datetime | None = None) -> DispatchResult:
    """Queue the regular and housekeeping runs that are due, in a fixed number of queries
    whatever the number of users.

    A user whose run is working now is left for the next interval; a user whose queued
    run already covers the due kind needs nothing; only the rare rest (a queued catch-up
    run) is merged one by one."""
    now = now or timezone.now()
    ready = SyncSchedule.objects.filter(
        linked_user__is_enabled=True,
        linked_user__deleted_at__isnull=True,
        linked_user__profile__deleted_at__isnull=True,
        linked_user__user__superoffice_token__refresh_failed_at__isnull=True,
        linked_user__target_account__verified_at__isnull=False,
    )
    runs_of_user = SyncRun.objects.filter(linked_user_id=OuterRef("linked_user_id"))
    with transaction.atomic():
        due = list(
            ready.filter(Q(next_regular_at__lte=now) | Q(next_housekeeping_at__lte=now))
            .annotate(
                running=Exists(runs_of_user.filter(status=RunStatus.RUNNING)),
                queued_kind=Subquery(
                    runs_of_user.filter(status=RunStatus.QUEUED).values("kind")[:1]
                ),
            )
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("pk", "linked_user_id", "next_housekeeping_at", "running", "queued_kind")
        )
        new_runs: list[SyncRun] = []
        to_merge: list[tuple[int, RunKind]] = []
        for _, linked_user_id, next_housekeeping, running, queued_kind in due:
            kind = RunKind.HOUSEKEEPING if next_housekeeping <= now else RunKind.REGULAR
            if queued_kind is None and not running:
                new_runs.append(SyncRun(linked_user_id=linked_user_id, kind=kind))
            elif queued_kind is not None and queued_kind not in _COVERS[kind]:
                to_merge.append((linked_user_id, kind))
        created = SyncRun.objects.bulk_create(new_runs)
        for linked_user_id, kind in to_merge:
            sync_run_request(linked_user_id=linked_user_id, kind=kind)
        SyncSchedule.objects.filter(pk__in=[row[0] for row in due]).update(
            next_regular_at=now + REGULAR_INTERVAL
        )
        SyncSchedule.objects.filter(pk__in=[row[0] for row in due if row[2] <= now]).update(
            next_housekeeping_at=now + HOUSEKEEPING_INTERVAL
        )
        for run in created:
            _enqueue_after_commit(run)
    housekeeping = sum(1 for run in created if run.kind == RunKind.HOUSEKEEPING)
    return DispatchResult(
        regular=len(created) - housekeeping, housekeeping=housekeeping, merged=len(to_merge)
    )
