"""An organisation in the Microsoft 365 stand-in, a linked user's mailbox in it, and the
target opened on that mailbox. Run with `-p tests.plugins.microsoft`."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
from django.utils import timezone

from profiles.models import MicrosoftAccess, TargetAccount, TargetKind, Tenant
from profiles.services import linked_user_link, profile_create
from sandbox.microsoft.testing import MicrosoftControl
from syncengine.rendering import ContactCard, Phone
from syncengine.targets.microsoft.target import GraphTarget

FOLDER = "SuperOffice"


@dataclass(frozen=True)
class Organisation:
    directory_id: str
    user: dict[str, Any]  # the mailbox's user, as Graph shows it

    @property
    def mailbox(self) -> str:
        return str(self.user["id"])


@pytest.fixture
def graph_settings(microsoft_settings: Any) -> Any:
    """The stand-in, and Outlook's limits as the product keeps them."""
    microsoft_settings.MICROSOFT_MAILBOX_BUDGET = 10_000
    microsoft_settings.MICROSOFT_MAILBOX_BUDGET_WINDOW_SECONDS = 600
    microsoft_settings.MICROSOFT_MAILBOX_CONCURRENCY = 4
    return microsoft_settings


@pytest.fixture
def organisation(microsoft: MicrosoftControl, graph_settings: Any) -> Organisation:
    directory_id = microsoft.directory_create(name="Contoso", domain="contoso.example")
    microsoft.consent_set(directory_id=directory_id, granted=True)
    user = microsoft.user_create(
        directory_id=directory_id, display_name="Ann Lee", mail="ann@contoso.example"
    )
    return Organisation(directory_id=directory_id, user=user)


@pytest.fixture
def account(organisation: Organisation, tenant_factory: Callable[..., Tenant]) -> TargetAccount:
    """Ann's mailbox, reached with application access (the administrator consented)."""
    profile = profile_create(
        tenant=tenant_factory("Cust100"), name="Contoso", target_kind=TargetKind.MICROSOFT_GRAPH
    )
    connection = profile.microsoft_connection
    connection.access = MicrosoftAccess.APPLICATION
    connection.directory_id = organisation.directory_id
    connection.consented_at = timezone.now()
    connection.folder_name = FOLDER
    connection.save()
    linked = linked_user_link(profile=profile, associate_id=7, email="ann@contoso.example")
    target_account, _ = TargetAccount.objects.update_or_create(
        linked_user=linked,
        defaults={"username": organisation.user["mail"], "remote_user_id": organisation.mailbox},
    )
    return target_account


@pytest.fixture
def target(account: TargetAccount) -> Iterator[GraphTarget]:
    opened = GraphTarget.from_account(target_account=account)
    yield opened
    opened.close()


CardFactory = Callable[..., ContactCard]


@pytest.fixture
def make_card() -> CardFactory:
    """A card for person `person_id`, with any field changed."""

    def make(person_id: int, **changes: Any) -> ContactCard:
        card = ContactCard(
            uid=f"superoffice-cust100-person-{person_id}",
            person_id=person_id,
            display_name=f"Person {person_id}",
            first_name="Person",
            middle_name="Q",
            last_name=str(person_id),
            salutation="Dr.",
            job_title="Buyer",
            organization="Fabrikam",
            department="Purchasing",
            emails=(f"p{person_id}@fabrikam.example",),
            phones=(
                Phone(number="+47 900 00 001", kind="cell", preferred=True),
                Phone(number="+47 22 00 00 01", kind="work", preferred=False),
            ),
            birthday=datetime.date(1980, 5, 17),
        )
        return replace(card, **changes)

    return make


MailboxReader = Callable[[], dict[str, dict[str, Any]]]


@pytest.fixture
def mailbox(microsoft: MicrosoftControl, organisation: Organisation) -> MailboxReader:
    """The mailbox's contacts as the stand-in holds them (with `folder` and our extended
    property), by id."""
    return lambda: {c["id"]: c for c in microsoft.contacts_of(user=organisation.mailbox)}
