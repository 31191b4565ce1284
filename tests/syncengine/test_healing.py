"""Drift between our mapping and the mailbox is healed (DESIGN §8, "Converge on the real
state"): cards deleted or edited in the mailbox, cards that lost our mark, cards whose
mapping rows were lost. Each case runs the engine against the live sandbox into the
recording target and into a real Radicale address book.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import pytest
import vobject
from django.urls import reverse
from django.utils import timezone

from preferences.services import person_sync_preferences_update
from profiles.models import LinkedUser
from sandbox.testing import SandboxControl
from syncengine.healing import _same_version
from syncengine.models import PersonMapping, RunKind, RunStatus, SyncRun
from syncengine.rendering import contact_uid
from syncengine.services import sync_run_execute, sync_window_for
from syncengine.superoffice import reads, selections
from syncengine.superoffice.client import superoffice_client_for_linked_user
from syncengine.targets.base import Target
from syncengine.targets.carddav import CardDAVTarget
from syncengine.targets.memory import RecordingTarget
from tests.plugins.radicale import AddressBook, RadicaleHelper
from tests.syncengine.cards import card
from tests.syncengine.conftest import Runner
from tests.syncengine.test_services import KEY_CUSTOMERS, TENANT

PERSON_MARK = re.compile(r"^X-SUPEROFFICE-PERSONID:(\d+)\r?\n", re.MULTILINE)
OUR_UID = re.compile(r"^UID:superoffice-cust10001-person-(\d+)\r?$", re.MULTILINE)
FOREIGN = (
    "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:someone-else\r\nFN:Someone Else\r\n"
    "N:Else;Someone;;;\r\nX-SUPEROFFICE-PERSONID:7\r\nEND:VCARD\r\n"
)


class Mailbox(Protocol):
    """One address book as its user sees it, and the target our engine writes with."""

    def target(self) -> Target: ...
    def ref_of(self, person_id: int) -> str: ...
    def ours(self) -> list[int]: ...
    def name_of(self, person_id: int) -> str: ...
    def remove(self, person_id: int) -> None: ...
    def edit(self, person_id: int, *, keep_mark: bool = True) -> None: ...
    def put_foreign(self) -> Callable[[], bool]: ...
    def requests(self) -> list[str]: ...


def _place(recording: RecordingTarget, person_id: int) -> str:
    """The deterministic place of a person's card in the recording target."""
    ref = recording.ref_for(_uid(person_id))
    assert ref is not None
    return ref


def _uid(person_id: int) -> str:
    return contact_uid(context_identifier=TENANT, person_id=person_id)


@dataclass
class InMemory:
    recording: RecordingTarget = field(default_factory=RecordingTarget)
    reads_seen: int = 0
    writes_seen: int = 0

    def target(self) -> Target:
        return self.recording

    def ref_of(self, person_id: int) -> str:
        return _place(self.recording, person_id)

    def ours(self) -> list[int]:
        return sorted(s.card.person_id for s in self.recording.contacts.values() if s.marked)

    def name_of(self, person_id: int) -> str:
        return self.recording.contacts[self.ref_of(person_id)].card.display_name

    def remove(self, person_id: int) -> None:
        self.recording.mailbox_remove(self.ref_of(person_id))

    def edit(self, person_id: int, *, keep_mark: bool = True) -> None:
        self.recording.mailbox_edit(self.ref_of(person_id), keep_mark=keep_mark)

    def put_foreign(self) -> Callable[[], bool]:
        ref, foreign = "/contacts/someone-else.vcf", card(7, name="Someone Else")
        self.recording.mailbox_put(ref, foreign, marked=False)
        stored = self.recording.contacts[ref]
        return lambda: self.recording.contacts.get(ref) == stored

    def requests(self) -> list[str]:
        """Requests since the last call: reads, then writes."""
        reads, writes = self.recording.reads, [op for op, _ in self.recording.calls]
        new = reads[self.reads_seen :] + writes[self.writes_seen :]
        self.reads_seen, self.writes_seen = len(reads), len(writes)
        return new


