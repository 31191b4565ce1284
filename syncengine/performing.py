"""Performing one run under its user's lock: claiming it once, resuming it until it
completes, and applying the deletions the mass-delete guard held once confirmed. Celery
tasks (syncengine.tasks) are thin wrappers."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from profiles.models import LinkedUser, User
from syncengine.held import held_deletion_close_if_done, held_deletion_decide, held_deletion_keep
from syncengine.locks import HeldLock, LockHeld, run_lock
from syncengine.models import OPEN_STATUSES, HeldDecision, HeldDeletion, RunStatus, SyncRun
from syncengine.readiness import link_waiting_for
from syncengine.services import held_deletion_apply, sync_run_execute
from syncengine.superoffice.client import superoffice_client_for_linked_user
from syncengine.superoffice.errors import PermanentError, TransientError
from syncengine.targets import TARGETS
from syncengine.targets.base import Target, TargetError
from synchronizer.logcontext import log_context

logger = logging.getLogger(__name__)


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
        # The last attempt's words describe it, not this one (resume() reads them back).
        "error_text": "",
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
            attempt_close(
                run,
                attempt=attempt,
                error_text=gave_up_text(attempt, WORKER_STOPPED),
                only_running=True,
            )
            return None
        if not SyncRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING, attempt=attempt).update(
            **claim
        ):
            return None
        logger.warning("sync run taken over from a worker that stopped", extra={"attempt": attempt})
    run.refresh_from_db()
    return run


WORKER_STOPPED = "the worker running it stopped before it finished."


def gave_up_text(attempt: int, reason: str) -> str:
    return (
        f"Gave up after {attempt} attempts; the last one did not complete: {reason} "
        "What was written stays; an operator can retry this run."
    )


def attempt_close(
    run: SyncRun,
    *,
    attempt: int,
    error_text: str,
    status: RunStatus = RunStatus.FAILED,
    only_running: bool = False,
) -> SyncRun:
    """Close the run as it is, unless another delivery has taken it over meanwhile
    (`only_running`: nor has its own worker finished it since it was seen running)."""
    runs = SyncRun.objects.filter(pk=run.pk, attempt=attempt)
    if only_running:
        runs = runs.filter(status=RunStatus.RUNNING)
    runs.update(status=status, finished_at=timezone.now(), error_text=error_text)
    return SyncRun.objects.get(pk=run.pk)


def _in_words(seconds: int) -> str:
    return f"{seconds} seconds" if seconds < 120 else f"{seconds // 60} minutes"


def _resume_later(
    run: SyncRun, *, attempt: int, reason: str, final_attempt: bool, status: RunStatus
) -> SyncRun:
    """The attempt did not complete for a passing reason: queue the same run again after
    a backoff (raising RetryLater for its task), or close it once attempts run out."""
    if final_attempt:
        return attempt_close(run, attempt=attempt, status=status, error_text=reason)
    if attempt >= MAX_ATTEMPTS:
        return attempt_close(
            run, attempt=attempt, status=status, error_text=gave_up_text(attempt, reason)
        )
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

    target: Target | None = None
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
            if target is not None:
                target.refusal_record(error=error)
            return attempt_close(run, attempt=attempt, error_text=str(error))
        return resume(f"The address book could not be reached: {error}")
    except PermanentError as error:
        return attempt_close(run, attempt=attempt, error_text=str(error))
    except SoftTimeLimitExceeded:
        minutes = settings.SYNC_RUN_SOFT_TIME_LIMIT // 60
        return resume(f"The attempt took longer than {minutes} minutes and was stopped.")
    except Exception:
        logger.exception("sync run stopped unexpectedly")
        attempt_close(
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


def held_deletions_confirm(*, held: HeldDeletion, decision: HeldDecision, decided_by: User) -> bool:
    """A user or admin decided what the guard held: record it, and carry it out in the
    background. False when the decision had been taken (or lapsed) meanwhile."""
    from syncengine.tasks import sync_run_apply_held_deletions_task

    if not held_deletion_decide(held=held, decision=decision, decided_by=decided_by):
        return False
    held_id = held.pk
    transaction.on_commit(lambda: sync_run_apply_held_deletions_task.delay(held_id))
    return True


def held_deletions_apply(*, held_id: int) -> int:
    """Carry out a decided held deletion under the user's lock: delete the persons, or
    mark them kept. Returns how many were deleted or kept. If the mailbox refuses, the
    decision stays open, saying why, and the user's next run carries it out."""
    held = HeldDeletion.objects.select_related("linked_user__profile", "last_run").get(pk=held_id)
    if held.closed_at is not None or held.is_pending:
        return 0
    with run_lock(linked_user_id=held.linked_user_id, owner=f"held-{held.code}"):
        if held.decision == HeldDecision.KEEP:
            count = held_deletion_keep(held=held)
        else:
            try:
                target = target_for_linked_user(held.linked_user)
                try:
                    count = held_deletion_apply(held=held, target=target)
                finally:
                    target.close()
            except TargetError as error:
                HeldDeletion.objects.filter(pk=held.pk).update(
                    error_text=f"The confirmed deletions could not be applied yet: {error} "
                    "The next run tries again."
                )
                return 0
        if not held_deletion_close_if_done(held=held):
            HeldDeletion.objects.filter(pk=held.pk).update(
                error_text="Some deletions could not be applied yet; the next run tries again."
            )
    return count
