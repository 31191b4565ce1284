"""The engine end to end into Microsoft 365: Ingrid's runs read the live SuperOffice
sandbox and write through a real GraphTarget into her mailbox in the Microsoft 365
stand-in process. First run, updates, deletes, no writes for nothing, foreign contacts,
a worker killed after a batch landed, a lost mapping, throttling inside a batch, the
in-flight limit, an expired delta token and revoked consent; the first runs and a
mailbox edit also through a real Celery worker."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from preferences.selectors import effective_preferences_get
from profiles.models import LinkedUser, MicrosoftConnection, TargetAccount, User
from sandbox.microsoft.testing import MicrosoftControl
from sandbox.testing import SandboxControl
from syncengine.microsoft_organisation import organisation_consent_finish
from syncengine.models import PersonMapping, RunKind, RunStatus, SyncRun
from syncengine.orchestration import sync_run_request
from syncengine.performing import sync_run_perform
from syncengine.rendering import contact_uid
from syncengine.superoffice import reads
from syncengine.superoffice.client import superoffice_client_for_linked_user
from syncengine.superoffice.records import PersonRecord
from syncengine.targets.base import Create, Write, WriteOutcome
from syncengine.targets.microsoft.contacts import MARK_PROPERTY_ID, mark_of
from syncengine.targets.microsoft.target import GraphTarget
from tests.plugins.nordlys import TENANT
from tests.plugins.worker import WorkerProcess
from tests.syncengine.microsoft_fixtures import (
    CATEGORY,
    CONSENT_STATE,
    FOLDER,
    KEY_CUSTOMERS,
    LEADS,
    Directory,
    GraphRunner,
    IngridConnector,
    Mailbox,
    connect_ingrid,
    consent_answer,
    graph_settings,
    graph_worker,
    ingrid_mailbox,
    mapped_person_ids,
    nordlys_directory,
    nordlys_profile,
    run_graph,
    superoffice_unthrottled,
)
from tests.syncengine.test_end_to_end import finished

# Fixtures of this module, imported so pytest finds them here.
__all__ = [
    "connect_ingrid",
    "graph_settings",
    "graph_worker",
    "ingrid_mailbox",
    "nordlys_directory",
    "nordlys_profile",
    "run_graph",
    "superoffice_unthrottled",
]

Reader = Callable[..., frozenset[int]]
TITLE = "Chief Synchroniser"


class WorkerKilled(BaseException):
    """A killed worker: nothing after it runs, not even `finally` blocks that write."""


@dataclass(frozen=True)
class Scene:
    """Ingrid on a Microsoft 365 profile with all a test here works with: the SuperOffice
    sandbox, the stand-in, her organisation and mailbox in it, and her runs."""

    ingrid: LinkedUser
    connect: IngridConnector
    run: GraphRunner
    mailbox: Mailbox
    directory: Directory
    microsoft: MicrosoftControl
    sandbox: SandboxControl
    read: Reader

    def sources(self, *selection_ids: int) -> dict[str, frozenset[int]]:
        """What Ingrid's sources name right now, read straight from SuperOffice."""
        named = {"appointments": self.read(self.ingrid, "appointments")}
        for selection_id in selection_ids or (KEY_CUSTOMERS["id"],):
            named[f"selection:{selection_id}"] = self.read(
                self.ingrid, "selection", selection_id=selection_id
            )
        return named

    def persons(self, person_ids: Sequence[int]) -> dict[int, PersonRecord]:
        with superoffice_client_for_linked_user(linked_user=self.ingrid) as client:
            return reads.persons_by_ids(client=client, person_ids=person_ids)

    def statuses(self) -> dict[str, int]:
        """How often the stand-in answered each status since its stats were cleared (every
        `$batch` sub-request counted on its own)."""
        counted: dict[str, int] = self.microsoft.stats()["statuses"]
        return counted

    def new_appointment(self, *, person_id: int) -> None:
        """An appointment of Ingrid's, the day after tomorrow, with `person_id`."""
        start = (timezone.now() + timedelta(days=2)).replace(microsecond=0).isoformat()
        self.sandbox.create_appointment(
            tenant=TENANT, associate_id=1, start=start, person_id=person_id
        )

    def outlook_delete_and_edit(self, *, deleted: int, edited: int) -> dict[int, dict[str, Any]]:
        """Ingrid deletes one contact of ours in Outlook and edits another; return ours as
        they were before."""
        ours = self.mailbox.by_person()
        mailbox = self.directory.ingrid["id"]
        self.microsoft.contact_delete(user=mailbox, contact_id=ours[deleted]["id"])
        self.microsoft.contact_edit(user=mailbox, contact_id=ours[edited]["id"], jobTitle="Edited")
        return ours

    def queued(self, kind: RunKind) -> SyncRun:
        """A run of `kind` requested for Ingrid (as "Sync now" or the schedule does)."""
        run = sync_run_request(linked_user_id=self.ingrid.pk, kind=kind)
        assert run is not None
        return run

    def assert_every_person_once(self, expected: list[int]) -> None:
        in_mailbox = self.mailbox.person_ids()
        assert len(in_mailbox) == len(set(in_mailbox)), "a person has two contacts"
        assert in_mailbox == expected
        assert mapped_person_ids(self.ingrid) == expected
        refs = dict(
            PersonMapping.objects.filter(linked_user=self.ingrid).values_list(
                "person_id", "target_ref"
            )
        )
        assert {pid: c["id"] for pid, c in self.mailbox.by_person().items()} == refs