@dataclass
class OnRadicale:
    book: AddressBook
    sent: list[str] = field(default_factory=list)

    def target(self) -> Target:
        # A fresh target per run, as a worker opens one.
        target = CardDAVTarget(
            collection_url=self.book.url, username=self.book.username, password=self.book.password
        )
        target.session.hooks["response"].append(
            lambda response, *args, **kwargs: self.sent.append(response.request.method)
        )
        return target

    def ref_of(self, person_id: int) -> str:
        return CardDAVTarget(collection_url=self.book.url, username="", password="").ref_for(
            _uid(person_id)
        )

    def ours(self) -> list[int]:
        """Persons with our card: our UID and our mark (a duplicate would repeat)."""
        return sorted(
            int(mark[0])
            for text in self.book.cards().values()
            if (mark := PERSON_MARK.findall(text)) and OUR_UID.findall(text) == mark
        )

    def name_of(self, person_id: int) -> str:
        return str(vobject.readOne(self.book.read(self.ref_of(person_id))[0]).fn.value)

    def remove(self, person_id: int) -> None:
        self.book.remove(self.ref_of(person_id))

    def edit(self, person_id: int, *, keep_mark: bool = True) -> None:
        ref = self.ref_of(person_id)
        text, etag = self.book.read(ref)
        text = re.sub(r"^FN:.*$", "FN:Edited in the mailbox\r", text, flags=re.MULTILINE)
        if not keep_mark:
            text = PERSON_MARK.sub("", text)
        self.book.put(ref, text, etag=etag)

    def put_foreign(self) -> Callable[[], bool]:
        etag = self.book.put("someone-else.vcf", FOREIGN)
        return lambda: self.book.read("someone-else.vcf") == (FOREIGN, etag)

    def requests(self) -> list[str]:
        new, self.sent[:] = list(self.sent), []
        return new


@pytest.fixture(params=["memory", "radicale"])
def mailbox(request: pytest.FixtureRequest) -> Iterator[Mailbox]:
    if request.param == "memory":
        yield InMemory()
    else:
        radicale: RadicaleHelper = request.getfixturevalue("radicale")
        yield OnRadicale(book=radicale.new_mailbox("healing"))


@pytest.fixture
def run_sync(ingrid_link: LinkedUser, mailbox: Mailbox) -> Runner:
    """Run the engine once for Ingrid, as a worker would."""

    def run(kind: RunKind) -> SyncRun:
        sync_run = SyncRun.objects.create(linked_user=ingrid_link, kind=kind)
        ingrid_link.refresh_from_db()
        target = mailbox.target()
        try:
            with superoffice_client_for_linked_user(linked_user=ingrid_link) as client:
                return sync_run_execute(run=sync_run, client=client, target=target)
        finally:
            target.close()

    return run


def _members(ingrid: LinkedUser, source: str) -> frozenset[int]:
    with superoffice_client_for_linked_user(linked_user=ingrid) as client:
        if source == "appointments":
            window = sync_window_for(linked_user=ingrid, now=timezone.now())
            return reads.appointment_person_ids(client=client, associate_id=1, window=window)
        return frozenset(selections.selection_members(client=client, selection_id=1))


@pytest.fixture
def customers(ingrid_link: LinkedUser, run_sync: Runner) -> list[int]:
    """Ingrid syncs one selection and nothing else (no appointments in her window); her
    first run has written its 25 persons."""
    profile = ingrid_link.profile
    profile.sync_window_days_back = profile.sync_window_days_ahead = 0
    profile.save()
    person_sync_preferences_update(
        linked_user=ingrid_link, changes={"static_selections": [KEY_CUSTOMERS]}
    )
    first = run_sync(RunKind.FIRST)
    assert first.status == RunStatus.SUCCEEDED, first.error_text
    return sorted(_members(ingrid_link, "selection"))


def _mapped(ingrid: LinkedUser) -> list[int]:
    return sorted(
        PersonMapping.objects.filter(linked_user=ingrid).values_list("person_id", flat=True)
    )


def _leave(sandbox: SandboxControl, *person_ids: int) -> None:
    for person_id in person_ids:
        sandbox.remove_selection_member(tenant=TENANT, selection_id=1, person_id=person_id)


# --- cost -----------------------------------------------------------------------------------


