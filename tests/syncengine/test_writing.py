"""Writing a reconciliation in groups: write-ahead rows, a lost answer or a killed worker
never makes a second contact (also where the target names its contacts), the mailbox's
change feed between full runs, and the mapping and counts kept in step."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from profiles.models import LinkedUser
from syncengine.models import PersonMapping, RunKind, RunStatus
from syncengine.targets.base import Create, Write, WriteOutcome
from syncengine.targets.memory import RecordingTarget
from syncengine.writing import mappings_save
from tests.syncengine.conftest import Runner
from tests.syncengine.test_services import KEY_CUSTOMERS, _set


class WorkerKilled(BaseException):
    """A killed worker: nothing after it runs, not even `finally` blocks that write."""


@pytest.fixture
def target() -> RecordingTarget:
    # Like Microsoft Graph: writes in groups, contacts named by the target, a change feed.
    return RecordingTarget(batch_size=20, names_objects=True, change_feed=True)


@pytest.fixture
def customers(ingrid_link: LinkedUser) -> LinkedUser:
    _set(ingrid_link, static_selections=[KEY_CUSTOMERS])
    return ingrid_link


def _rows(link: LinkedUser) -> dict[int, PersonMapping]:
    return {m.person_id: m for m in PersonMapping.objects.filter(linked_user=link)}


def _assert_one_contact_per_person(target: RecordingTarget) -> None:
    people = [stored.card.person_id for stored in target.contacts.values()]
    assert len(people) == len(set(people)), "a person has two contacts"


def test_writes_go_to_the_target_in_groups_of_its_batch_size(
    customers: LinkedUser, run_sync: Runner, target: RecordingTarget
) -> None:
    run = run_sync(RunKind.FIRST)

    assert run.status == RunStatus.SUCCEEDED
    assert run.created_count == len(target.contacts) > 20
    assert max(target.groups) == 20
    assert sum(target.groups) == run.created_count
    rows = _rows(customers)
    assert {row.target_ref for row in rows.values()} == set(target.contacts)
    assert all(row.content_hash and row.etag for row in rows.values())


def test_a_group_whose_answer_never_came_is_adopted_by_mark_not_created_twice(
    customers: LinkedUser,
    run_sync: Runner,
    target: RecordingTarget,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The worker dies after the target took a whole group of creates, before the group
    was recorded: the rows written ahead make the next run look each mark up."""
    write_many = target.write_many
    groups = 0

    def write_then_die(writes: Sequence[Write]) -> list[WriteOutcome]:
        nonlocal groups
        outcomes = write_many(writes)
        groups += 1
        if groups == 2:
            raise WorkerKilled
        return outcomes

    monkeypatch.setattr(target, "write_many", write_then_die)
    with pytest.raises(WorkerKilled):
        run_sync(RunKind.REGULAR)
    monkeypatch.setattr(target, "write_many", write_many)
    pending = [row for row in _rows(customers).values() if not row.target_ref]
    assert len(pending) == 20, "the unrecorded group's rows were written ahead"

    # A regular run: no listing comparison, so only the written-ahead rows can tell.
    run = run_sync(RunKind.REGULAR)

    _assert_one_contact_per_person(target)
    assert target.reads.count("find") >= 20
    assert run.status == RunStatus.SUCCEEDED
    assert all(row.target_ref in target.contacts for row in _rows(customers).values())


def test_a_lost_mapping_is_rebuilt_from_the_marks_without_a_second_contact(
    customers: LinkedUser, run_sync: Runner, target: RecordingTarget
) -> None:
    run_sync(RunKind.FIRST)
    before = set(target.contacts)
    PersonMapping.objects.filter(linked_user=customers).delete()

    run = run_sync(RunKind.REGULAR)

    assert set(target.contacts) == before
    assert run.created_count == 0
    assert set(_rows(customers)) == target.person_ids
    assert run.healed["taken_back"] == len(before)