@pytest.fixture
def scene(
    ingrid_link: LinkedUser,
    connect_ingrid: IngridConnector,
    run_graph: GraphRunner,
    ingrid_mailbox: Mailbox,
    nordlys_directory: Directory,
    microsoft: MicrosoftControl,
    sandbox: SandboxControl,
    read: Reader,
) -> Scene:
    return Scene(
        ingrid=ingrid_link,
        connect=connect_ingrid,
        run=run_graph,
        mailbox=ingrid_mailbox,
        directory=nordlys_directory,
        microsoft=microsoft,
        sandbox=sandbox,
        read=read,
    )


def everyone(named: dict[str, frozenset[int]]) -> list[int]:
    return sorted(frozenset().union(*named.values()))


def only_in(named: dict[str, frozenset[int]], source: str) -> list[int]:
    others = frozenset().union(*(ids for key, ids in named.items() if key != source))
    return sorted(named[source] - others)


def _text(value: str) -> str | None:
    return value.strip() or None


def assert_shows(contact: dict[str, Any], person: PersonRecord, ingrid: LinkedUser) -> None:
    """The contact shows the SuperOffice person with the fields the preferences choose."""
    preferences = effective_preferences_get(linked_user=ingrid)
    assert contact["folder"] == FOLDER
    assert contact["categories"] == [CATEGORY]
    assert mark_of(contact) == contact_uid(context_identifier=TENANT, person_id=person.person_id)
    assert contact["displayName"] == (person.full_name or contact["displayName"])
    assert contact["givenName"] == _text(person.first_name)
    assert contact["middleName"] == _text(person.middle_name)
    assert contact["surname"] == _text(person.last_name)
    assert contact["companyName"] == _text(person.company_name)
    chosen = {
        "jobTitle": (preferences.sync_job_title, person.job_title),
        "title": (preferences.sync_title, person.salutation),
        "department": (preferences.sync_department, person.department),
    }
    for field, (synced, value) in chosen.items():
        assert contact[field] == (_text(value) if synced else None), field
    emails = list(dict.fromkeys(e.strip() for e in person.emails if e.strip()))[:3]
    assert [e["address"] for e in contact["emailAddresses"]] == emails
    mobiles = [n.strip() for n in person.mobile_phones if n.strip()]
    assert contact["mobilePhone"] == (mobiles[0] if mobiles else None)
    assert set(contact["businessPhones"]) <= {n.strip() for n in person.office_phones}
    assert set(contact["homePhones"]) <= {n.strip() for n in person.private_phones}
    if preferences.sync_birthdays and person.birth_date:
        assert contact["birthday"] == f"{person.birth_date.isoformat()}T00:00:00Z"
    else:
        assert contact["birthday"] is None


# --- first run, no writes for nothing, update, delete -------------------------------------------