def test_housekeeping_over_an_unchanged_book_costs_one_listing_request(
    customers: list[int], run_sync: Runner, mailbox: Mailbox
) -> None:
    mailbox.requests()

    run = run_sync(RunKind.HOUSEKEEPING)

    assert run.status == RunStatus.SUCCEEDED, run.error_text
    assert mailbox.requests() in (["listing"], ["PROPFIND"])
    assert run.healed == {}
    assert run.unchanged_count == len(customers)


@pytest.mark.parametrize(
    ("listed", "stored", "same"),
    [
        ('"abc"', '"abc"', True),
        ("abc", '"abc"', True),  # quoted in a write's answer, bare in the listing
        ('W/"abc"', '"abc"', True),
        ('"abd"', '"abc"', False),
        ("", '"abc"', False),
    ],
)
def test_etags_that_differ_only_in_quoting_are_one_version(
    listed: str, stored: str, same: bool
) -> None:
    assert _same_version(listed, stored) is same


# --- drift in the mailbox -------------------------------------------------------------------


def test_a_card_deleted_in_the_mailbox_is_created_again(
    customers: list[int], run_sync: Runner, mailbox: Mailbox
) -> None:
    gone = customers[3]
    mailbox.remove(gone)
    mailbox.requests()

    run = run_sync(RunKind.HOUSEKEEPING)

    assert run.status == RunStatus.SUCCEEDED, run.error_text
    assert mailbox.ours() == customers
    assert run.healed == {"recreated": 1}
    assert run.created_count == 1
    # The listing, the collection's vCard versions (read once, before a first write), a PUT.
    assert mailbox.requests() in (["listing", "create"], ["PROPFIND", "PROPFIND", "PUT"])


def test_a_card_edited_in_the_mailbox_is_overwritten_with_the_crm_version(
    customers: list[int], run_sync: Runner, mailbox: Mailbox
) -> None:
    edited = customers[0]
    crm_name = mailbox.name_of(edited)
    mailbox.edit(edited)
    assert mailbox.name_of(edited) != crm_name

    run = run_sync(RunKind.HOUSEKEEPING)

    assert run.status == RunStatus.SUCCEEDED, run.error_text
    assert mailbox.name_of(edited) == crm_name
    assert run.healed == {"overwritten": 1}
    assert mailbox.ours() == customers
    assert run_sync(RunKind.HOUSEKEEPING).healed == {}


def test_a_card_that_lost_our_mark_at_our_place_is_adopted_not_failed(
    customers: list[int],
    run_sync: Runner,
    mailbox: Mailbox,
    sandbox: SandboxControl,
) -> None:
    rewritten = customers[1]
    mailbox.edit(rewritten, keep_mark=False)
    edited = mailbox.name_of(rewritten)
    # The CRM changed too: writing the person used to fail on the card without our mark.
    sandbox.edit_person(tenant=TENANT, person_id=rewritten, title="Chief Synchroniser")

    run = run_sync(RunKind.HOUSEKEEPING)

    assert run.status == RunStatus.SUCCEEDED, run.error_text
    assert run.failed_count == 0
    assert mailbox.ours() == customers  # carries our mark again
    assert mailbox.name_of(rewritten) != edited
    assert run.healed == {"adopted": 1}
    again = run_sync(RunKind.HOUSEKEEPING)
    assert (again.status, again.healed, again.updated_count) == (RunStatus.SUCCEEDED, {}, 0)


def test_a_card_without_our_mark_whose_person_left_is_left_and_reported(
    ingrid_link: LinkedUser,
    customers: list[int],
    run_sync: Runner,
    mailbox: Mailbox,
    sandbox: SandboxControl,
) -> None:
    taken_over = customers[2]
    mailbox.edit(taken_over, keep_mark=False)
    edited = mailbox.name_of(taken_over)
    _leave(sandbox, taken_over)

    run = run_sync(RunKind.HOUSEKEEPING)

    assert run.status == RunStatus.SUCCEEDED, run.error_text
    assert mailbox.name_of(taken_over) == edited  # still there, as it was
    assert taken_over not in mailbox.ours()
    assert taken_over not in _mapped(ingrid_link)
    [note] = run.healed["notes"]
    assert f"Person {taken_over}:" in note
    assert "no longer carries Synchronizer's mark" in note
    # Reported, never an endless failure.
    again = run_sync(RunKind.HOUSEKEEPING)
    assert again.status == RunStatus.SUCCEEDED, again.error_text
    assert mailbox.name_of(taken_over) == edited


