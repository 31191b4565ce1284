"""Fixtures of the portal tests.

Besides the shared three actors (alice administers Acme, bob is a member of Acme, charlie
administers Globex), some pages need the live SuperOffice sandbox: its tenant Cust10001
with Ingrid Haugen (administrator) and Ola Berg (an ordinary user), both signed in once
so we hold their tokens. Mailbox credentials are tested against a real Radicale.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import SettingsWrapper

from profiles.models import (
    Environment,
    LinkedUser,
    SuperOfficeToken,
    SyncProfile,
    TargetAccount,
    Tenant,
    User,
)
from profiles.services import linked_user_link, profile_create
from sandbox.testing import SandboxControl, sign_in
from syncengine.models import SyncSchedule

TENANT = "Cust10001"
INGRID = "ingrid.haugen@nordlys-demo.example"  # administrator, associate 1
OLA = "ola.berg@nordlys-demo.example"  # ordinary user, associate 2


@pytest.fixture
def superoffice(sandbox: SandboxControl, settings: SettingsWrapper) -> SandboxControl:
    """The sandbox as our SuperOffice, with quick retries."""
    settings.SUPEROFFICE_ENVIRONMENT = sandbox.base_url
    settings.SUPEROFFICE_MAX_ATTEMPTS = 2
    settings.SUPEROFFICE_BACKOFF_BASE_SECONDS = 0.01
    settings.SUPEROFFICE_BACKOFF_CAP_SECONDS = 0.05
    return sandbox


@pytest.fixture
def nordlys(db: None, superoffice: SandboxControl) -> Tenant:
    return Tenant.objects.create(
        context_identifier=TENANT,
        name="Nordlys Demo AS",
        environment=Environment.CUSTOM,
        webapi_url=f"{superoffice.base_url}/{TENANT}/api/",
    )


@pytest.fixture
def signed_in(superoffice: SandboxControl, nordlys: Tenant) -> Callable[..., User]:
    """A user of the sandbox's tenant who signed in once: we hold real tokens."""

    def make(email: str, associate_id: int, *, admin: bool = False) -> User:
        user = User.objects.create_user(
            username=f"{TENANT}:{associate_id}",
            email=email,
            first_name=email.split(".")[0].capitalize(),
            tenant=nordlys,
            associate_id=associate_id,
            is_superoffice_admin=admin,
        )
        tokens = sign_in(base_url=superoffice.base_url, email=email)
        SuperOfficeToken.objects.create(
            user=user,
            access_token=tokens["access_token"],
            refresh_token=tokens["refresh_token"],
            expires_at=timezone.now() + timedelta(seconds=int(tokens["expires_in"])),
        )
        return user

    return make


@pytest.fixture
def ingrid(signed_in: Callable[..., User]) -> User:
    return signed_in(INGRID, 1, admin=True)


@pytest.fixture
def ola(signed_in: Callable[..., User]) -> User:
    return signed_in(OLA, 2)


@pytest.fixture
def nordlys_profile(nordlys: Tenant) -> SyncProfile:
    return profile_create(tenant=nordlys, name="Nordlys mailboxes")


@pytest.fixture
def ola_link(nordlys_profile: SyncProfile, ola: User) -> LinkedUser:
    return linked_user_link(
        profile=nordlys_profile, associate_id=2, email=OLA, full_name="Ola Berg"
    )


@pytest.fixture
def ingrid_link(nordlys_profile: SyncProfile, ingrid: User) -> LinkedUser:
    return linked_user_link(
        profile=nordlys_profile, associate_id=1, email=INGRID, full_name="Ingrid Haugen"
    )


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
