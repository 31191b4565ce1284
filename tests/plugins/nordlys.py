"""The sandbox's first tenant, Nordlys Demo AS (Cust10001), as our SuperOffice customer.

Ingrid Haugen is its administrator (associate 1) and Ola Berg an ordinary user
(associate 2). `ingrid` and `ola` have signed in once: we hold real tokens from the
live sandbox, so everything that reads SuperOffice with a user's token works.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from pytest_django.fixtures import SettingsWrapper

from profiles.models import Environment, LinkedUser, SuperOfficeToken, SyncProfile, Tenant, User
from profiles.services import linked_user_link, profile_create
from sandbox.testing import SandboxControl, sign_in

TENANT = "Cust10001"
INGRID = "ingrid.haugen@nordlys-demo.example"  # administrator, associate 1
OLA = "ola.berg@nordlys-demo.example"  # ordinary user, associate 2


@pytest.fixture
def superoffice(
    sandbox: SandboxControl, settings: SettingsWrapper, monkeypatch: pytest.MonkeyPatch
) -> SandboxControl:
    """The sandbox as our SuperOffice, with quick retries so fault tests stay short.

    The sandbox's data is reset for every test, ids and all, so what the engine caches
    about it (bookings' participants) gets a namespace of its own per test."""
    monkeypatch.setattr(cache, "key_prefix", f"{cache.key_prefix}-{uuid.uuid4().hex[:8]}")
    settings.SUPEROFFICE_ENVIRONMENT = sandbox.base_url
    settings.SUPEROFFICE_MAX_ATTEMPTS = 3
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
    """A user of the tenant who signed in once: we hold real tokens."""

    def make(email: str, associate_id: int, *, admin: bool = False) -> User:
        user = User.objects.create_user(
            username=f"{TENANT}.{associate_id}",
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
def ingrid_link(nordlys_profile: SyncProfile, ingrid: User) -> LinkedUser:
    return linked_user_link(
        profile=nordlys_profile, associate_id=1, email=INGRID, full_name="Ingrid Haugen"
    )


@pytest.fixture
def ola_link(nordlys_profile: SyncProfile, ola: User) -> LinkedUser:
    return linked_user_link(
        profile=nordlys_profile, associate_id=2, email=OLA, full_name="Ola Berg"
    )