def test_a_first_run_brings_every_person_into_the_folder_and_quiet_runs_write_nothing(
    scene: Scene,
) -> None:
    named = scene.sources()
    expected = everyone(named)
    assert all(named.values())
    scene.connect()
    scene.microsoft.stats_clear()

    run = scene.run(RunKind.FIRST)

    assert run.status == RunStatus.SUCCEEDED, run.error_text
    assert run.created_count == len(expected)
    scene.assert_every_person_once(expected)
    assert set(scene.mailbox.everything()) == set(scene.mailbox.folder())
    persons = scene.persons(expected)
    for person_id, contact in scene.mailbox.by_person().items():
        assert_shows(contact, persons[person_id], scene.ingrid)
    provenance = dict(
        PersonMapping.objects.filter(linked_user=scene.ingrid).values_list(
            "person_id", "provenance"
        )
    )
    for person_id in expected:
        assert provenance[person_id] == sorted(k for k, ids in named.items() if person_id in ids)
    stats = scene.microsoft.stats()
    assert stats["without_immutable_id"] == 0, stats["recent_without_immutable_id"]
    assert stats["largest_batch"] == 20

    # Nothing changed since: regular runs (the first starts the change feed) and a
    # housekeeping run send no write, and leave every contact as it was.
    before = scene.mailbox.everything()
    scene.microsoft.stats_clear()
    quiet = [scene.run(kind) for kind in (RunKind.REGULAR, RunKind.REGULAR, RunKind.HOUSEKEEPING)]
    for run in quiet:
        assert run.status == RunStatus.SUCCEEDED, run.error_text
        assert run.created_count == run.updated_count == run.deleted_count == 0
        assert run.unchanged_count > 0
    stats = scene.microsoft.stats()
    assert stats["batches"] == 0, "a run sent a $batch (writes or mark reads)"
    assert set(stats["statuses"]) <= {"200"}, stats["statuses"]
    assert scene.mailbox.everything() == before


def test_a_person_changed_in_superoffice_changes_and_one_who_left_leaves_her_mailbox(
    scene: Scene,
) -> None:
    named = scene.sources()
    on_appointment = only_in(named, "appointments")[0]
    in_selection = only_in(named, "selection:1")[0]
    scene.connect()
    scene.run(RunKind.FIRST)
    before = scene.mailbox.by_person()
    for person_id in (on_appointment, in_selection):
        scene.sandbox.edit_person(
            tenant=TENANT, person_id=person_id, title=TITLE, mobilePhone="+47 99"
        )

    # A regular run reads the appointments: their persons are written again.
    regular = scene.run(RunKind.REGULAR)
    after = scene.mailbox.by_person()
    assert regular.status == RunStatus.SUCCEEDED, regular.error_text
    assert (regular.created_count, regular.updated_count, regular.deleted_count) == (0, 1, 0)
    changed = after[on_appointment]
    assert changed["id"] == before[on_appointment]["id"]
    assert changed["changeKey"] != before[on_appointment]["changeKey"]
    assert (changed["jobTitle"], changed["mobilePhone"]) == (TITLE, "+47 99")
    assert after[in_selection] == before[in_selection]

    # Housekeeping reads every source: the selection's person follows.
    housekeeping = scene.run(RunKind.HOUSEKEEPING)
    after = scene.mailbox.by_person()
    assert housekeeping.status == RunStatus.SUCCEEDED, housekeeping.error_text
    assert (housekeeping.created_count, housekeeping.updated_count) == (0, 1)
    assert after[in_selection]["id"] == before[in_selection]["id"]
    assert after[in_selection]["jobTitle"] == TITLE
    persons = scene.persons([on_appointment, in_selection])
    for person_id, person in persons.items():
        assert_shows(after[person_id], person, scene.ingrid)
    scene.assert_every_person_once(everyone(named))

    # A person who left her sources leaves her mailbox at the next housekeeping.
    leaving = only_in(named, "selection:1")[1]
    gone_ref = after[leaving]["id"]
    scene.sandbox.remove_selection_member(
        tenant=TENANT, selection_id=KEY_CUSTOMERS["id"], person_id=leaving
    )
    scene.microsoft.stats_clear()

    run = scene.run(RunKind.HOUSEKEEPING)

    assert run.status == RunStatus.SUCCEEDED, run.error_text
    assert (run.created_count, run.updated_count, run.deleted_count) == (0, 0, 1)
    assert gone_ref not in scene.mailbox.everything()
    assert scene.statuses().get("204") == 1
    scene.assert_every_person_once(sorted(set(everyone(named)) - {leaving}))


