"""When runs happen: requests that coalesce, the first run, the schedule, and performing
one run under the user's lock. Celery tasks (syncengine.tasks) are thin wrappers."""

from __future__ import annotations

import functools
import hashlib
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, Subquery
from django.utils import timezone

from profiles.models import LinkedUser, SuperOfficeToken, TargetAccount
from syncengine.locks import LOCK_TTL_SECONDS, HeldLock, LockHeld, run_lock, run_lock_owner
from syncengine.models import RunKind, RunStatus, SyncRun, SyncSchedule
from syncengine.planner import PreferenceChange
from syncengine.services import (
    run_kinds,
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


def sync_run_retry(*, run_id: int) -> SyncRun | None:
    """An operator's Retry: queue again exactly what the run was asked to do, its kinds and
    its preference change (merged into a queued run, if the user has one). A run waiting
    to be resumed goes on at once instead. None when the user cannot run now."""
    failed = SyncRun.objects.get(pk=run_id)
    with transaction.atomic():
        linked_user = (
            LinkedUser.objects.select_for_update()
            .select_related("profile")
            .filter(pk=failed.linked_user_id)
            .first()
        )
        if linked_user is None or not linked_user.is_runnable:
            return None
        if not SyncSchedule.objects.filter(linked_user=linked_user).exists():
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
            merged = PreferenceChange(old=change.old, new=queued.new) if queued else change
            trigger["preference_change"] = merged.as_json()
        # So the console knows the failure was retried, whatever the retry's kinds.
        trigger["retry_of"] = [*trigger.get("retry_of", []), str(failed.code)]
        run.trigger = trigger
        run.save(update_fields=["trigger"])
        return run


# --- Performing a run ----------------------------------------------------------------------------


def target_for_linked_user(linked_user: LinkedUser) -> Target:
    kind = linked_user.profile.target_kind
    if kind not in TARGETS:
        raise TargetError(f"{kind} mailboxes are not supported yet.", permanent=True)
    return TARGETS[kind](linked_user.target_account)


class RetryLater(Exception):
    """The run's task should come back in `seconds`: the run is queued to be resumed, or
    (`check_back`) another delivery of it holds its lock, and this one looks again once
    that lock would have expired, had its worker died."""

    def __init__(self, *, reason: str, seconds: int, check_back: bool = False) -> None:
        super().__init__(reason)
        self.seconds = seconds
        self.check_back = check_back


# A run that did not complete for a passing reason (SuperOffice or the mailbox down for
# now, some writes refused, its worker killed or its time limit hit) is resumed: the same
# row is queued again with its kinds and preference change, after 30 s, 1, 2, 4, 8 min,
# then every 10 min. Its 12th attempt that does not complete closes it (about 75 minutes
# of trying), with the reason on the run; the operator console then offers Retry.
RESUME_BASE_SECONDS = 30
RESUME_CAP_SECONDS = 10 * 60
MAX_ATTEMPTS = 12
# A delivery that found its run's lock held checks back this long after that lock would
# expire, so a lock renewed in between proves the other delivery alive.
CHECK_BACK_MARGIN_SECONDS = 2


def resume_delay(*, attempt: int) -> int:
    """Seconds before a run resumes after its attempt number `attempt` did not complete."""
    return int(min(RESUME_BASE_SECONDS * 2 ** (attempt - 1), RESUME_CAP_SECONDS))


def sync_run_perform(
    *,
    run_id: int,
    final_attempt: bool = False,
    checking_back: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> SyncRun:
    """Claim a queued run (or take over one whose worker died) under its user's lock, and
    run it. `final_attempt`: record the outcome as it is, never resume (the foreground
    command). `checking_back`: this delivery found its run's lock held before; if it
    still is, the other delivery is alive and this one steps aside for good."""
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
        return _perform(
            run, final_attempt=final_attempt, checking_back=checking_back, on_progress=on_progress
        )


def _perform(
    run: SyncRun,
    *,
    final_attempt: bool,
    checking_back: bool,
    on_progress: Callable[[int, int], None] | None,
) -> SyncRun:
    linked_user = run.linked_user
    waiting = link_waiting_for(linked_user)
    if waiting:
        # Only a queued run: a running one is its worker's to finish (or, if that worker
        # died, it is queued again by stale_runs_recover, and skipped then).
        SyncRun.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(
            status=RunStatus.SKIPPED, finished_at=timezone.now(), error_text=" ".join(waiting)
        )
        logger.info("sync run skipped: %s", " ".join(waiting))
        return SyncRun.objects.get(pk=run.pk)
    try:
        with run_lock(linked_user_id=linked_user.pk, owner=str(run.code)) as lock:
            claimed = _claim(run)
            if claimed is None:
                logger.info("sync run stepped aside: another delivery claimed it first")
                return SyncRun.objects.get(pk=run.pk)
            return _execute(
                claimed, lock=lock, final_attempt=final_attempt, on_progress=on_progress
            )
    except LockHeld as held:
        if held.owner != str(run.code):
            # Another run of the user works; this one waits its turn, its task alive (so
            # the run is not handed over again as if its message were lost).
            SyncRun.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(
                published_at=timezone.now()
            )
            raise
        if checking_back:
            logger.info("sync run stepped aside: another delivery of it is working")
            return SyncRun.objects.get(pk=run.pk)
        # Another delivery of this very run holds the lock: alive, or killed with its lock
        # not expired yet. It is never shared; look again once it would have expired.
        logger.info("sync run stepped aside for now: another delivery of it holds its lock")
        raise RetryLater(
            reason=str(held),
            seconds=math.ceil(held.expires_in) + CHECK_BACK_MARGIN_SECONDS,
            check_back=True,
        ) from held


def _claim(run: SyncRun) -> SyncRun | None:
    """Make the run this delivery's, holding its user's lock, or return None to step aside.

    A queued run is claimed by a conditional update (none updated: another delivery took
    it, or it finished). A running one can only be an attempt whose worker died, since a
    live worker would hold the lock we hold: it is taken over, again conditionally, on the
    attempt number that every claim moves on."""
    now = timezone.now()
    claim = {
        "status": RunStatus.RUNNING,
        "started_at": now,
        "heartbeat_at": now,
        "finished_at": None,
        "attempt": F("attempt") + 1,
    }
    if not SyncRun.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(**claim):
        attempt = (
            SyncRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING)
            .values_list("attempt", flat=True)
            .first()
        )
        if attempt is None:
            return None
        if attempt >= MAX_ATTEMPTS:
            _close(run, attempt=attempt, error_text=_gave_up(attempt, WORKER_STOPPED))
            return None
        if not SyncRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING, attempt=attempt).update(
            **claim
        ):
            return None
        logger.warning("sync run taken over from a worker that stopped", extra={"attempt": attempt})
    run.refresh_from_db()
    return run


