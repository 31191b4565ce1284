"""An administrator's Microsoft 365 journey in headless Chromium at a phone's width:
create a Microsoft 365 profile, connect the organisation on the stand-in's consent page
and confirm it by signing in there, and link the users whose e-mail is a mailbox there."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Browser, BrowserContext, Page, expect

from profiles.models import LinkedUser, MicrosoftConnection, SyncProfile, TargetAccount, User
from sandbox.microsoft.testing import MicrosoftControl
from tests.plugins.nordlys import INGRID, OLA
from tests.portals.browser.conftest import PHONE, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def trusting_page(browser: Browser) -> Iterator[Page]:
    """The stand-in's sign-in pages are HTTPS with a certificate of its own making."""
    context: BrowserContext = browser.new_context(
        viewport=PHONE, locale="en-GB", ignore_https_errors=True
    )
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def sign_in(page: Page, live_server: Any, user: User) -> None:
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )


def test_an_administrator_connects_microsoft_365_and_links_users(
    trusting_page: Page,
    live_server: Any,
    ingrid: User,
    microsoft: MicrosoftControl,
    microsoft_settings: Any,
) -> None:
    page = trusting_page
    directory_id = microsoft.directory_create(name="Nordlys", domain="nordlys-demo.example")
    microsoft.user_create(
        directory_id=directory_id, display_name="Ingrid Haugen", mail=INGRID, is_admin=True
    )
    microsoft.user_create(directory_id=directory_id, display_name="Ola Berg", mail=OLA)
    sign_in(page, live_server, ingrid)

    page.goto(f"{live_server.url}/manage/profiles/new/")
    page.get_by_label("Name").fill("Nordlys 365")
    page.get_by_label("Microsoft 365").check()
    page.get_by_role("button", name="Create profile").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Manage Profile: Nordlys 365")
    expect(page.get_by_text("Now connect its Microsoft 365 organisation.")).to_be_visible()
    screenshot(page, "30-microsoft-profile")

    page.get_by_role("button", name="Connect Microsoft 365 organisation").click()
    # The stand-in's own admin-consent page.
    expect(page.get_by_role("heading", name="Permissions requested")).to_be_visible()
    page.get_by_role("button", name="Accept as Ingrid Haugen").click()
    # Then she signs in to the organisation she consented for, which confirms it.
    expect(page.get_by_role("heading", name="Pick an account")).to_be_visible()
    assert MicrosoftConnection.objects.get(profile__name="Nordlys 365").directory_id == ""
    page.get_by_role("button", name="Sign in as Ingrid Haugen").click()

    expect(page.get_by_text("Microsoft 365 is connected")).to_be_visible()
    expect(page.get_by_text(directory_id)).to_be_visible()
    screenshot(page, "31-microsoft-connected")
    profile = SyncProfile.objects.get(name="Nordlys 365")
    connection = MicrosoftConnection.objects.get(profile=profile)
    assert (connection.directory_id, connection.consented_by) == (directory_id, ingrid)

    page.get_by_role("link", name="Link Users (0)").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Link Users to Nordlys 365")
    no_mailbox = page.get_by_text("No mailbox with this e-mail in the organisation")
    expect(no_mailbox.first).to_be_visible()
    screenshot(page, "32-microsoft-link-users")
    page.get_by_role("button", name="Link all matching (2)").click()

    expect(page.get_by_text("2 users were linked")).to_be_visible()
    screenshot(page, "33-microsoft-linked")
    linked = {
        account.linked_user.email: account.username
        for account in TargetAccount.objects.select_related("linked_user")
    }
    assert linked == {INGRID: INGRID, OLA: OLA}
    assert LinkedUser.objects.filter(profile=profile).count() == 2
