from __future__ import annotations

from datetime import timedelta

import pytest
from django.http import Http404
from django.test import RequestFactory
from django.utils import timezone
from pytest_django.fixtures import SettingsWrapper

from profiles.models import LinkedUser
from syncengine.metrics import metrics_view
from syncengine.models import RunKind, RunStatus, SyncRun


def _finished(link: LinkedUser, *, seconds: int, status: str, **costs: int) -> None:
    now = timezone.now()
    SyncRun.objects.create(
        linked_user=link,
        kind=RunKind.REGULAR,
        status=status,
        started_at=now - timedelta(seconds=seconds),
        finished_at=now,
        **costs,
    )


def _scrape(**headers: str) -> str:
    response = metrics_view(RequestFactory().get("/metrics/", headers=headers))
    assert response.status_code == 200
    return response.content.decode()


def test_runs_durations_costs_users_and_queue_depth(
    alice_link: LinkedUser, bob_link: LinkedUser
) -> None:
    _finished(alice_link, seconds=3, status=RunStatus.SUCCEEDED, superoffice_requests=4)
    _finished(bob_link, seconds=100, status=RunStatus.FAILED, target_requests=7)
    SyncRun.objects.create(linked_user=bob_link, kind=RunKind.REGULAR)

    text = _scrape()

    assert 'synchronizer_sync_runs_last_hour{kind="regular",status="succeeded"} 1.0' in text
    assert 'synchronizer_sync_runs_last_hour{kind="regular",status="failed"} 1.0' in text
    assert 'synchronizer_sync_runs_open{status="queued"} 1.0' in text
    assert 'synchronizer_sync_run_duration_seconds_bucket{le="5.0"} 1.0' in text
    assert 'synchronizer_sync_run_duration_seconds_bucket{le="300.0"} 2.0' in text
    assert 'synchronizer_requests_last_hour{service="superoffice"} 4.0' in text
    assert 'synchronizer_requests_last_hour{service="target"} 7.0' in text
    assert 'synchronizer_linked_users{state="enabled"} 2.0' in text
    assert 'synchronizer_queue_depth{queue="celery"}' in text


def test_with_a_token_only_the_scraper_sees_it(settings: SettingsWrapper, db: None) -> None:
    settings.METRICS_TOKEN = "scrape-me"

    with pytest.raises(Http404):
        metrics_view(RequestFactory().get("/metrics/"))
    with pytest.raises(Http404):
        metrics_view(RequestFactory().get("/metrics/", headers={"Authorization": "Bearer no"}))
    assert "synchronizer_linked_users" in _scrape(Authorization="Bearer scrape-me")
