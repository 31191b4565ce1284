"""A health endpoint for load balancers and uptime checks.

It answers 200 when the database and the broker answer and beat's heartbeat is recent,
and 503 with the reason for each failing part otherwise.
"""

from __future__ import annotations

from datetime import timedelta

import redis
from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache

from syncengine.heartbeat import beat_heartbeat_last

# Beat ticks the heartbeat every minute; allow for a slow worker queue before alarming.
HEARTBEAT_MAX_AGE = timedelta(minutes=5)


def _database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        return f"The database does not answer: {error}"
    return None


def _broker() -> str | None:
    try:
        with redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2) as client:
            client.ping()
    except redis.RedisError as error:
        return f"The broker (Redis) does not answer: {error}"
    return None


def _beat() -> str | None:
    try:
        last = beat_heartbeat_last()
    except redis.RedisError:
        return "Beat's heartbeat cannot be read while Redis is down."
    if last is None:
        return "Beat has not sent a heartbeat yet: is celery beat running, with a worker?"
    age = timezone.now() - last
    if age > HEARTBEAT_MAX_AGE:
        return f"Beat's last heartbeat is {int(age.total_seconds() // 60)} minutes old."
    return None


@never_cache
def health(request: HttpRequest) -> JsonResponse:
    checks = {"database": _database(), "broker": _broker(), "beat": _beat()}
    healthy = all(problem is None for problem in checks.values())
    return JsonResponse(
        {
            "status": "ok" if healthy else "unhealthy",
            "checks": {
                name: {"ok": problem is None, **({"reason": problem} if problem else {})}
                for name, problem in checks.items()
            },
        },
        status=200 if healthy else 503,
    )