def test_foreign_cards_are_never_touched(
    customers: list[int], run_sync: Runner, mailbox: Mailbox, sandbox: SandboxControl
) -> None:
    untouched = mailbox.put_foreign()
    mailbox.remove(customers[0])
    mailbox.edit(customers[1])
    _leave(sandbox, customers[2])

    run = run_sync(RunKind.HOUSEKEEPING)

    assert run.status == RunStatus.SUCCEEDED, run.error_text
    assert untouched()
    assert mailbox.ours() == [p for p in customers if p != customers[2]]


# --- lost mapping state (the mapping is a cache, the mailbox the truth) --------------------


def test_after_a_partial_loss_a_person_who_leaves_is_deleted(
    ingrid_link: LinkedUser,
    customers: list[int],
    run_sync: Runner,
    mailbox: Mailbox,
    sandbox: SandboxControl,
) -> None:
    lost = customers[:3]
    PersonMapping.objects.filter(linked_user=ingrid_link, person_id__in=lost).delete()
    _leave(sandbox, lost[0])

    run = run_sync(RunKind.HOUSEKEEPING)

    assert run.status == RunStatus.SUCCEEDED, run.error_text
    assert mailbox.ours() == customers[1:]
    assert _mapped(ingrid_link) == customers[1:]
    assert run.healed == {"strays_deleted": 1, "taken_back": 2}
    assert run.created_count == 0


def test_a_regular_run_before_housekeeping_after_a_wipe_still_lets_leavers_go(
    ingrid_link: LinkedUser,
    run_sync: Runner,
    mailbox: Mailbox,
    sandbox: SandboxControl,
) -> None:
    person_sync_preferences_update(
        linked_user=ingrid_link, changes={"static_selections": [KEY_CUSTOMERS]}
    )
    run_sync(RunKind.FIRST)
    appointments = _members(ingrid_link, "appointments")
    selected = _members(ingrid_link, "selection")
    assert appointments
    assert selected - appointments
    leaving = min(selected - appointments)
    PersonMapping.objects.filter(linked_user=ingrid_link).delete()

    regular = run_sync(RunKind.REGULAR)
    _leave(sandbox, leaving)
    housekeeping = run_sync(RunKind.HOUSEKEEPING)

    assert regular.status == housekeeping.status == RunStatus.SUCCEEDED
    assert regular.deleted_count == 0  # a regular run reads no selection: it keeps them
    assert housekeeping.deleted_count == 1
    assert mailbox.ours() == sorted((appointments | selected) - {leaving})


def test_the_guard_holds_deleting_many_strays_after_a_wipe(
    ingrid_link: LinkedUser,
    customers: list[int],
    run_sync: Runner,
    mailbox: Mailbox,
    sandbox: SandboxControl,
) -> None:
    profile = ingrid_link.profile
    profile.mass_delete_max_count = 10
    profile.save()
    PersonMapping.objects.filter(linked_user=ingrid_link).delete()
    leaving = customers[:15]  # 60 % and more than 10
    _leave(sandbox, *leaving)

    run = run_sync(RunKind.HOUSEKEEPING)

    assert run.status == RunStatus.NEEDS_CONFIRMATION
    assert sorted(run.held_deletions) == leaving
    assert mailbox.ours() == customers
    assert run.healed == {"strays_held": 15, "taken_back": 10}


def test_a_wipe_never_deletes_what_a_source_that_failed_still_wants(
    ingrid_link: LinkedUser,
    customers: list[int],
    run_sync: Runner,
    mailbox: Mailbox,
    sandbox: SandboxControl,
) -> None:
    PersonMapping.objects.filter(linked_user=ingrid_link).delete()
    sandbox.set_selection_type(tenant=TENANT, selection_id=1, selection_type="Dynamic")

    run = run_sync(RunKind.HOUSEKEEPING)

    assert run.status == RunStatus.PARTIAL
    assert run.deleted_count == 0
    assert mailbox.ours() == customers
    assert _mapped(ingrid_link) == customers


