"""Shared fixtures. Three actors, as in every view test: alice administers tenant Acme,
bob is an ordinary member of Acme, and charlie administers another tenant, Globex."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from profiles.models import Environment, LinkedUser, SyncProfile, Tenant, User
from profiles.services import linked_user_link, profile_create

pytest_plugins = [
    "tests.plugins.sandbox",
    "tests.plugins.nordlys",
    "tests.plugins.worker",
    "tests.plugins.radicale",
    "tests.plugins.microsoft",
]


def pytest_configure(config: pytest.Config) -> None:
    """Keys of this test session in Redis (locks, rate budget, cache) are its own, so test
    sessions running at the same time on one machine never meet."""
    from django.conf import settings

    prefix = f"test-{os.getpid()}"
    settings.REDIS_KEY_PREFIX = prefix
    settings.CACHES["default"]["KEY_PREFIX"] = prefix


@pytest.fixture(autouse=True)
def published_runs(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Run ids whose task would have reached the broker (after commit).

    Tests never leave messages in the shared Redis queue; a test that wants a real
    worker to run them uses the `celery_worker` fixture, which publishes for real.
    """
    sent: list[int] = []
    if "celery_worker" not in request.fixturenames:
        from syncengine import tasks

        monkeypatch.setattr(tasks.sync_run_task, "delay", sent.append)
        monkeypatch.setattr(tasks.sync_run_apply_held_deletions_task, "delay", sent.append)
    return sent


@pytest.fixture
def tenant_factory(db: None) -> Callable[..., Tenant]:
    def make(context_identifier: str, name: str = "") -> Tenant:
        return Tenant.objects.create(
            context_identifier=context_identifier,
            name=name or context_identifier,
            environment=Environment.CUSTOM,
            webapi_url=f"http://127.0.0.1:8001/{context_identifier}/api/",
        )

    return make


@pytest.fixture
def user_factory(db: None) -> Callable[..., User]:
    def make(tenant: Tenant, associate_id: int, *, admin: bool = False, **extra: Any) -> User:
        username = f"{tenant.context_identifier}:{associate_id}"
        return User.objects.create_user(
            username=username,
            email=extra.pop(
                "email", f"user{associate_id}@{tenant.context_identifier.lower()}.example"
            ),
            tenant=tenant,
            associate_id=associate_id,
            is_superoffice_admin=admin,
            **extra,
        )

    return make


@pytest.fixture
def acme(tenant_factory: Callable[..., Tenant]) -> Tenant:
    return tenant_factory("Cust10001", "Acme AS")


@pytest.fixture
def globex(tenant_factory: Callable[..., Tenant]) -> Tenant:
    return tenant_factory("Cust20002", "Globex GmbH")


@pytest.fixture
def alice(user_factory: Callable[..., User], acme: Tenant) -> User:
    return user_factory(acme, 1, admin=True, first_name="Alice", email="alice@acme.example")


@pytest.fixture
def bob(user_factory: Callable[..., User], acme: Tenant) -> User:
    return user_factory(acme, 2, first_name="Bob", email="bob@acme.example")


@pytest.fixture
def charlie(user_factory: Callable[..., User], globex: Tenant) -> User:
    return user_factory(globex, 1, admin=True, first_name="Charlie", email="charlie@globex.example")


@pytest.fixture
def acme_profile(acme: Tenant) -> SyncProfile:
    return profile_create(tenant=acme, name="Acme mailboxes", carddav_url="http://127.0.0.1:5232/")


@pytest.fixture
def globex_profile(globex: Tenant) -> SyncProfile:
    return profile_create(tenant=globex, name="Globex mailboxes")


@pytest.fixture
def alice_link(acme_profile: SyncProfile, alice: User) -> LinkedUser:
    return linked_user_link(
        profile=acme_profile, associate_id=1, email="alice@acme.example", full_name="Alice"
    )


@pytest.fixture
def bob_link(acme_profile: SyncProfile, bob: User) -> LinkedUser:
    return linked_user_link(
        profile=acme_profile, associate_id=2, email="bob@acme.example", full_name="Bob"
    )


@pytest.fixture
def charlie_link(globex_profile: SyncProfile, charlie: User) -> LinkedUser:
    return linked_user_link(
        profile=globex_profile, associate_id=1, email="charlie@globex.example", full_name="Charlie"
    )
