"""Celery tasks: ids in, one service call, retry policy here.

Tasks are idempotent: a worker claims a run with a conditional update under its user's
lock, so a duplicate delivery steps aside and a run that finished is not run again; late
acknowledgement is therefore safe.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

# A run waits for another run of the same user for up to an hour, then its message is
# dropped (the run stays queued, and is handed over again half an hour later).
LOCK_RETRY_SECONDS = 30
LOCK_MAX_RETRIES = 120


@shared_task(bind=True, max_retries=LOCK_MAX_RETRIES, ignore_result=True)
def sync_run_task(
    self: Any,
    run_id: int,
    checking_back: bool = False,
    transient_failures: int = 0,  # in messages sent before attempts were counted on the run
) -> None:
    from syncengine.locks import LockHeld
    from syncengine.performing import RetryLater, sync_run_perform

    try:
        sync_run_perform(run_id=run_id, checking_back=checking_back)
    except LockHeld as busy:
        raise self.retry(
            exc=busy, countdown=LOCK_RETRY_SECONDS, args=(run_id,), kwargs={}
        ) from busy
    except RetryLater as later:
        # The run was queued again to be resumed after its backoff, or this delivery
        # comes back to see whether the one holding the run's lock is alive. Both args
        # and kwargs: a retry otherwise reuses the first call's.
        raise self.retry(
            exc=later,
            countdown=later.seconds,
            args=(run_id,),
            kwargs={"checking_back": later.check_back},
        ) from later


@shared_task(bind=True, max_retries=LOCK_MAX_RETRIES, ignore_result=True)
def sync_run_apply_held_deletions_task(self: Any, held_id: int) -> None:
    """Carry out a user's or admin's decision on what the mass-delete guard held."""
    from syncengine.locks import LockHeld
    from syncengine.performing import held_deletions_apply

    try:
        held_deletions_apply(held_id=held_id)
    except LockHeld as busy:
        raise self.retry(exc=busy, countdown=LOCK_RETRY_SECONDS) from busy


@shared_task(ignore_result=True)
def sync_dispatch_task() -> None:
    from syncengine.orchestration import stale_runs_recover, sync_dispatch_due

    stale_runs_recover()
    sync_dispatch_due()


@shared_task(ignore_result=True)
def sync_runs_prune_task() -> None:
    from syncengine.housekeeping import sync_runs_prune

    sync_runs_prune()


@shared_task(ignore_result=True)
def record_beat_heartbeat() -> None:
    from syncengine.heartbeat import beat_heartbeat_record

    beat_heartbeat_record()
