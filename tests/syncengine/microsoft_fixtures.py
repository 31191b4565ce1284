"""Ingrid of Nordlys Demo AS on a Microsoft 365 profile, her mailbox in the stand-in.

Import the fixtures into a test module (`from tests.syncengine.microsoft_fixtures import
...`): `nordlys_profile` is overridden there, so `ingrid_link` (tests.plugins.nordlys) is
linked on a Microsoft 365 profile instead of a CardDAV one.

- `nordlys_directory`: the organisation in the stand-in, with Ingrid's and Ola's mailboxes,
  the app's admin consent given on Microsoft's side.
- `connect_ingrid(selections)`: her preferences set, then the administrator's consent
  answer handed to the product (`organisation_consent_finish`) and her sign-in that
  confirms the organisation (`organisation_connect`), which matches her link to her
  mailbox by e-mail and queues her first run.
- `run_graph(kind)`: one run of the real engine (`sync_run_execute`) reading the live
  SuperOffice sandbox and writing through a `GraphTarget.from_account` into the stand-in.
- `ingrid_mailbox`: what the stand-in holds in her mailbox.
- `graph_worker`: a real Celery worker pointed at the stand-in.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from preferences.services import person_sync_preferences_update
from profiles.models import LinkedUser, SyncProfile, TargetAccount, TargetKind, Tenant, User
from profiles.services import profile_create
from sandbox.microsoft.testing import MicrosoftControl, MicrosoftProcess
from sandbox.testing import SandboxControl
from syncengine.microsoft_organisation import (
    organisation_consent_finish,
    organisation_sign_in_finish,
    organisation_sign_in_start,
)
from syncengine.models import PersonMapping, RunKind, RunStatus, SyncRun
from syncengine.services import sync_run_execute
from syncengine.superoffice.client import superoffice_client_for_linked_user
from syncengine.targets.microsoft.contacts import mark_of, person_id_of
from syncengine.targets.microsoft.target import GraphTarget
from tests.plugins.nordlys import INGRID, OLA
from tests.plugins.worker import WorkerProcess, tasks_routed_to_a_fresh_queue
from tests.portals.microsoft_pages import microsoft_press
from tests.syncengine.targets.microsoft.conftest import graph_settings

__all__ = [
    "FOLDER",
    "KEY_CUSTOMERS",
    "LEADS",
    "Directory",
    "GraphRunner",
    "IngridConnector",
    "Mailbox",
    "connect_ingrid",
    "graph_settings",
    "graph_worker",
    "ingrid_mailbox",
    "mapped_person_ids",
    "nordlys_directory",
    "nordlys_profile",
    "organisation_connect",
    "run_graph",
    "superoffice_unthrottled",
]

FOLDER = "SuperOffice"
CATEGORY = "SuperOffice Person"
KEY_CUSTOMERS: dict[str, Any] = {"id": 1, "name": "Nøkkelkunder Oslo"}  # static, 25 persons
LEADS: dict[str, Any] = {"id": 3, "name": "Messe 2025 - leads"}  # static, 60 persons
CONSENT_STATE = "consent-state-of-the-test"
# Where the stand-in sends the administrator back after her sign-in (any loopback address
# counts as registered there).
SIGN_IN_REDIRECT = "http://127.0.0.1/manage/microsoft/sign-in/"


@dataclass(frozen=True)
class Directory:
    """Nordlys Demo AS as a Microsoft 365 organisation in the stand-in."""

    directory_id: str
    ingrid: dict[str, Any]  # her user, as Graph shows it
    ola: dict[str, Any]


class Mailbox:
    """Ingrid's mailbox as the stand-in holds it (every property, folder and marks)."""

    def __init__(self, *, microsoft: MicrosoftControl, user_id: str) -> None:
        self.microsoft = microsoft
        self.user_id = user_id

    def everything(self) -> dict[str, dict[str, Any]]:
        """Every contact in the mailbox, in any folder, by id."""
        return {c["id"]: c for c in self.microsoft.contacts_of(user=self.user_id)}

    def folder(self) -> dict[str, dict[str, Any]]:
        """The contacts in our folder, by id."""
        return {cid: c for cid, c in self.everything().items() if c.get("folder") == FOLDER}

    def person_ids(self) -> list[int]:
        """The person of every contact with our mark in our folder, once per contact (so a
        duplicate shows twice)."""
        found = []
        for contact in self.folder().values():
            uid = mark_of(contact)
            person_id = person_id_of(uid) if uid else None
            if person_id is not None:
                found.append(person_id)
        return sorted(found)

    def by_person(self) -> dict[int, dict[str, Any]]:
        """Our contacts in the folder by person id; fails on a duplicate."""
        person_ids = self.person_ids()
        twice = [pid for pid, n in Counter(person_ids).items() if n > 1]
        assert not twice, f"persons with two contacts: {twice}"
        found: dict[int, dict[str, Any]] = {}
        for contact in self.folder().values():
            uid = mark_of(contact)
            person_id = person_id_of(uid) if uid else None
            if person_id is not None:
                found[person_id] = contact
        return found

    def usage(self) -> dict[str, Any]:
        """The stand-in's counters for this mailbox (requests, throttled, max_concurrent)."""
        mailboxes: dict[str, dict[str, Any]] = self.microsoft.stats()["mailboxes"]
        return mailboxes.get(INGRID, {"requests": 0, "throttled": 0, "max_concurrent": 0})