def test_our_own_card_is_preferred_over_a_copy_that_kept_our_mark(
    ingrid_link: LinkedUser, sandbox: SandboxControl
) -> None:
    """A mailbox that lets a client copy our card, UID and all, to another href (Radicale
    refuses a second card with one UID, so this one is the recording target)."""
    recording = RecordingTarget()

    def run(kind: RunKind) -> SyncRun:
        sync_run = SyncRun.objects.create(linked_user=ingrid_link, kind=kind)
        with superoffice_client_for_linked_user(linked_user=ingrid_link) as client:
            return sync_run_execute(run=sync_run, client=client, target=recording)

    profile = ingrid_link.profile
    profile.sync_window_days_back = profile.sync_window_days_ahead = 0
    profile.save()
    person_sync_preferences_update(
        linked_user=ingrid_link, changes={"static_selections": [KEY_CUSTOMERS]}
    )
    run(RunKind.FIRST)
    leaving = min(_members(ingrid_link, "selection"))
    own_ref = _place(recording, leaving)
    recording.mailbox_put("/contacts/copy.vcf", replace(recording.contacts[own_ref].card))
    PersonMapping.objects.filter(linked_user=ingrid_link).delete()
    _leave(sandbox, leaving)

    housekeeping = run(RunKind.HOUSEKEEPING)

    assert housekeeping.status == RunStatus.SUCCEEDED, housekeeping.error_text
    assert own_ref not in recording.contacts  # ours was deleted...
    assert "/contacts/copy.vcf" in recording.contacts  # ...the copy is someone else's
    [note] = housekeeping.healed["notes"]
    assert "/contacts/copy.vcf" in note


def test_a_mapping_that_points_at_a_copy_moves_to_our_own_card(
    ingrid_link: LinkedUser, sandbox: SandboxControl
) -> None:
    """State left by an earlier rebuild that took the copy: our own card wins, and is the
    one deleted when its person leaves."""
    recording = RecordingTarget()

    def run(kind: RunKind) -> SyncRun:
        sync_run = SyncRun.objects.create(linked_user=ingrid_link, kind=kind)
        with superoffice_client_for_linked_user(linked_user=ingrid_link) as client:
            return sync_run_execute(run=sync_run, client=client, target=recording)

    profile = ingrid_link.profile
    profile.sync_window_days_back = profile.sync_window_days_ahead = 0
    profile.save()
    person_sync_preferences_update(
        linked_user=ingrid_link, changes={"static_selections": [KEY_CUSTOMERS]}
    )
    run(RunKind.FIRST)
    leaving = min(_members(ingrid_link, "selection"))
    own_ref = _place(recording, leaving)
    recording.mailbox_put("/contacts/copy.vcf", replace(recording.contacts[own_ref].card))
    PersonMapping.objects.filter(linked_user=ingrid_link, person_id=leaving).update(
        target_ref="/contacts/copy.vcf", etag=recording.contacts["/contacts/copy.vcf"].etag
    )
    _leave(sandbox, leaving)

    housekeeping = run(RunKind.HOUSEKEEPING)

    assert housekeeping.status == RunStatus.SUCCEEDED, housekeeping.error_text
    assert own_ref not in recording.contacts
    assert "/contacts/copy.vcf" in recording.contacts
    [note] = housekeeping.healed["notes"]
    assert "a copy carrying Synchronizer's mark at /contacts/copy.vcf was left" in note


def test_what_a_run_healed_shows_on_its_page(
    ingrid_link: LinkedUser, customers: list[int], run_sync: Runner, mailbox: Mailbox, client: Any
) -> None:
    mailbox.remove(customers[0])
    mailbox.edit(customers[1])
    run = run_sync(RunKind.HOUSEKEEPING)
    client.force_login(ingrid_link.user)

    page = client.get(reverse("syncengine:run", args=[run.code]))

    assert page.status_code == 200, page.status_code
    text = re.sub(r"\s+", " ", page.content.decode())
    assert "1 deleted in the mailbox re-created" in text
    assert "1 edited in the mailbox overwritten" in text
