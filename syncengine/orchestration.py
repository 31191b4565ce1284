"""When runs happen: requests that coalesce, the first run, an operator's retry, the
schedule, and recovering runs whose worker died. Performing a run is
syncengine.performing; Celery tasks (syncengine.tasks) are thin wrappers."""

from __future__ import annotations

import functools
import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, Subquery
from django.utils import timezone

from profiles.models import LinkedUser
from syncengine.locks import LOCK_TTL_SECONDS, run_lock_owner
from syncengine.models import RunKind, RunStatus, SyncRun, SyncSchedule
from syncengine.performing import MAX_ATTEMPTS, WORKER_STOPPED, attempt_close, gave_up_text
from syncengine.planner import PreferenceChange
from syncengine.readiness import link_waiting_for
from syncengine.services import (
    run_kinds,
    run_preference_change,
)

logger = logging.getLogger(__name__)

REGULAR_INTERVAL = timedelta(minutes=15)
HOUSEKEEPING_INTERVAL = timedelta(hours=24)


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
        merged = earlier.then(change) if earlier else change
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
    run = SyncRun.objects.create(
        linked_user=linked_user, kind=kind, trigger=trigger, published_at=timezone.now()
    )
    _enqueue_after_commit(run)
    return run


def _scheduled_user_locked(linked_user_id: int) -> LinkedUser | None:
    """The linked user, row-locked, when runs may be asked for: runnable (enabled, not
    deleted) and with their first run queued already (it reads everything anyway)."""
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
    return linked_user


def sync_run_request(
    *, linked_user_id: int, kind: RunKind, change: PreferenceChange | None = None
) -> SyncRun | None:
    """Ask for a run (Sync now, a catch-up after a preference change, a full resync).

    Nothing happens for users whose first run has not been queued yet (their first run
    will read everything), nor for disabled or deleted links."""
    with transaction.atomic():
        linked_user = _scheduled_user_locked(linked_user_id)
        if linked_user is None:
            return None
        return _request_locked(linked_user=linked_user, kind=kind, change=change)


def sync_run_retry(*, run_id: int) -> SyncRun | None:
    """An operator's Retry: queue again exactly what the run was asked to do, its kinds and
    its preference change (merged into a queued run, if the user has one). A run waiting
    to be resumed goes on at once instead. None when the user cannot run now."""
    failed = SyncRun.objects.get(pk=run_id)
    with transaction.atomic():
        linked_user = _scheduled_user_locked(failed.linked_user_id)
        if linked_user is None:
            return None
        if SyncRun.objects.filter(pk=failed.pk, status=RunStatus.QUEUED).update(
            published_at=timezone.now()
        ):
            _enqueue_after_commit(failed)
            return failed
        run = _request_locked(linked_user=linked_user, kind=RunKind(failed.kind))
        for kind in sorted(run_kinds(failed) - {RunKind(failed.kind)}):
            _merge(run, kind=kind, change=None)
        trigger = dict(run.trigger)
        if (change := run_preference_change(failed)) is not None:
            # The failed change came first: its old values, and the queued run's new ones.
            queued = run_preference_change(run)
            merged = change.then(queued) if queued else change
            trigger["preference_change"] = merged.as_json()
        # So the console knows the failure was retried, whatever the retry's kinds.
        trigger["retry_of"] = [*trigger.get("retry_of", []), str(failed.code)]
        run.trigger = trigger
        run.save(update_fields=["trigger"])
        return run


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
# A running run whose lock is gone lost its worker (a claim happens under the lock, so a
# live worker always holds it); the grace covers a worker between the two.
STALE_RUN_AFTER = timedelta(seconds=LOCK_TTL_SECONDS)
# A queued run not started this long after its task was handed over (or fell due) is
# handed over again; a task waiting for the user's lock refreshes the time as it waits.
REPUBLISH_AFTER = timedelta(minutes=30)


def _next_due(previous: datetime, interval: timedelta, now: datetime) -> datetime:
    """The next due time after `now` on the user's own grid, so each user keeps their
    offset (and the spread of users survives an outage)."""
    missed = (now - previous) // interval
    return previous + (missed + 1) * interval


