"""Headless Chromium (Debian's) driven by Playwright against pytest-django's live server.

The browser tests skip, saying how to enable them, where no Chromium is installed.
Screenshots go to $PORTAL_SCREENSHOTS (default: a temporary directory), never into the
repository.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, sync_playwright

from profiles.models import User

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE: ViewportSize = {"width": 390, "height": 844}
SCREENSHOTS = Path(
    os.environ.get("PORTAL_SCREENSHOTS", Path(tempfile.gettempdir()) / "portal-screenshots")
)


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(
            f"No Chromium at {CHROMIUM}: install Debian's chromium to run the browser tests "
            "(apt-get install chromium)."
        )
    # Playwright's sync API keeps an event loop in this thread; the ORM calls the tests
    # make between browser steps are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A phone-sized browser: every journey also checks the narrow layout."""
    context = browser.new_context(viewport=PHONE, accept_downloads=True, locale="en-GB")
    context.set_default_timeout(15_000)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def signed_in_as(context: BrowserContext, live_server: Any) -> Any:
    """Give the browser a session for a user, without going through SuperOffice again."""

    def sign(user: User) -> None:
        client = Client()
        client.force_login(user)
        context.add_cookies(
            [
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                    "url": live_server.url,
                }
            ]
        )

    return sign


def screenshot(page: Page, name: str) -> Path:
    """A full-page screenshot at phone width, after checking nothing overflows sideways."""
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{name}: the page is {overflow}px wider than the phone's screen"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
