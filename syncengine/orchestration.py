"""When runs happen: requests that coalesce, the first run, the schedule, and performing
one run under the user's lock. Celery tasks (syncengine.tasks) are thin wrappers."""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, Subquery
from django.utils import timezone

from profiles.models import LinkedUser, SuperOfficeToken, TargetAccount
from syncengine.locks import LOCK_TTL_SECONDS, run_lock, run_lock_owner
from syncengine.models import RunKind, RunStatus, SyncRun, SyncSchedule
from syncengine.planner import PreferenceChange
from syncengine.services import (
    run_preference_change,
    sync_run_apply_held_deletions,
    sync_run_execute,
)
from syncengine.superoffice.client import superoffice_client_for_linked_user
from syncengine.superoffice.errors import PermanentError, TransientError
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
    run = SyncRun.objects.create(
        linked_user=linked_user, kind=kind, trigger=trigger, published_at=timezone.now()
    )
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


def _record_failure(run: SyncRun, error_text: str) -> SyncRun:
    """Close a run that could not finish by itself; a run already closed stays as it is."""
    SyncRun.objects.filter(pk=run.pk, status__in=OPEN_STATUSES).update(
        status=RunStatus.FAILED, finished_at=timezone.now(), error_text=error_text
    )
    return SyncRun.objects.get(pk=run.pk)


def _perform(
    run: SyncRun, *, final_attempt: bool, on_progress: Callable[[int, int], None] | None
) -> SyncRun:
    linked_user = run.linked_user
    waiting = link_waiting_for(linked_user)
    if waiting:
        run.status, run.finished_at = RunStatus.SKIPPED, timezone.now()
        run.error_text = " ".join(waiting)
        run.save(update_fields=["status", "finished_at", "error_text"])
        logger.info("sync run skipped: %s", run.error_text)
        return run
    logger.info("sync run starting", extra={"kind": run.kind})
    with run_lock(linked_user_id=linked_user.pk, owner=str(run.code)) as lock:
        try:
            target = target_for_linked_user(linked_user)
            try:
                with superoffice_client_for_linked_user(linked_user=linked_user) as client:
                    return sync_run_execute(
                        run=run,
                        client=client,
                        target=target,
                        on_progress=on_progress,
                        before_write=lock.check,
                    )
            finally:
                target.close()
        except TransientError as error:
            if final_attempt:
                SyncRun.objects.filter(pk=run.pk).update(
                    status=RunStatus.FAILED,
                    finished_at=timezone.now(),
                    error_text=f"{error} Tried several times; the next run goes on.",
                )
                return SyncRun.objects.get(pk=run.pk)
            # SuperOffice could not be read at all for now: the same run goes again.
            SyncRun.objects.filter(pk=run.pk).update(status=RunStatus.QUEUED, finished_at=None)
            raise RetryLater(reason=str(error), seconds=RETRY_AFTER_TRANSIENT_SECONDS) from error
        except (PermanentError, TargetError) as error:
            return _record_failure(run, str(error))
        except SoftTimeLimitExceeded:
            minutes = settings.SYNC_RUN_SOFT_TIME_LIMIT // 60
            return _record_failure(
                run,
                f"The run took longer than {minutes} minutes and was stopped; "
                "what it wrote stays, and the next run goes on from there.",
            )
        except Exception:
            logger.exception("sync run stopped unexpectedly")
            _record_failure(
                run,
                "The run stopped because of an error on our side; we have been told, "
                "and the next run tries again.",
            )
            raise


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
        try:
            target = target_for_linked_user(run.linked_user)
            try:
                deleted = sync_run_apply_held_deletions(run=run, target=target)
            finally:
                target.close()
        except TargetError as error:
            # The run stays held, saying why, so the confirmation can be given again.
            SyncRun.objects.filter(pk=run.pk).update(
                error_text=f"The confirmed deletions could not be applied: {error}"
            )
            return 0
    SyncRun.objects.filter(pk=run.pk, status=RunStatus.NEEDS_CONFIRMATION).update(
        status=RunStatus.SUCCEEDED, error_text=""
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
# A running run whose lock is gone this long after it started lost its worker.
STALE_RUN_AFTER = timedelta(seconds=2 * LOCK_TTL_SECONDS)
# A queued run not started this long after its task was handed over is handed over again.
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
    failed: int
    republished: int


def stale_runs_recover(*, now: datetime | None = None) -> RecoveryResult:
    """Close runs whose worker died for good, and hand over again queued runs whose task
    may have been lost, so no user stays blocked behind a run that will never end."""
    now = now or timezone.now()
    failed = 0
    running = SyncRun.objects.filter(status=RunStatus.RUNNING, started_at__lt=now - STALE_RUN_AFTER)
    for run in running.only("pk", "code", "linked_user_id"):
        if run_lock_owner(linked_user_id=run.linked_user_id) != str(run.code):
            _record_failure(
                run,
                "The worker running this run stopped before it finished; what it wrote "
                "stays, and the next run goes on from there.",
            )
            failed += 1
    lost = list(
        SyncRun.objects.filter(
            status=RunStatus.QUEUED, published_at__lt=now - REPUBLISH_AFTER
        ).values_list("pk", flat=True)
    )
    if lost:
        from syncengine.tasks import sync_run_task

        SyncRun.objects.filter(pk__in=lost).update(published_at=now)
        for run_id in lost:
            transaction.on_commit(functools.partial(sync_run_task.delay, run_id))
    return RecoveryResult(failed=failed, republished=len(lost))