@pytest.fixture(autouse=True)
def superoffice_unthrottled(superoffice: SandboxControl, settings: Any) -> None:
    """These tests are about the mailbox: SuperOffice's own budget of ten requests a second
    is lifted (as for benchmarks), so the sandbox is read at its own pace."""
    settings.SUPEROFFICE_MAX_REQUESTS_PER_SECOND = 0


@pytest.fixture
def nordlys_profile(nordlys: Tenant) -> SyncProfile:
    """Overrides tests.plugins.nordlys: Nordlys' mailboxes are in Microsoft 365."""
    return profile_create(
        tenant=nordlys, name="Nordlys Microsoft 365", target_kind=TargetKind.MICROSOFT_GRAPH
    )


@pytest.fixture
def nordlys_directory(microsoft: MicrosoftControl, graph_settings: Any) -> Directory:
    directory_id = microsoft.directory_create(name="Nordlys Demo AS", domain="nordlys-demo.example")
    ingrid = microsoft.user_create(
        directory_id=directory_id, display_name="Ingrid Haugen", mail=INGRID, is_admin=True
    )
    ola = microsoft.user_create(directory_id=directory_id, display_name="Ola Berg", mail=OLA)
    # The administrator accepted the app's permissions on Microsoft's consent page.
    microsoft.consent_set(directory_id=directory_id, granted=True)
    return Directory(directory_id=directory_id, ingrid=ingrid, ola=ola)


def consent_answer(directory: Directory) -> dict[str, str]:
    """The query Microsoft's admin-consent page sends back to our redirect URI."""
    return {"admin_consent": "True", "tenant": directory.directory_id, "state": CONSENT_STATE}


def organisation_connect(*, profile: SyncProfile, user: User, directory: Directory) -> None:
    """The administrator's consent answer handed to the product, then (for an organisation
    the profile is not connected to yet) her sign-in on the stand-in's page that confirms
    it, as the portal's two callbacks do."""
    answer = organisation_consent_finish(
        profile=profile, user=user, query=consent_answer(directory), expected_state=CONSENT_STATE
    )
    if answer.connected:
        return
    flow = organisation_sign_in_start(
        profile=profile, directory_id=answer.directory_id, redirect_uri=SIGN_IN_REDIRECT
    )
    back = microsoft_press(str(flow["auth_uri"]), user_id=directory.ingrid["id"])
    organisation_sign_in_finish(
        profile=profile,
        user=user,
        directory_id=answer.directory_id,
        flow=flow,
        query=dict(parse_qsl(urlsplit(back).query)),
    )


