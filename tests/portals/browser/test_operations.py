"""The operator console in a real browser: the queue, the chart, a failure and its retry."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from profiles.models import LinkedUser, User
from syncengine.models import RunKind, RunStatus, SyncRun, SyncSchedule
from tests.portals.browser.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_operator_sees_a_failure_and_retries_it(
    page: Page, live_server: Any, signed_in_as: Any, alice_link: LinkedUser
) -> None:
    now = timezone.now()
    SyncSchedule.objects.create(
        linked_user=alice_link, next_regular_at=now, next_housekeeping_at=now + timedelta(days=1)
    )
    failed = SyncRun.objects.create(
        linked_user=alice_link,
        kind=RunKind.REGULAR,
        status=RunStatus.FAILED,
        started_at=now - timedelta(seconds=8),
        finished_at=now,
        error_text="SuperOffice could not be read, so nothing was changed: in maintenance.",
    )
    signed_in_as(User.objects.create_user(username="operator", is_staff=True))

    page.goto(f"{live_server.url}/operations/")

    expect(page.get_by_role("heading", name="Operations")).to_be_visible()
    expect(page.get_by_text("1 runs, 1 failed or partly failed.")).to_be_visible()
    expect(page.get_by_role("img", name="Bar chart: runs per hour")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="alice@acme.example")
    expect(row).to_contain_text("in maintenance")
    screenshot(page, "operations-console")

    row.get_by_role("button", name="Retry alice@acme.example").click()

    expect(page.get_by_role("status")).to_contain_text(
        "regular run of alice@acme.example is queued"
    )
    retried = SyncRun.objects.exclude(pk=failed.pk).get()
    assert (retried.kind, retried.status) == (RunKind.REGULAR, RunStatus.QUEUED)


def test_a_tenant_administrator_cannot_open_the_console(
    page: Page, live_server: Any, signed_in_as: Any, alice: User
) -> None:
    signed_in_as(alice)

    response = page.goto(f"{live_server.url}/operations/")

    assert response is not None
    assert response.status == 404
    expect(page.get_by_role("link", name="Operations")).to_have_count(0)