def sync_dispatch_due(*, now: datetime | None = None) -> DispatchResult:
    """Queue the regular and housekeeping runs that are due, in a fixed number of queries
    whatever the number of users.

    A user whose queued run already covers the due kind needs nothing; a user whose run
    is working now stays due, and gets their run at the first tick after it finished;
    only the rare rest (a queued catch-up run) is merged one by one."""
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
        )
        new_runs: list[SyncRun] = []
        to_merge: list[tuple[int, RunKind]] = []
        served: list[SyncSchedule] = []
        for schedule in due:
            housekeeping_due = schedule.next_housekeeping_at <= now
            kind = RunKind.HOUSEKEEPING if housekeeping_due else RunKind.REGULAR
            if schedule.running and schedule.queued_kind is None:
                continue
            if schedule.queued_kind is None:
                new_runs.append(
                    SyncRun(linked_user_id=schedule.linked_user_id, kind=kind, published_at=now)
                )
            elif schedule.queued_kind not in _COVERS[kind]:
                to_merge.append((schedule.linked_user_id, kind))
            schedule.next_regular_at = _next_due(schedule.next_regular_at, REGULAR_INTERVAL, now)
            if housekeeping_due:
                schedule.next_housekeeping_at = _next_due(
                    schedule.next_housekeeping_at, HOUSEKEEPING_INTERVAL, now
                )
            served.append(schedule)
        created = SyncRun.objects.bulk_create(new_runs)
        for linked_user_id, kind in to_merge:
            sync_run_request(linked_user_id=linked_user_id, kind=kind)
        SyncSchedule.objects.bulk_update(served, ["next_regular_at", "next_housekeeping_at"])
        for run in created:
            _enqueue_after_commit(run)
    housekeeping = sum(1 for run in created if run.kind == RunKind.HOUSEKEEPING)
    return DispatchResult(
        regular=len(created) - housekeeping, housekeeping=housekeeping, merged=len(to_merge)
    )


@dataclass(frozen=True)
class RecoveryResult:
    resumed: int
    failed: int
    republished: int


def stale_runs_recover(*, now: datetime | None = None) -> RecoveryResult:
    """Resume runs whose worker died (running, and their lock gone: nothing renews it), and
    hand over again queued runs whose task may have been lost, so no run stays unfinished.
    A run whose worker holds its lock is alive, and is never touched."""
    from syncengine.tasks import sync_run_task

    now = now or timezone.now()
    resumed: list[int] = []
    failed = 0
    running = SyncRun.objects.filter(status=RunStatus.RUNNING, started_at__lt=now - STALE_RUN_AFTER)
    for run in running.only("pk", "code", "linked_user_id", "attempt"):
        if run_lock_owner(linked_user_id=run.linked_user_id) == str(run.code):
            continue
        if run.attempt >= MAX_ATTEMPTS:
            attempt_close(
                run,
                attempt=run.attempt,
                error_text=gave_up_text(run.attempt, WORKER_STOPPED),
                only_running=True,
            )
            failed += 1
        # Conditional on the attempt: a redelivered task may be taking it over right now.
        elif SyncRun.objects.filter(
            pk=run.pk, status=RunStatus.RUNNING, attempt=run.attempt
        ).update(
            status=RunStatus.QUEUED,
            published_at=now,
            error_text=f"Attempt {run.attempt} of {MAX_ATTEMPTS} did not complete: "
            f"{WORKER_STOPPED} The run goes on at once.",
        ):
            resumed.append(run.pk)
    lost = [
        run
        for run in SyncRun.objects.filter(
            status=RunStatus.QUEUED, published_at__lt=now - REPUBLISH_AFTER
        ).only("pk", "code", "linked_user_id")
        if run_lock_owner(linked_user_id=run.linked_user_id) != str(run.code)
    ]
    SyncRun.objects.filter(pk__in=[run.pk for run in lost]).update(published_at=now)
    for run_id in [*resumed, *(run.pk for run in lost)]:
        transaction.on_commit(functools.partial(sync_run_task.delay, run_id))
    return RecoveryResult(resumed=len(resumed), failed=failed, republished=len(lost))