IngridConnector = Callable[..., TargetAccount]


@pytest.fixture
def connect_ingrid(
    ingrid_link: LinkedUser, ingrid: User, nordlys_directory: Directory
) -> IngridConnector:
    """Ingrid's sources chosen, then the organisation connected by its administrator: her
    link is matched to her mailbox by e-mail and her first run is queued."""

    def connect(selections: Sequence[dict[str, Any]] = (KEY_CUSTOMERS,)) -> TargetAccount:
        person_sync_preferences_update(
            linked_user=ingrid_link, changes={"static_selections": list(selections)}
        )
        organisation_connect(profile=ingrid_link.profile, user=ingrid, directory=nordlys_directory)
        account = TargetAccount.objects.get(linked_user=ingrid_link)
        assert account.remote_user_id == nordlys_directory.ingrid["id"]
        assert SyncRun.objects.filter(linked_user=ingrid_link, kind=RunKind.FIRST).exists()
        return account

    return connect


GraphRunner = Callable[..., SyncRun]


@pytest.fixture
def run_graph(ingrid_link: LinkedUser) -> GraphRunner:
    """One run for Ingrid as a worker does it: her queued run of that kind (else a new one),
    a GraphTarget opened on her mailbox, the engine, the target closed."""

    def run(kind: RunKind) -> SyncRun:
        sync_run = (
            SyncRun.objects.filter(linked_user=ingrid_link, kind=kind, status=RunStatus.QUEUED)
            .order_by("pk")
            .first()
        ) or SyncRun.objects.create(linked_user=ingrid_link, kind=kind)
        ingrid_link.refresh_from_db()
        target = GraphTarget.from_account(
            target_account=TargetAccount.objects.get(linked_user=ingrid_link)
        )
        try:
            with superoffice_client_for_linked_user(linked_user=ingrid_link) as client:
                return sync_run_execute(run=sync_run, client=client, target=target)
        finally:
            target.close()

    return run


@pytest.fixture
def ingrid_mailbox(microsoft: MicrosoftControl, nordlys_directory: Directory) -> Mailbox:
    return Mailbox(microsoft=microsoft, user_id=str(nordlys_directory.ingrid["id"]))


def mapped_person_ids(linked_user: LinkedUser) -> list[int]:
    return sorted(
        PersonMapping.objects.filter(linked_user=linked_user).values_list("person_id", flat=True)
    )


@pytest.fixture
def graph_worker(
    transactional_db: None,
    monkeypatch: pytest.MonkeyPatch,
    graph_settings: Any,
    microsoft_server: MicrosoftProcess,
) -> Iterator[WorkerProcess]:
    """A real Celery worker on a fresh queue (this test's run tasks go to it), reaching the
    stand-in with the same settings as the test."""
    queue = tasks_routed_to_a_fresh_queue(monkeypatch, label=f"graph-{uuid.uuid4().hex[:4]}")
    settings_names = (
        "MICROSOFT_LOGIN_URL",
        "MICROSOFT_GRAPH_URL",
        "MICROSOFT_CA_BUNDLE",
        "MICROSOFT_CLIENT_ID",
        "MICROSOFT_CLIENT_SECRET",
        "MICROSOFT_MAILBOX_BUDGET",
        "MICROSOFT_MAILBOX_BUDGET_WINDOW_SECONDS",
        "MICROSOFT_MAILBOX_CONCURRENCY",
    )
    extra_env = {name: str(getattr(graph_settings, name)) for name in settings_names}
    extra_env["SUPEROFFICE_MAX_REQUESTS_PER_SECOND"] = "0"
    worker = WorkerProcess(queue=queue, extra_env=extra_env)
    try:
        worker.wait_until_ready()
        yield worker
    finally:
        worker.stop()