# --- foreign contacts ------------------------------------------------------------------------


def test_foreign_contacts_in_and_outside_the_folder_stay_byte_identical(
    scene: Scene,
) -> None:
    named = scene.sources()
    edited, leaving = only_in(named, "selection:1")[:2]
    scene.connect()
    scene.run(RunKind.FIRST)
    ours = scene.mailbox.by_person()
    mailbox = scene.directory.ingrid["id"]
    twin = ours[edited]
    copied_mark = {
        "id": MARK_PROPERTY_ID,
        "value": contact_uid(context_identifier=TENANT, person_id=leaving),
    }
    foreign = [
        # In our folder, looking like one of ours (same name and address), without our mark.
        scene.microsoft.contact_add(
            user=mailbox,
            folder=FOLDER,
            displayName=twin["displayName"],
            givenName=twin["givenName"],
            emailAddresses=twin["emailAddresses"],
            categories=[CATEGORY],
        ),
        # In our folder, the user's own.
        scene.microsoft.contact_add(
            user=mailbox, folder=FOLDER, displayName="Mum", givenName="Mum"
        ),
        # Outside the folder: the user's own, and a copy of ours that kept our mark.
        scene.microsoft.contact_add(user=mailbox, displayName="Dad", givenName="Dad"),
        scene.microsoft.contact_add(
            user=mailbox,
            displayName=ours[leaving]["displayName"],
            singleValueExtendedProperties=[copied_mark],
        ),
    ]
    before = {contact["id"]: scene.mailbox.everything()[contact["id"]] for contact in foreign}
    scene.sandbox.edit_person(tenant=TENANT, person_id=edited, title=TITLE)
    scene.sandbox.remove_selection_member(
        tenant=TENANT, selection_id=KEY_CUSTOMERS["id"], person_id=leaving
    )

    housekeeping = scene.run(RunKind.HOUSEKEEPING)
    regular = scene.run(RunKind.REGULAR)
    PersonMapping.objects.filter(linked_user=scene.ingrid).delete()  # lost state, too
    rebuilt = scene.run(RunKind.HOUSEKEEPING)

    for run in (housekeeping, regular, rebuilt):
        assert run.status == RunStatus.SUCCEEDED, run.error_text
    assert (housekeeping.updated_count, housekeeping.deleted_count) == (1, 1)
    everything = scene.mailbox.everything()
    assert {ref: everything[ref] for ref in before} == before
    assert scene.mailbox.by_person()[edited]["jobTitle"] == TITLE
    scene.assert_every_person_once(sorted(set(everyone(named)) - {leaving}))


# --- a killed worker, a lost mapping ----------------------------------------------------------


