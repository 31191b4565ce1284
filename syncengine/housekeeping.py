"""Keeping the service's own tables small: old runs are pruned on a schedule."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from syncengine.models import FINISHED_STATUSES, SyncRun


def sync_runs_prune(*, now: datetime | None = None, keep_days: int | None = None) -> int:
    """Delete finished runs older than the retention; each user's latest run always stays,
    so "last sync" never goes blank. Returns how many runs were deleted."""
    now = now or timezone.now()
    keep_days = settings.RUN_RETENTION_DAYS if keep_days is None else keep_days
    finished = SyncRun.objects.filter(status__in=FINISHED_STATUSES)
    latest_per_user = finished.values("linked_user_id").annotate(last=Max("pk"))
    deleted, _ = (
        finished.filter(finished_at__lt=now - timedelta(days=keep_days))
        .exclude(pk__in=latest_per_user.values("last"))
        .delete()
    )
    return deleted
