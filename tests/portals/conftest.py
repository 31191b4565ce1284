"""Fixtures of the portal tests.

Besides the shared three actors (alice administers Acme, bob is a member of Acme, charlie
administers Globex), some pages need the live SuperOffice sandbox: its tenant Cust10001
with Ingrid (administrator) and Ola (an ordinary user), both signed in once, come from
tests/plugins/nordlys.py. Mailbox credentials are tested against a real Radicale.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from profiles.models import (
    LinkedUser,
    SuperOfficeToken,
    TargetAccount,
    User,
)
from syncengine.models import SyncSchedule


def make_ready(linked_user: LinkedUser) -> SyncSchedule:
    """As if the link's first run had been queued: catch-up and Sync now runs can happen."""
    if linked_user.user is not None and not hasattr(linked_user.user, "superoffice_token"):
        SuperOfficeToken.objects.create(
            user=linked_user.user, access_token="a", refresh_token="r", expires_at=timezone.now()
        )
    TargetAccount.objects.update_or_create(
        linked_user=linked_user,
        defaults={
            "username": linked_user.email,
            "secret": "app-password",
            "collection_url": "http://127.0.0.1:5232/x/contacts/",
            "verified_at": timezone.now(),
        },
    )
    now = timezone.now()
    schedule, _ = SyncSchedule.objects.get_or_create(
        linked_user=linked_user,
        defaults={
            "next_regular_at": now + timedelta(minutes=15),
            "next_housekeeping_at": now + timedelta(hours=24),
        },
    )
    return schedule


@pytest.fixture
def login(client: Client) -> Callable[[User], Client]:
    def as_user(user: User) -> Client:
        client.force_login(user)
        return client

    return as_user
