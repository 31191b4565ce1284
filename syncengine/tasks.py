"""Celery tasks: ids in, one service call, retry policy here.

Tasks are idempotent (a run that finished is not run again; a redelivered run resumes
under its own lock), so late acknowledgement is safe.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

# A run waits for another run of the same user for up to an hour, then gives up
# (the next regular run comes anyway).
LOCK_RETRY_SECONDS = 30
LOCK_MAX_RETRIES = 120
TRANSIENT_MAX_RETRIES = 3


@shared_task(bind=True, max_retries=LOCK_MAX_RETRIES, ignore_result=True)
def sync_run_task(self: Any, run_id: int, transient_failures: int = 0) -> None:
    from syncengine.locks import LockHeld
    from syncengine.orchestration import RetryLater, sync_run_perform

    try:
        sync_run_perform(run_id=run_id, final_attempt=transient_failures >= TRANSIENT_MAX_RETRIES)
    except LockHeld as busy:
        raise self.retry(exc=busy, countdown=LOCK_RETRY_SECONDS) from busy
    except RetryLater as later:
        # Both args and kwargs: a retry otherwise reuses the first call's positional
        # arguments, and would pass the run id twice.
        raise self.retry(
            exc=later,
            countdown=later.seconds * 2**transient_failures,
            args=(run_id,),
            kwargs={"transient_failures": transient_failures + 1},
        ) from later


@shared_task(bind=True, max_retries=LOCK_MAX_RETRIES, ignore_result=True)
def sync_run_apply_held_deletions_task(self: Any, run_id: int) -> None:
    """Apply what the mass-delete guard held, once a user or admin confirmed it."""
    from syncengine.locks import LockHeld
    from syncengine.orchestration import held_deletions_apply

    try:
        held_deletions_apply(run_id=run_id)
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
