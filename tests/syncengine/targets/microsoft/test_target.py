"""The Microsoft 365 target against the stand-in: writes, safety, batching, throttling,
lost answers and the change feed."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from sandbox.microsoft.testing import MicrosoftControl
from syncengine.targets.base import (
    ContactExists,
    ContactGone,
    Create,
    Delete,
    TargetError,
    Update,
    WrittenContact,
)
from syncengine.targets.microsoft.contacts import MARK_PROPERTY_ID
from syncengine.targets.microsoft.target import GraphTarget
from tests.syncengine.targets.microsoft.conftest import (
    FOLDER,
    CardFactory,
    MailboxReader,
    Organisation,
)


def test_create_update_delete(
    target: GraphTarget, make_card: CardFactory, mailbox: MailboxReader
) -> None:
    written = target.create(card=make_card(1))
    stored = mailbox()[written.ref]
    assert stored["folder"] == FOLDER
    assert stored["categories"] == ["SuperOffice Person"]
    assert stored["singleValueExtendedProperties"] == [
        {"id": MARK_PROPERTY_ID, "value": "superoffice-cust100-person-1"}
    ]
    assert stored["jobTitle"] == "Buyer"

    updated = target.update(
        ref=written.ref, etag=written.etag, card=make_card(1, job_title="", emails=())
    )
    stored = mailbox()[written.ref]
    assert updated.etag != written.etag
    assert stored["jobTitle"] is None
    assert stored["emailAddresses"] == []

    target.delete(ref=written.ref, etag=updated.etag, uid="superoffice-cust100-person-1")
    assert written.ref not in mailbox()
    with pytest.raises(ContactGone):
        target.delete(ref=written.ref, etag=updated.etag, uid="superoffice-cust100-person-1")


def test_an_edit_in_outlook_is_overwritten_crm_wins(
    target: GraphTarget,
    make_card: CardFactory,
    microsoft: MicrosoftControl,
    organisation: Organisation,
    mailbox: MailboxReader,
) -> None:
    written = target.create(card=make_card(1))
    microsoft.contact_edit(user=organisation.mailbox, contact_id=written.ref, jobTitle="Edited")

    updated = target.update(ref=written.ref, etag=written.etag, card=make_card(1))

    assert mailbox()[written.ref]["jobTitle"] == "Buyer"
    assert updated.ref == written.ref


def test_foreign_contacts_are_never_changed(
    target: GraphTarget,
    make_card: CardFactory,
    microsoft: MicrosoftControl,
    organisation: Organisation,
    mailbox: MailboxReader,
) -> None:
    ours = target.create(card=make_card(1))
    foreign = microsoft.contact_add(
        user=organisation.mailbox, folder=FOLDER, displayName="Mum", givenName="Mum"
    )
    elsewhere = microsoft.contact_add(user=organisation.mailbox, displayName="Dad")

    listed = target.listing()
    assert set(listed) == {ours.ref, foreign["id"]}  # the folder only
    assert [own.ref for own in target.list_own()] == [ours.ref]
    assert target.marks([ours.ref, foreign["id"]])[foreign["id"]] is None

    with pytest.raises(TargetError, match="no longer carries Synchronizer's mark"):
        target.update(ref=foreign["id"], etag='W/"stale"', card=make_card(2))
    with pytest.raises(ContactGone, match="left untouched"):
        target.delete(ref=foreign["id"], etag='W/"stale"', uid="superoffice-cust100-person-2")
    with pytest.raises(ContactGone):  # outside our folder: not even there for us
        target.delete(ref=elsewhere["id"], etag="", uid="superoffice-cust100-person-3")

    stored = mailbox()
    assert stored[foreign["id"]]["displayName"] == "Mum"
    assert stored[elsewhere["id"]]["displayName"] == "Dad"


def test_a_throttled_sub_request_is_sent_again_alone(
    target: GraphTarget, make_card: CardFactory, microsoft: MicrosoftControl, mailbox: MailboxReader
) -> None:
    target.listing()  # the folder exists before the faults
    microsoft.stats_clear()
    microsoft.fault_add(
        path_contains="/contacts", method="POST", status=429, times=1, retry_after=1
    )

    outcomes = target.write_many([Create(card=make_card(n)) for n in range(1, 6)])

    assert all(isinstance(outcome, WrittenContact) for outcome in outcomes)
    assert len(mailbox()) == 5
    stats = microsoft.stats()
    assert stats["batches"] == 2
    assert stats["statuses"].get("429") == 1


def test_a_lost_answer_is_found_by_its_mark_not_created_twice(
    target: GraphTarget, make_card: CardFactory, microsoft: MicrosoftControl, mailbox: MailboxReader
) -> None:
    target.listing()
    microsoft.fault_add(path_contains="/contacts", method="POST", kind="lose_response", times=1)

    [outcome] = target.write_many([Create(card=make_card(1))])

    assert isinstance(outcome, ContactExists)
    assert list(mailbox()) == [outcome.existing.ref]
    assert target.find("superoffice-cust100-person-1") == outcome.existing
    assert target.find("superoffice-cust100-person-2") is None


def test_at_most_four_requests_in_flight_and_none_throttled(
    account: Any, make_card: CardFactory, microsoft: MicrosoftControl, organisation: Organisation
) -> None:
    microsoft.throttling_set(concurrency=4)
    targets = [GraphTarget.from_account(target_account=account) for _ in range(2)]
    targets[0].listing()
    account.refresh_from_db()
    targets[1].account.folder_id = account.folder_id
    microsoft.stats_clear()
    microsoft.fault_add(path_contains="$batch", latency_ms=150)

    def write(target: GraphTarget, first: int) -> None:
        target.write_many([Create(card=make_card(n)) for n in range(first, first + 80)])

    workers = [threading.Thread(target=write, args=(t, 1 + 100 * i)) for i, t in enumerate(targets)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    usage = microsoft.stats()["mailboxes"][organisation.user["mail"]]
    assert usage["max_concurrent"] == 4
    assert usage["throttled"] == 0
    assert len(microsoft.contacts_of(user=organisation.mailbox)) == 160
    for target in targets:
        target.close()


def test_the_budget_slows_a_big_run_instead_of_being_throttled(
    target: GraphTarget, make_card: CardFactory, microsoft: MicrosoftControl, graph_settings: Any,
    organisation: Organisation,
) -> None:  # fmt: skip
    microsoft.throttling_set(budget=15, window_seconds=1)
    graph_settings.MICROSOFT_MAILBOX_BUDGET = 15
    graph_settings.MICROSOFT_MAILBOX_BUDGET_WINDOW_SECONDS = 1
    budgeted = GraphTarget.from_account(target_account=target.account)

    outcomes = budgeted.write_many([Create(card=make_card(n)) for n in range(1, 41)])

    assert all(isinstance(outcome, WrittenContact) for outcome in outcomes)
    assert budgeted.client.budget is not None
    assert budgeted.client.budget.waits > 0
    assert microsoft.stats()["mailboxes"][organisation.user["mail"]]["throttled"] == 0
    budgeted.close()


def test_changes_follow_the_delta_cursor_and_start_again_after_410(
    target: GraphTarget,
    make_card: CardFactory,
    microsoft: MicrosoftControl,
    organisation: Organisation,
) -> None:
    first = target.create(card=make_card(1))
    second = target.create(card=make_card(2))
    assert target.changes() is None  # no cursor yet: only the link is found
    assert target.account.change_cursor
    assert target.changes() == {}

    edited = microsoft.contact_edit(user=organisation.mailbox, contact_id=first.ref, surname="X")
    microsoft.contact_delete(user=organisation.mailbox, contact_id=second.ref)
    changed = target.changes()
    assert changed == {first.ref: edited["@odata.etag"], second.ref: None}
    # Until the engine recorded them, the feed tells the same changes again.
    assert target.changes() == changed
    target.changes_acknowledge()
    assert target.changes() == {}
    target.changes_acknowledge()

    microsoft.delta_expire()
    assert target.changes() is None
    microsoft.contact_edit(user=organisation.mailbox, contact_id=first.ref, surname="Y")
    assert list(target.changes() or {}) == [first.ref]


def test_every_request_asks_for_immutable_ids(
    target: GraphTarget, make_card: CardFactory, microsoft: MicrosoftControl
) -> None:
    written = target.create(card=make_card(1))
    target.write_many(
        [Update(ref=written.ref, etag=written.etag, card=make_card(1, department="Sales"))]
        + [Create(card=make_card(n)) for n in range(2, 5)]
    )
    target.listing()
    target.list_own()
    target.marks([written.ref])
    target.find("superoffice-cust100-person-1")
    target.changes()
    target.changes()
    target.write_many([Delete(ref=written.ref, etag="", uid="superoffice-cust100-person-1")])

    stats = microsoft.stats()
    assert stats["requests"] > 10
    assert stats["without_immutable_id"] == 0, stats["recent_without_immutable_id"]
