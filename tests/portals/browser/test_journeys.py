"""User journeys in a real headless Chromium at a phone's width: signing in through the
sandbox, editing preferences (a dynamic selection refused, a static one accepted) with the
catch-up run followed live, an administrator's defaults with overwrite, the Status page,
and every portal page checked for sideways overflow."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from preferences.models import PersonSyncPreferences
from profiles.models import LinkedUser, SyncProfile, TargetAccount, Tenant, User
from profiles.services import linked_user_link, profile_create
from sandbox.testing import SandboxControl
from syncengine.models import HeldDeletion, PersonMapping, RunKind, RunStatus, SyncRun
from tests.plugins.nordlys import INGRID, OLA
from tests.plugins.radicale import AddressBook, RadicaleHelper
from tests.plugins.worker import WorkerProcess
from tests.portals.browser.conftest import screenshot
from tests.portals.conftest import make_ready
from tests.preferences.impact_task import impact_task_runs_at_once  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SignedInAs = Callable[[User], None]


def connect_mailbox(linked_user: LinkedUser, book: AddressBook) -> None:
    """Tested credentials of a real Radicale address book, and a first run behind it."""
    make_ready(linked_user)
    TargetAccount.objects.filter(linked_user=linked_user).update(
        username=book.username, collection_url=book.url
    )
    account = TargetAccount.objects.get(linked_user=linked_user)
    account.secret = book.password
    account.save()


def test_signing_in_through_the_sandbox(
    page: Page, live_server: Any, superoffice: SandboxControl
) -> None:
    page.goto(live_server.url)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Your SuperOffice contacts, in your mailbox"
    )
    screenshot(page, "01-welcome")

    page.get_by_role("button", name="Login with SuperOffice").click()
    # The sandbox's own login page: pick the associate to sign in as.
    expect(page.get_by_role("heading", name="Sign in to SuperOffice")).to_be_visible()
    page.locator("tr", has_text=INGRID).get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("heading", name="Administration")).to_be_visible()
    expect(
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Status")
    ).to_be_visible()
    screenshot(page, "02-home-administrator")
    user = User.objects.get(tenant__context_identifier="Cust10001", associate_id=1)
    assert user.is_superoffice_admin
    assert user.superoffice_token.refresh_token


def test_sign_in_problems_are_explained(
    page: Page, live_server: Any, superoffice: SandboxControl
) -> None:
    page.goto(live_server.url)
    page.get_by_role("button", name="Login with SuperOffice").click()
    page.get_by_role("button", name="Deny").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You did not give consent")
    screenshot(page, "19-consent-refused")

    # An ordinary user of a tenant no administrator has brought in yet.
    page.get_by_role("button", name="Login with SuperOffice").click()
    page.locator("tr", has_text="johan.lindqvist@fjallvind.example").get_by_role(
        "button", name="Sign in"
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Synchronizer is not set up for your company yet"
    )
    screenshot(page, "20-tenant-not-set-up")
    assert not User.objects.filter(email="johan.lindqvist@fjallvind.example").exists()


def test_preferences_refuse_a_dynamic_selection_and_sync_a_static_one(
    superoffice: SandboxControl,
    celery_worker: WorkerProcess,
    page: Page,
    live_server: Any,
    signed_in_as: SignedInAs,
    ola: User,
    ola_link: LinkedUser,
    nordlys_profile: SyncProfile,
    radicale: RadicaleHelper,
) -> None:
    nordlys_profile.carddav_url = radicale.url
    nordlys_profile.save()
    book = radicale.new_mailbox("ola")
    connect_mailbox(ola_link, book)
    signed_in_as(ola)

    page.goto(live_server.url)
    page.get_by_role("link", name="Open my sync for Nordlys mailboxes").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My sync")
    page.get_by_role("link", name="Edit preferences").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Person Synchronization")

    page.get_by_label("My own list").check()
    page.get_by_label("My selections").fill("Aktive kunder (dynamisk)")
    page.get_by_role("button", name="Save preferences").click()

    expect(page.get_by_text("“Aktive kunder (dynamisk)” is a dynamic selection")).to_be_visible()
    expect(page.get_by_text("Nothing was saved; see the messages below.")).to_be_visible()
    screenshot(page, "03-preferences-refused")
    assert not PersonSyncPreferences.objects.filter(linked_user=ola_link).exists()

    page.get_by_label("My selections").fill("Nøkkelkunder Oslo")
    page.get_by_role("button", name="Save preferences").click()

    expect(page.get_by_text("Your Person Synchronization preferences were saved.")).to_be_visible()
    catch_up = SyncRun.objects.get(linked_user=ola_link, kind=RunKind.PREFERENCE_CHANGE)
    row = page.locator(f'tr[data-run="{catch_up.code}"]')
    expect(row).to_contain_text("Preference change")
    # The worker runs it; the page follows by polling, without a reload.
    expect(row).to_contain_text("Succeeded", timeout=60_000)
    expect(row).to_contain_text("25 / 25")
    expect(row).to_contain_text("25 created")
    expect(page.locator("[data-last-sync]")).to_contain_text("Succeeded")
    screenshot(page, "04-overview-after-catch-up")
    assert len(book.cards()) == 25


def test_run_progress_is_followed_live(
    page: Page, live_server: Any, signed_in_as: SignedInAs, bob: User, bob_link: LinkedUser
) -> None:
    make_ready(bob_link)
    run = SyncRun.objects.create(linked_user=bob_link, kind=RunKind.PREFERENCE_CHANGE)
    signed_in_as(bob)
    page.goto(f"{live_server.url}/links/{bob_link.code}/runs/")
    row = page.locator(f'tr[data-run="{run.code}"]')
    expect(row).to_contain_text("Queued")

    SyncRun.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, started_at=timezone.now(), progress_done=5, progress_total=20
    )
    expect(row).to_contain_text("Running")
    expect(row).to_contain_text("5 / 20")
    expect(row.locator("progress")).to_have_attribute("value", "25")

    SyncRun.objects.filter(pk=run.pk).update(
        status=RunStatus.SUCCEEDED,
        finished_at=timezone.now(),
        progress_done=20,
        created_count=20,
    )
    expect(row).to_contain_text("Succeeded")
    expect(row).to_contain_text("20 created")
    screenshot(page, "05-run-history")

    # A run queued later (e.g. by Sync now elsewhere) appears without a reload.
    later = SyncRun.objects.create(linked_user=bob_link, kind=RunKind.REGULAR)
    expect(page.locator(f'tr[data-run="{later.code}"]')).to_contain_text("Queued", timeout=20_000)


def test_an_administrator_changes_the_defaults_and_overwrites_users(
    page: Page,
    live_server: Any,
    signed_in_as: SignedInAs,
    ingrid: User,
    ingrid_link: LinkedUser,
    ola_link: LinkedUser,
    nordlys_profile: SyncProfile,
    published_runs: list[int],
) -> None:
    make_ready(ingrid_link)
    make_ready(ola_link)
    PersonSyncPreferences.objects.create(linked_user=ola_link, sync_favourite_contacts=False)
    signed_in_as(ingrid)

    page.goto(live_server.url)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Profiles").click()
    page.get_by_role("link", name="Manage Profile Nordlys mailboxes").click()
    page.get_by_role("link", name="Customize system").first.click()
    page.get_by_role(
        "link", name="Show Settings of SuperOffice CRM: Person Synchronization"
    ).click()
    breadcrumb = page.get_by_role("navigation", name="Breadcrumb")
    expect(breadcrumb).to_have_text(
        re.compile(
            r"Profiles\s*›?\s*Manage Profile: Nordlys mailboxes.*Customize system.*"
            r"Show Settings \(SuperOffice CRM\).*Person Synchronization",
            re.S,
        )
    )
    expect(page.get_by_label("Don't overwrite user settings")).to_be_checked()

    page.get_by_role("textbox", name="Static selections").fill("Styret")
    page.get_by_label("Favourite contacts").check()
    page.get_by_label("Overwrite user settings", exact=True).check()
    screenshot(page, "06-profile-person-sync")
    # Keyboard only: the save button is reached and pressed without the mouse.
    page.get_by_role("button", name="Save defaults").focus()
    page.keyboard.press("Enter")

    # The change alters both users' values: its impact is shown first, and nothing is
    # saved until the administrator applies it.
    expect(page.get_by_role("heading", name="Confirm a change")).to_be_visible()
    expect(page.get_by_text("Users' own settings of these fields are overwritten.")).to_be_visible()
    expect(page.get_by_text(re.compile(r"^2 users; \d+ contacts? would be added"))).to_be_visible()
    screenshot(page, "06b-confirm-change")
    nordlys_profile.refresh_from_db()
    assert nordlys_profile.static_selections == []
    page.get_by_role("button", name="Apply", exact=True).click()

    expect(page.get_by_text("The change was saved")).to_be_visible()
    nordlys_profile.refresh_from_db()
    assert nordlys_profile.static_selections == [{"id": 4, "name": "Styret"}]
    assert nordlys_profile.sync_favourite_contacts is True
    overrides = PersonSyncPreferences.objects.get(linked_user=ola_link)
    assert overrides.sync_favourite_contacts is None
    catch_ups = SyncRun.objects.filter(kind=RunKind.PREFERENCE_CHANGE)
    assert set(catch_ups.values_list("linked_user_id", flat=True)) == {
        ingrid_link.pk,
        ola_link.pk,
    }
    assert sorted(published_runs) == sorted(catch_ups.values_list("pk", flat=True))


def test_the_status_page_sorts_and_exports(
    page: Page,
    live_server: Any,
    signed_in_as: SignedInAs,
    ingrid: User,
    ingrid_link: LinkedUser,
    ola_link: LinkedUser,
) -> None:
    make_ready(ingrid_link)
    now = timezone.now()
    SyncRun.objects.create(
        linked_user=ingrid_link,
        kind=RunKind.REGULAR,
        status=RunStatus.FAILED,
        started_at=now - timedelta(minutes=1),
        finished_at=now,
        error_text="The mailbox rejected the app password; enter a new one.",
    )
    signed_in_as(ingrid)

    page.goto(f"{live_server.url}/manage/status/")
    rows = page.locator("table.status tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Ingrid Haugen")
    expect(rows.nth(0)).to_contain_text("rejected the app password")
    expect(rows.nth(1)).to_contain_text("Waiting for mailbox credentials")
    screenshot(page, "07-status")

    page.get_by_role("link", name="User").click()  # sorted by name already: now descending
    expect(rows.nth(0)).to_contain_text("Ola Berg")
    expect(page.locator('th[aria-sort="descending"]')).to_contain_text("User")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export as CSV").click()
    exported = list(csv.reader(io.StringIO(download_info.value.path().read_text())))
    assert [row[0] for row in exported[1:]] == ["Ola Berg", "Ingrid Haugen"]
    assert "rejected the app password" in exported[2][7]


def test_every_page_fits_a_phone(
    page: Page,
    live_server: Any,
    signed_in_as: SignedInAs,
    superoffice: SandboxControl,
    ingrid: User,
    ingrid_link: LinkedUser,
    nordlys: Tenant,
) -> None:
    profile = ingrid_link.profile
    make_ready(ingrid_link)
    for person_id in (1, 2):
        PersonMapping.objects.create(
            linked_user=ingrid_link, person_id=person_id, target_uid=f"uid-{person_id}"
        )
    held = SyncRun.objects.create(
        linked_user=ingrid_link,
        kind=RunKind.HOUSEKEEPING,
        status=RunStatus.NEEDS_CONFIRMATION,
        finished_at=timezone.now(),
        held_deletions=[1, 2],
    )
    decision = HeldDeletion.objects.create(
        linked_user=ingrid_link,
        person_ids=[1, 2],
        sources={"1": ["selection:1"], "2": ["selection:1"]},
        source_labels={"selection:1": "Selection “Nøkkelkunder Oslo”"},
        last_run=held,
    )
    SyncRun.objects.filter(pk=held.pk).update(held_deletion=decision)
    deleted = profile_create(tenant=nordlys, name="Old mailboxes")
    linked_user_link(profile=deleted, associate_id=3, email="kari.lie@nordlys-demo.example")
    deleted.soft_delete()
    signed_in_as(ingrid)

    pages = {
        "08-overview": f"/links/{ingrid_link.code}/",
        "09-credentials": f"/links/{ingrid_link.code}/credentials/",
        "10-preferences": f"/links/{ingrid_link.code}/preferences/",
        "11-run-held": f"/runs/{held.code}/",
        "11-held-deletions": f"/held-deletions/{decision.code}/",
        "12-profiles": "/manage/?deleted=1",
        "13-profile-new": "/manage/profiles/new/",
        "14-manage-profile": f"/manage/profiles/{profile.code}/",
        "15-customize": f"/manage/profiles/{profile.code}/customize/",
        "16-link-users": f"/manage/profiles/{profile.code}/link-users/",
        "17-delete-permanently": f"/manage/profiles/{deleted.code}/delete-permanently/",
    }
    for name, path in pages.items():
        page.goto(live_server.url + path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        screenshot(page, name)

    page.goto(f"{live_server.url}/runs/{held.code}/")
    page.get_by_role("link", name="Decide: apply or keep").click()
    expect(page.get_by_role("cell", name="Ola Berg")).to_be_visible()
    expect(page.get_by_role("cell", name="Selection “Nøkkelkunder Oslo”").first).to_be_visible()
    page.get_by_role("button", name="Apply 2 deletions").click()
    expect(page.get_by_text("2 deletions are being applied in the background.")).to_be_visible()
    expect(page.get_by_text("Decided by")).to_be_visible()

    page.goto(f"{live_server.url}/manage/profiles/{profile.code}/link-users/")
    page.get_by_label("SuperOffice user").select_option(
        label="Ola Berg <ola.berg@nordlys-demo.example>"
    )
    page.get_by_role("button", name="Link", exact=True).click()
    expect(page.get_by_text("Ola Berg was linked.")).to_be_visible()
    assert LinkedUser.objects.filter(profile=profile, associate_id=2).exists()
    screenshot(page, "18-link-users-after")
    assert OLA  # the linked e-mail is the sandbox's
