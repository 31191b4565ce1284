from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from preferences.selectors import effective_preferences_get
from profiles.models import LinkedUser, User
from syncengine.models import RunKind, RunStatus, SyncRun, SyncSchedule
from syncengine.planner import PreferenceChange


@pytest.fixture
def operator(db: None) -> User:
    return User.objects.create_user(username="operator", is_staff=True)


@pytest.fixture
def failed_run(alice_link: LinkedUser) -> SyncRun:
    now = timezone.now()
    SyncSchedule.objects.create(
        linked_user=alice_link, next_regular_at=now, next_housekeeping_at=now + timedelta(days=1)
    )
    return SyncRun.objects.create(
        linked_user=alice_link,
        kind=RunKind.REGULAR,
        status=RunStatus.FAILED,
        started_at=now - timedelta(seconds=5),
        finished_at=now,
        error_text="SuperOffice could not be read, so nothing was changed: in maintenance.",
    )


def test_the_console_shows_queue_chart_failures_and_tenants(
    client: Client, operator: User, failed_run: SyncRun
) -> None:
    client.force_login(operator)

    response = client.get("/operations/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "Queue and workers" in page
    assert response.context["runs_24h"] == 1
    assert response.context["failures_24h"] == 1
    assert "in maintenance" in page
    assert "Cust10001" in page
    assert page.count('class="bar-runs"') == 24


@pytest.mark.parametrize("who", ["alice", "bob", "charlie"])
def test_tenant_users_even_administrators_get_404(
    client: Client, who: str, request: pytest.FixtureRequest, failed_run: SyncRun
) -> None:
    client.force_login(request.getfixturevalue(who))

    assert client.get("/operations/").status_code == 404
    assert client.post(f"/operations/runs/{failed_run.code}/retry/").status_code == 404
    assert SyncRun.objects.count() == 1


def test_anonymous_visitors_get_404(client: Client, failed_run: SyncRun) -> None:
    assert client.get("/operations/").status_code == 404


def test_retry_queues_a_new_run_for_the_user(
    client: Client, operator: User, failed_run: SyncRun, published_runs: list[int]
) -> None:
    client.force_login(operator)

    response = client.post(f"/operations/runs/{failed_run.code}/retry/", follow=True)

    retried = SyncRun.objects.exclude(pk=failed_run.pk).get()
    assert retried.kind == RunKind.REGULAR
    assert retried.status == RunStatus.QUEUED
    assert "is queued" in response.content.decode()


def test_retry_re_runs_exactly_what_failed(
    client: Client,
    operator: User,
    failed_run: SyncRun,
    published_runs: list[int],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    before = effective_preferences_get(linked_user=failed_run.linked_user)
    after = replace(before, sync_favourite_contacts=not before.sync_favourite_contacts)
    change = PreferenceChange(old=before, new=after).as_json()
    SyncRun.objects.filter(pk=failed_run.pk).update(
        kind=RunKind.PREFERENCE_CHANGE,
        trigger={"preference_change": change, "merged_kinds": [RunKind.REGULAR]},
    )
    client.force_login(operator)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/operations/runs/{failed_run.code}/retry/")

    retried = SyncRun.objects.exclude(pk=failed_run.pk).get()
    assert retried.kind == RunKind.PREFERENCE_CHANGE
    assert retried.trigger["preference_change"] == change
    assert retried.trigger["merged_kinds"] == [RunKind.REGULAR]
    assert published_runs == [retried.pk]


def test_retry_of_a_disabled_user_says_why_nothing_happened(
    client: Client, operator: User, failed_run: SyncRun
) -> None:
    LinkedUser.objects.filter(pk=failed_run.linked_user_id).update(is_enabled=False)
    client.force_login(operator)

    response = client.post(f"/operations/runs/{failed_run.code}/retry/", follow=True)

    assert "cannot run now" in response.content.decode()
    assert SyncRun.objects.count() == 1


def test_retry_needs_post(client: Client, operator: User, failed_run: SyncRun) -> None:
    client.force_login(operator)

    assert client.get(f"/operations/runs/{failed_run.code}/retry/").status_code == 405


def test_metrics_are_served(client: Client, db: None) -> None:
    response = client.get("/metrics/")

    assert response.status_code == 200
    assert b"synchronizer_queue_depth" in response.content