@pytest.mark.parametrize("resumed_as", [RunKind.FIRST, RunKind.REGULAR])
def test_a_worker_killed_after_the_mailbox_stored_a_batch_leaves_one_contact_each(
    resumed_as: RunKind,
    scene: Scene,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The worker dies once the stand-in has stored a whole group of creates (four
    `$batch`es), before the engine recorded any of them."""
    expected = everyone(scene.sources(LEADS["id"]))
    assert len(expected) > GraphTarget.batch_size, "two groups: one lands, one never starts"
    write_many = GraphTarget.write_many

    def write_then_die(self: GraphTarget, writes: Sequence[Write]) -> list[WriteOutcome]:
        write_many(self, writes)
        if any(isinstance(write, Create) for write in writes):
            raise WorkerKilled
        raise AssertionError("only creates are written before the kill")

    scene.connect([LEADS])
    monkeypatch.setattr(GraphTarget, "write_many", write_then_die)
    with pytest.raises(WorkerKilled):
        scene.run(RunKind.FIRST)
    monkeypatch.setattr(GraphTarget, "write_many", write_many)
    landed = scene.mailbox.person_ids()
    assert len(landed) == GraphTarget.batch_size
    pending = PersonMapping.objects.filter(linked_user=scene.ingrid, target_ref="")
    assert sorted(pending.values_list("person_id", flat=True)) == landed, "written ahead"
    scene.microsoft.stats_clear()

    run = scene.run(resumed_as)

    assert run.status == RunStatus.SUCCEEDED, run.error_text
    in_mailbox = scene.mailbox.person_ids()
    assert len(in_mailbox) == len(set(in_mailbox)), "a person has two contacts"
    assert set(landed) <= set(in_mailbox)
    # Only persons whose create never reached the mailbox were created.
    assert run.created_count == len(set(in_mailbox) - set(landed))
    assert scene.statuses().get("201", 0) == run.created_count
    if resumed_as == RunKind.REGULAR:
        # A regular run reads the appointments only: housekeeping brings in the rest.
        assert scene.run(RunKind.HOUSEKEEPING).status == RunStatus.SUCCEEDED
    scene.assert_every_person_once(expected)
    assert not PersonMapping.objects.filter(linked_user=scene.ingrid, target_ref="").exists()


def test_a_lost_mapping_is_rebuilt_from_the_marks_without_a_create(
    scene: Scene,
) -> None:
    named = scene.sources()
    expected = everyone(named)
    scene.connect()
    scene.run(RunKind.FIRST)
    refs = {pid: c["id"] for pid, c in scene.mailbox.by_person().items()}
    PersonMapping.objects.filter(linked_user=scene.ingrid).delete()
    scene.microsoft.stats_clear()

    run = scene.run(RunKind.REGULAR)

    assert run.status == RunStatus.SUCCEEDED, run.error_text
    assert run.created_count == 0
    assert run.healed["taken_back"] == len(expected)
    assert "201" not in scene.statuses()
    assert {pid: c["id"] for pid, c in scene.mailbox.by_person().items()} == refs
    scene.assert_every_person_once(expected)
    # Housekeeping rewrites, once, those the regular run did not read; then all is quiet.
    housekeeping = scene.run(RunKind.HOUSEKEEPING)
    assert (housekeeping.created_count, housekeeping.deleted_count) == (0, 0)
    assert housekeeping.updated_count == len(only_in(named, "selection:1"))
    quiet = scene.run(RunKind.HOUSEKEEPING)
    assert quiet.created_count == quiet.updated_count == quiet.deleted_count == 0
    assert "201" not in scene.statuses()
    assert {pid: c["id"] for pid, c in scene.mailbox.by_person().items()} == refs


# --- throttling ------------------------------------------------------------------------------


@pytest.mark.parametrize("throttled_by", ["fault", "budget"])
def test_sub_requests_throttled_inside_a_batch_are_sent_again_and_land_once(
    throttled_by: str,
    scene: Scene,
) -> None:
    """429 inside the batch's 200: by an injected fault, or because the mailbox's window
    in Microsoft is smaller than our budget thinks (another app spends it too)."""
    expected = everyone(scene.sources())
    scene.connect()
    if throttled_by == "fault":
        scene.microsoft.fault_add(
            path_contains="/contacts", method="POST", status=429, times=6, retry_after=1
        )
    else:
        scene.microsoft.throttling_set(budget=30, window_seconds=1)
    scene.microsoft.stats_clear()

    run = scene.run(RunKind.FIRST)

    assert run.status == RunStatus.SUCCEEDED, run.error_text
    assert run.failed_count == 0
    assert run.created_count == len(expected)
    counted = scene.statuses()
    assert counted.get("429", 0) >= (6 if throttled_by == "fault" else 1)
    assert counted.get("201") == len(expected) + 1  # and the folder
    scene.assert_every_person_once(expected)


def test_a_first_run_of_many_persons_keeps_within_four_requests_in_flight(
    scene: Scene,
) -> None:
    expected = everyone(scene.sources(LEADS["id"]))
    scene.connect([LEADS])
    scene.microsoft.throttling_set(concurrency=4)
    scene.microsoft.fault_add(path_contains="$batch", latency_ms=150)  # batches overlap
    scene.microsoft.stats_clear()

    run = scene.run(RunKind.FIRST)

    assert run.status == RunStatus.SUCCEEDED, run.error_text
    usage = scene.mailbox.usage()
    assert 2 <= usage["max_concurrent"] <= 4
    assert usage["throttled"] == 0
    assert "429" not in scene.statuses()
    scene.assert_every_person_once(expected)


# --- the change feed -------------------------------------------------------------------------


def test_an_expired_delta_token_is_started_again_and_the_feed_heals_afterwards(
    scene: Scene,
) -> None:
    named = scene.sources()
    scene.connect()
    scene.run(RunKind.FIRST)
    assert scene.run(RunKind.REGULAR).status == RunStatus.SUCCEEDED  # the feed's start
    expired = TargetAccount.objects.get(linked_user=scene.ingrid).change_cursor
    assert expired

    scene.microsoft.delta_expire()
    scene.new_appointment(person_id=5101)
    after_expiry = scene.run(RunKind.REGULAR)

    assert after_expiry.status == RunStatus.SUCCEEDED, after_expiry.error_text
    assert (after_expiry.created_count, after_expiry.updated_count) == (1, 0)
    cursor = TargetAccount.objects.get(linked_user=scene.ingrid).change_cursor
    assert cursor
    assert cursor != expired
    expected = sorted({*everyone(named), 5101})
    scene.assert_every_person_once(expected)

    # A delete and an edit in Outlook after the new start: the next regular run heals them.
    deleted, edited = only_in(named, "appointments")[:2]
    ours = scene.outlook_delete_and_edit(deleted=deleted, edited=edited)

    healed = scene.run(RunKind.REGULAR)

    assert healed.status == RunStatus.SUCCEEDED, healed.error_text
    assert healed.healed == {"recreated": 1, "overwritten": 1}
    assert (healed.created_count, healed.updated_count) == (1, 1)
    now = scene.mailbox.by_person()
    assert now[edited]["id"] == ours[edited]["id"]
    assert now[edited]["jobTitle"] == ours[edited]["jobTitle"]
    assert now[deleted]["id"] != ours[deleted]["id"]
    scene.assert_every_person_once(expected)


def test_the_feed_heals_outlook_changes_to_persons_of_a_selection_at_the_next_regular_run(
    scene: Scene,
) -> None:
    """healing.py: "ours are rewritten or re-created at once, instead of at the next
    housekeeping" — also for a person a regular run does not read (a selection's)."""
    named = scene.sources()
    scene.connect()
    scene.run(RunKind.FIRST)
    scene.run(RunKind.REGULAR)  # the feed's start
    deleted, edited = only_in(named, "selection:1")[:2]
    ours = scene.outlook_delete_and_edit(deleted=deleted, edited=edited)

    healed = scene.run(RunKind.REGULAR)

    assert healed.status == RunStatus.SUCCEEDED, healed.error_text
    now = scene.mailbox.by_person()
    assert now[edited]["jobTitle"] == ours[edited]["jobTitle"]
    assert deleted in now
    scene.assert_every_person_once(everyone(named))


# --- consent -----------------------------------------------------------------------------


def revoke_and_run(scene: Scene, *, leaving: int) -> SyncRun:
    """Work for a run to do (a new person, one who left), the consent revoked, the run."""
    scene.sandbox.remove_selection_member(
        tenant=TENANT, selection_id=KEY_CUSTOMERS["id"], person_id=leaving
    )
    scene.new_appointment(person_id=5101)
    scene.microsoft.consent_set(directory_id=scene.directory.directory_id, granted=False)
    return sync_run_perform(run_id=scene.queued(RunKind.HOUSEKEEPING).pk)


@pytest.mark.parametrize(
    "token",
    [
        "cached",
        "fetched",
    ],
)
def test_revoked_consent_fails_the_run_in_words_and_deletes_nothing(
    token: str,
    scene: Scene,
) -> None:
    """`cached`: the worker holds an app token from before the revocation (Microsoft's
    tokens live an hour, and Graph refuses them with 403 once consent is gone). `fetched`:
    tokens are short-lived, so the run asks for one and the token endpoint refuses it."""
    named = scene.sources()
    if token == "fetched":
        scene.microsoft.token_lifetime_set(seconds=60)  # MSAL never reuses so short a token
    scene.connect()
    scene.run(RunKind.FIRST)
    before = scene.mailbox.everything()
    rows = mapped_person_ids(scene.ingrid)

    refused = revoke_and_run(scene, leaving=only_in(named, "selection:1")[0])

    assert refused.status == RunStatus.FAILED
    assert "An administrator of the Microsoft 365 organisation must grant consent again" in (
        refused.error_text
    )
    connection = MicrosoftConnection.objects.get(profile=scene.ingrid.profile)
    assert "must grant consent again on the profile page" in connection.failure
    assert connection.failed_at is not None
    assert scene.mailbox.everything() == before
    assert mapped_person_ids(scene.ingrid) == rows
    # Until then her runs wait, saying why.
    waiting = scene.queued(RunKind.REGULAR)
    skipped = sync_run_perform(run_id=waiting.pk)
    assert skipped.status == RunStatus.SKIPPED
    assert "An administrator connects it again on the profile page" in skipped.error_text


def test_consent_granted_again_lets_the_next_run_succeed(
    scene: Scene,
    ingrid: User,
) -> None:
    named = scene.sources()
    leaving = only_in(named, "selection:1")[0]
    scene.microsoft.token_lifetime_set(seconds=60)  # each run asks the token endpoint
    scene.connect()
    scene.run(RunKind.FIRST)
    refused = revoke_and_run(scene, leaving=leaving)
    assert refused.status == RunStatus.FAILED

    # The administrator grants consent again: Microsoft's page, then our callback.
    scene.microsoft.consent_set(directory_id=scene.directory.directory_id, granted=True)
    organisation_consent_finish(
        profile=scene.ingrid.profile,
        user=ingrid,
        query=consent_answer(scene.directory),
        expected_state=CONSENT_STATE,
    )
    assert MicrosoftConnection.objects.get(profile=scene.ingrid.profile).failure == ""
    again = scene.queued(RunKind.HOUSEKEEPING)
    done = sync_run_perform(run_id=again.pk)

    assert done.status == RunStatus.SUCCEEDED, done.error_text
    assert (done.created_count, done.deleted_count) == (1, 1)
    assert MicrosoftConnection.objects.get(profile=scene.ingrid.profile).failure == ""
    scene.assert_every_person_once(sorted({*everyone(named), 5101} - {leaving}))


# --- through a real worker ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_runs_through_a_real_worker_into_the_stand_in(
    graph_worker: WorkerProcess,
    scene: Scene,
) -> None:
    named = scene.sources()
    on_appointment = only_in(named, "appointments")[0]

    # Connecting the organisation queues the first run, which the worker picks up.
    scene.connect()
    first = finished(SyncRun.objects.get(linked_user=scene.ingrid).pk, worker=graph_worker)
    assert first.kind == RunKind.FIRST
    assert first.status == RunStatus.SUCCEEDED, first.error_text
    assert first.created_count == len(everyone(named))
    scene.assert_every_person_once(everyone(named))

    # Sync now: a changed person and a new one on an appointment; the feed starts.
    scene.sandbox.edit_person(tenant=TENANT, person_id=on_appointment, title=TITLE)
    scene.new_appointment(person_id=5101)
    regular = scene.queued(RunKind.REGULAR)
    done = finished(regular.pk, worker=graph_worker)
    assert done.status == RunStatus.SUCCEEDED, done.error_text
    assert (done.created_count, done.updated_count) == (1, 1)
    assert scene.mailbox.by_person()[on_appointment]["jobTitle"] == TITLE
    assert TargetAccount.objects.get(linked_user=scene.ingrid).change_cursor

    # A contact deleted in Outlook is back after the next regular run.
    expected = sorted({*everyone(named), 5101})
    removed = scene.mailbox.by_person()[expected[0]]["id"]
    scene.microsoft.contact_delete(user=scene.directory.ingrid["id"], contact_id=removed)
    healing = scene.queued(RunKind.REGULAR)
    healed = finished(healing.pk, worker=graph_worker)
    assert healed.status == RunStatus.SUCCEEDED, healed.error_text
    scene.assert_every_person_once(expected)
