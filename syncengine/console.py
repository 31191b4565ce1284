"""What the operator console shows: the queue, the workers, runs over time, failures,
and each tenant's health. Reads only, for Django staff (views check that)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Max, Q
from django.db.models.functions import TruncHour
from django.utils import timezone

from profiles.models import LinkedUser, Tenant
from syncengine.metrics import broker_queue_depths
from syncengine.models import HeldDecision, HeldDeletion, RunKind, RunStatus, SyncRun
from syncengine.services import run_kinds
from synchronizer.celery import app

FAILED_STATUSES = (RunStatus.FAILED, RunStatus.PARTIAL)
INSPECT_TIMEOUT_SECONDS = 1.0


@dataclass(frozen=True)
class WorkerState:
    name: str
    active: int
    reserved: int
    scheduled: int


@dataclass(frozen=True)
class QueueState:
    depths: dict[str, int]
    workers: list[WorkerState]
    broker_error: str = ""


def queue_state() -> QueueState:
    """Waiting tasks per queue, and each live worker with its running and waiting tasks."""
    try:
        depths = broker_queue_depths()
        inspect = app.control.inspect(timeout=INSPECT_TIMEOUT_SECONDS)
        active = inspect.active() or {}
        reserved = inspect.reserved() or {}
        scheduled = inspect.scheduled() or {}
    except Exception as error:
        return QueueState(
            depths={}, workers=[], broker_error=f"The broker does not answer: {error}"
        )
    names = sorted(set(active) | set(reserved) | set(scheduled))
    workers = [
        WorkerState(
            name=name,
            active=len(active.get(name, [])),
            reserved=len(reserved.get(name, [])),
            scheduled=len(scheduled.get(name, [])),
        )
        for name in names
    ]
    return QueueState(depths=depths, workers=workers)


@dataclass(frozen=True)
class HourStats:
    hour: datetime
    runs: int
    failures: int


def runs_per_hour(*, now: datetime | None = None, hours: int = 24) -> list[HourStats]:
    """Finished runs and failures per hour, oldest first, with empty hours included."""
    now = now or timezone.now()
    start = (now - timedelta(hours=hours - 1)).replace(minute=0, second=0, microsecond=0)
    rows = (
        SyncRun.objects.filter(finished_at__gte=start)
        .annotate(hour=TruncHour("finished_at"))
        .values("hour")
        .annotate(runs=Count("pk"), failures=Count("pk", filter=Q(status__in=FAILED_STATUSES)))
    )
    by_hour = {row["hour"]: row for row in rows}
    return [
        HourStats(
            hour=hour,
            runs=by_hour.get(hour, {}).get("runs", 0),
            failures=by_hour.get(hour, {}).get("failures", 0),
        )
        for hour in (start + timedelta(hours=i) for i in range(hours))
    ]


# A later successful run of one of these kinds read at least what a run of the key's kind
# reads (first and housekeeping runs read every source).
COVERED_BY: dict[str, frozenset[str]] = {
    RunKind.REGULAR: frozenset({RunKind.FIRST, RunKind.HOUSEKEEPING, RunKind.REGULAR}),
    RunKind.FIRST: frozenset({RunKind.FIRST, RunKind.HOUSEKEEPING}),
    RunKind.HOUSEKEEPING: frozenset({RunKind.FIRST, RunKind.HOUSEKEEPING}),
    RunKind.PREFERENCE_CHANGE: frozenset({RunKind.FIRST, RunKind.HOUSEKEEPING}),
}
# Failures looked at per page: the newest, whatever their users.
ATTENTION_CANDIDATES = 500


def _covers(success: SyncRun, failure: SyncRun) -> bool:
    if str(failure.code) in success.trigger.get("retry_of", []):
        return True
    kinds = run_kinds(success)
    return all(kinds & COVERED_BY[kind] for kind in run_kinds(failure))


def runs_needing_attention(*, limit: int = 50) -> list[SyncRun]:
    """Failed and partial runs until a later run of the same user that covers their kinds
    succeeded (a regular run does not make up for a failed preference change; the
    failure's retry does), and the run that last held each undecided mass deletion;
    newest first. Of one user's failures of the same kinds and change, only the
    newest counts."""
    runs = SyncRun.objects.select_related("linked_user__tenant", "linked_user__profile")
    candidates = list(
        runs.filter(status__in=FAILED_STATUSES).order_by("-finished_at")[:ATTENTION_CANDIDATES]
    )
    undecided = HeldDeletion.objects.filter(decision=HeldDecision.PENDING, closed_at__isnull=True)
    held = list(runs.filter(pk__in=undecided.values("last_run")))
    successes: dict[int, list[SyncRun]] = {}
    if candidates:
        for success in SyncRun.objects.filter(
            linked_user_id__in={run.linked_user_id for run in candidates},
            status=RunStatus.SUCCEEDED,
            finished_at__gt=min(run.finished_at or timezone.now() for run in candidates),
        ).only("pk", "code", "linked_user_id", "kind", "trigger", "finished_at"):
            successes.setdefault(success.linked_user_id, []).append(success)
    seen: set[tuple[int, tuple[str, ...], str]] = set()
    unresolved: list[SyncRun] = []
    for run in candidates:
        # An older failure of the same kinds and change asked for the same work as this
        # one: listed, or resolved, with it.
        key = (
            run.linked_user_id,
            tuple(sorted(run_kinds(run))),
            json.dumps(run.trigger.get("preference_change"), sort_keys=True),
        )
        if key in seen:
            continue
        seen.add(key)
        finished = run.finished_at or timezone.now()
        if not any(
            success.finished_at and success.finished_at > finished and _covers(success, run)
            for success in successes.get(run.linked_user_id, [])
        ):
            unresolved.append(run)
    listed = {run.pk for run in unresolved}
    every = sorted(
        [*unresolved, *(run for run in held if run.pk not in listed)],
        key=lambda run: run.finished_at or run.queued_at,
        reverse=True,
    )
    return every[:limit]


@dataclass(frozen=True)
class TenantHealth:
    tenant: Tenant
    linked_users: int
    last_run_at: datetime | None
    failing_users: int

    @property
    def failing_share(self) -> float:
        return self.failing_users / self.linked_users if self.linked_users else 0.0


def tenants_health() -> list[TenantHealth]:
    """Per tenant: live linked users, the last finished run, users whose latest run failed."""
    latest = SyncRun.objects.values("linked_user_id").annotate(last=Max("pk")).values("last")
    failing = dict(
        SyncRun.objects.filter(pk__in=latest, status__in=FAILED_STATUSES)
        .values_list("linked_user__tenant_id")
        .annotate(n=Count("pk"))
    )
    live = LinkedUser.objects.alive().filter(profile__deleted_at__isnull=True)
    tenants = Tenant.objects.annotate(
        linked=Count("linked_users", filter=Q(linked_users__in=live), distinct=True),
        last_run=Max("linked_users__runs__finished_at"),
    ).order_by("context_identifier")
    return [
        TenantHealth(
            tenant=tenant,
            linked_users=tenant.linked,
            last_run_at=tenant.last_run,
            failing_users=failing.get(tenant.pk, 0),
        )
        for tenant in tenants
    ]