WORKER_STOPPED = "the worker running it stopped before it finished."


def _gave_up(attempt: int, reason: str) -> str:
    return (
        f"Gave up after {attempt} attempts; the last one did not complete: {reason} "
        "What was written stays; an operator can retry this run."
    )


def _close(
    run: SyncRun, *, attempt: int, error_text: str, status: RunStatus = RunStatus.FAILED
) -> SyncRun:
    """Close the run as it is, unless another delivery has taken it over meanwhile."""
    SyncRun.objects.filter(pk=run.pk, attempt=attempt).update(
        status=status, finished_at=timezone.now(), error_text=error_text
    )
    return SyncRun.objects.get(pk=run.pk)


def _in_words(seconds: int) -> str:
    return f"{seconds} seconds" if seconds < 120 else f"{seconds // 60} minutes"


def _resume_later(
    run: SyncRun, *, attempt: int, reason: str, final_attempt: bool, status: RunStatus
) -> SyncRun:
    """The attempt did not complete for a passing reason: queue the same run again after
    a backoff (raising RetryLater for its task), or close it once attempts run out."""
    if final_attempt:
        return _close(run, attempt=attempt, status=status, error_text=reason)
    if attempt >= MAX_ATTEMPTS:
        return _close(run, attempt=attempt, status=status, error_text=_gave_up(attempt, reason))
    delay = resume_delay(attempt=attempt)
    requeued = SyncRun.objects.filter(pk=run.pk, attempt=attempt).update(
        status=RunStatus.QUEUED,
        finished_at=None,
        published_at=timezone.now() + timedelta(seconds=delay),
        error_text=(
            f"Attempt {attempt} of {MAX_ATTEMPTS} did not complete: {reason} "
            f"The run goes on in {_in_words(delay)}."
        ),
    )
    if not requeued:
        # Another delivery took the run over (this one lost its lock): it goes on there.
        return SyncRun.objects.get(pk=run.pk)
    logger.info("sync run resumes later: %s", reason, extra={"attempt": attempt, "delay": delay})
    raise RetryLater(reason=reason, seconds=delay)


def _refused_for_now(run: SyncRun) -> bool:
    """The run ended, but the mailbox refused some or all of its writes for a passing
    reason (such refusals are what failed_count counts; permanent ones stop the run)."""
    return run.status in (RunStatus.FAILED, RunStatus.PARTIAL) and run.failed_count > 0


def _execute(
    run: SyncRun,
    *,
    lock: HeldLock,
    final_attempt: bool,
    on_progress: Callable[[int, int], None] | None,
) -> SyncRun:
    linked_user, attempt = run.linked_user, run.attempt
    logger.info("sync run starting", extra={"kind": run.kind, "attempt": attempt})

    def resume(reason: str, status: RunStatus = RunStatus.FAILED) -> SyncRun:
        # What the engine recorded says more (e.g. that nothing was changed), if anything.
        recorded = (
            SyncRun.objects.filter(pk=run.pk, attempt=attempt)
            .values_list("error_text", flat=True)
            .first()
        )
        return _resume_later(
            run,
            attempt=attempt,
            reason=recorded or reason,
            final_attempt=final_attempt,
            status=status,
        )

    try:
        target = target_for_linked_user(linked_user)
        try:
            with superoffice_client_for_linked_user(linked_user=linked_user) as client:
                done = sync_run_execute(
                    run=run,
                    client=client,
                    target=target,
                    on_progress=on_progress,
                    before_write=lock.check,
                )
        finally:
            target.close()
    except TransientError as error:
        # SuperOffice could not be read for now, or the run lost its lock.
        return resume(f"{error}")
    except TargetError as error:
        if error.permanent:
            return _close(run, attempt=attempt, error_text=str(error))
        return resume(f"The address book could not be reached: {error}")
    except PermanentError as error:
        return _close(run, attempt=attempt, error_text=str(error))
    except SoftTimeLimitExceeded:
        minutes = settings.SYNC_RUN_SOFT_TIME_LIMIT // 60
        return resume(f"The attempt took longer than {minutes} minutes and was stopped.")
    except Exception:
        logger.exception("sync run stopped unexpectedly")
        _close(
            run,
            attempt=attempt,
            error_text="The run stopped because of an error on our side; we have been told, "
            "and the next run tries again.",
        )
        raise
    if _refused_for_now(done):
        return resume(
            f"The address book refused {done.failed_count} writes for now.",
            status=RunStatus(done.status),
        )
    return done


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
            _close(run, attempt=run.attempt, error_text=_gave_up(run.attempt, WORKER_STOPPED))
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