def test_a_killed_first_run_resumed_leaves_one_contact_each(
    customers: LinkedUser,
    run_sync: Runner,
    target: RecordingTarget,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Killed inside the target's group (some creates landed, the rest not): the resumed
    first run compares with the listing and takes back what landed."""
    create = target.create
    creates = 0

    def create_then_die(**kwargs: Any) -> Any:
        nonlocal creates
        creates += 1
        if creates == 27:
            raise WorkerKilled
        return create(**kwargs)

    monkeypatch.setattr(target, "create", create_then_die)
    with pytest.raises(WorkerKilled):
        run_sync(RunKind.FIRST)
    monkeypatch.setattr(target, "create", create)

    run = run_sync(RunKind.FIRST)

    _assert_one_contact_per_person(target)
    assert run.status == RunStatus.SUCCEEDED
    assert set(_rows(customers)) == target.person_ids
    assert all(row.target_ref in target.contacts for row in _rows(customers).values())


def test_the_change_feed_heals_mailbox_edits_and_deletes_at_the_next_regular_run(
    customers: LinkedUser, run_sync: Runner, target: RecordingTarget
) -> None:
    run_sync(RunKind.FIRST)
    run_sync(RunKind.REGULAR)  # the feed reports only our own writes: nothing to do
    rows = _rows(customers)
    edited, removed = sorted(rows)[:2]
    target.mailbox_edit(rows[edited].target_ref)
    target.mailbox_remove(rows[removed].target_ref)

    run = run_sync(RunKind.REGULAR)

    assert run.updated_count == 1  # CRM wins over the edit
    assert run.created_count == 1  # the deleted contact is back
    assert not target.card_of(edited).display_name.endswith("!")
    assert removed in target.person_ids
    _assert_one_contact_per_person(target)


def test_our_own_writes_in_the_change_feed_cause_no_write(
    customers: LinkedUser, run_sync: Runner, target: RecordingTarget
) -> None:
    run_sync(RunKind.FIRST)
    writes = target.writes()

    run = run_sync(RunKind.REGULAR)

    assert "changes" in target.reads
    assert target.writes() == writes
    assert run.created_count == run.updated_count == run.deleted_count == 0


def test_a_contact_made_again_after_a_mailbox_delete_survives_a_killed_worker(
    customers: LinkedUser,
    run_sync: Runner,
    target: RecordingTarget,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An update finds its contact deleted in the mailbox and makes it again; the worker
    dies before that is recorded. The row was written ahead, so the next run adopts the
    new contact instead of making a third."""
    target.change_feed = False  # the update itself finds the contact gone
    run_sync(RunKind.FIRST)
    person_id = min(_rows(customers))
    target.mailbox_remove(_rows(customers)[person_id].target_ref)
    PersonMapping.objects.filter(linked_user=customers, person_id=person_id).update(content_hash="")
    write_many = target.write_many

    def die_after_creating(writes: Sequence[Write]) -> list[WriteOutcome]:
        outcomes = write_many(writes)
        if all(isinstance(write, Create) for write in writes):
            raise WorkerKilled
        return outcomes

    monkeypatch.setattr(target, "write_many", die_after_creating)
    with pytest.raises(WorkerKilled):
        run_sync(RunKind.REGULAR)
    monkeypatch.setattr(target, "write_many", write_many)

    run = run_sync(RunKind.REGULAR)

    _assert_one_contact_per_person(target)
    assert person_id in target.person_ids
    assert run.status == RunStatus.SUCCEEDED
    assert _rows(customers)[person_id].target_ref in target.contacts


def test_saving_rows_never_brings_back_one_deleted_meanwhile(
    customers: LinkedUser, run_sync: Runner
) -> None:
    run_sync(RunKind.FIRST)
    rows = list(PersonMapping.objects.filter(linked_user=customers).order_by("person_id")[:3])
    PersonMapping.objects.filter(pk=rows[0].pk).delete()  # e.g. an address book moved
    for row in rows:
        row.etag = '"new"'

    mappings_save(rows)

    assert not PersonMapping.objects.filter(pk=rows[0].pk).exists()
    assert [PersonMapping.objects.get(pk=row.pk).etag for row in rows[1:]] == ['"new"'] * 2
