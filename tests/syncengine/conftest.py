"""A linked user whose tenant is the live sandbox's first tenant.

The shared `acme` fixture points at port 8001; these tests need the sandbox's random
port, so they make their own Tenant (Cust10001) and link its administrator, Ingrid
Haugen (associate 1), with real tokens from a real sign-in.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from pytest_django.fixtures import SettingsWrapper

from profiles.models import Environment, LinkedUser, SuperOfficeToken, Tenant, User
from profiles.services import linked_user_link, profile_create
from sandbox.testing import SandboxControl, sign_in

TENANT = "Cust10001"
ADMIN_EMAIL = "ingrid.haugen@nordlys-demo.example"
ADMIN_ASSOCIATE_ID = 1


@pytest.fixture
def sandbox_tenant(db: None, sandbox: SandboxControl) -> Tenant:
    return Tenant.objects.create(
        context_identifier=TENANT,
        name="Nordlys Demo AS",
        environment=Environment.CUSTOM,
        webapi_url=f"{sandbox.base_url}/{TENANT}/api/",
    )


@pytest.fixture
def ingrid_link(
    sandbox: SandboxControl, sandbox_tenant: Tenant, settings: SettingsWrapper
) -> LinkedUser:
    """Ingrid, signed in once (we hold her tokens), linked to a profile of the tenant.

    Small retry settings keep the fault tests quick.
    """
    settings.SUPEROFFICE_ENVIRONMENT = sandbox.base_url
    settings.SUPEROFFICE_MAX_ATTEMPTS = 3
    settings.SUPEROFFICE_BACKOFF_BASE_SECONDS = 0.01
    settings.SUPEROFFICE_BACKOFF_CAP_SECONDS = 0.05
    user = User.objects.create_user(
        username=f"{TENANT}.{ADMIN_ASSOCIATE_ID}",
        email=ADMIN_EMAIL,
        tenant=sandbox_tenant,
        associate_id=ADMIN_ASSOCIATE_ID,
        is_superoffice_admin=True,
    )
    tokens = sign_in(base_url=sandbox.base_url, email=ADMIN_EMAIL)
    SuperOfficeToken.objects.create(
        user=user,
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
        expires_at=timezone.now() + timedelta(seconds=int(tokens["expires_in"])),
    )
    profile = profile_create(tenant=sandbox_tenant, name="Nordlys mailboxes")
    return linked_user_link(
        profile=profile, associate_id=ADMIN_ASSOCIATE_ID, email=ADMIN_EMAIL, full_name="Ingrid"
    )
