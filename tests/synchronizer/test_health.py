from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client, override_settings
from django.utils import timezone

from syncengine.heartbeat import HEARTBEAT_CACHE_KEY, beat_heartbeat_record


@pytest.fixture(autouse=True)
def _no_heartbeat() -> Iterator[None]:
    cache.delete(HEARTBEAT_CACHE_KEY)
    yield
    cache.delete(HEARTBEAT_CACHE_KEY)


def test_healthy_when_everything_answers(client: Client, db: None) -> None:
    beat_heartbeat_record()

    response = client.get("/health/")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_unhealthy_without_a_heartbeat(client: Client, db: None) -> None:
    response = client.get("/health/")

    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"] == {"ok": True}
    assert checks["broker"] == {"ok": True}
    assert "has not sent a heartbeat" in checks["beat"]["reason"]


def test_unhealthy_with_a_stale_heartbeat(client: Client, db: None) -> None:
    beat_heartbeat_record(now=timezone.now() - timedelta(minutes=12))

    response = client.get("/health/")

    assert response.status_code == 503
    assert "12 minutes old" in response.json()["checks"]["beat"]["reason"]


def test_unhealthy_when_the_broker_is_down(client: Client, db: None) -> None:
    beat_heartbeat_record()

    with override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0"):
        response = client.get("/health/")

    assert response.status_code == 503
    assert "The broker (Redis) does not answer" in response.json()["checks"]["broker"]["reason"]


def test_a_broker_that_stops_turns_the_health_unhealthy(client: Client, db: None) -> None:
    from synchronizer.embedded_redis import embedded_redis_server

    beat_heartbeat_record()
    with embedded_redis_server() as broker_url, override_settings(CELERY_BROKER_URL=broker_url):
        assert client.get("/health/").status_code == 200
        stopped_url = broker_url
    # The server is gone now, as after a crash.
    with override_settings(CELERY_BROKER_URL=stopped_url):
        response = client.get("/health/")

    assert response.status_code == 503
    assert "The broker (Redis) does not answer" in response.json()["checks"]["broker"]["reason"]
