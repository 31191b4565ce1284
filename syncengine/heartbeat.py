"""Beat's heartbeat: a timestamp a worker writes each minute on beat's behalf.

A fresh heartbeat proves the whole schedule chain works: beat ticks, the broker
carries the task, and a worker runs it.
"""

from __future__ import annotations

from datetime import datetime

from django.core.cache import cache
from django.utils import timezone

HEARTBEAT_CACHE_KEY = "syncengine:beat-heartbeat"


def beat_heartbeat_record(*, now: datetime | None = None) -> datetime:
    now = now or timezone.now()
    cache.set(HEARTBEAT_CACHE_KEY, now.isoformat(), timeout=None)
    return now


def beat_heartbeat_last() -> datetime | None:
    value = cache.get(HEARTBEAT_CACHE_KEY)
    return datetime.fromisoformat(value) if value else None
