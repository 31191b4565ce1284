"""What the operator console shows: the queue, the workers, runs over time, failures,
and each tenant's health. Reads only, for Django staff (views check that)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Max, Q
from django.db.models.functions import TruncHour
from django.utils import timezone

from profiles.models import LinkedUser, Tenant
from syncengine.metrics import broker_queue_depths
from syncengine.models import RunStatus, SyncRun
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


def runs_needing_attention(*, limit: int = 50) -> list[SyncRun]:
    """Recent failed or partial runs, and runs held by the mass-delete guard, newest first,
    each user's latest only (an older failure already superseded is not news)."""
    latest = SyncRun.objects.values("linked_user_id").annotate(last=Max("pk")).values("last")
    return list(
        SyncRun.objects.filter(
            pk__in=latest,
            status__in=(*FAILED_STATUSES, RunStatus.NEEDS_CONFIRMATION),
        )
        .select_related("linked_user__tenant", "linked_user__profile")
        .order_by("-finished_at")[:limit]
    )


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
