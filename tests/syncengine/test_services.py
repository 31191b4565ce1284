"""The engine end to end: data changed in the live sandbox, preferences changed through
their services, the planner and reconciler run into the recording target.

Every cell of the seed's table, and every rule of DESIGN §5, has a test here. Expected
persons come from the SuperOffice reads (tested on their own against the sandbox) and
from the sandbox's control API.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from preferences.selectors import effective_preferences_get
from preferences.services import (
    INHERIT,
    person_sync_preferences_update,
    profile_defaults_update,
)
from profiles.models import LinkedUser, SuperOfficeToken
from sandbox.testing import SandboxControl
from syncengine import writing
from syncengine.models import PersonMapping, RunKind, RunStatus, SyncRun
from syncengine.planner import PreferenceChange
from syncengine.services import held_deletion_apply, sync_run_execute
from syncengine.superoffice import reads
from syncengine.superoffice.client import superoffice_client_for_linked_user
from syncengine.superoffice.errors import TransientError
from syncengine.targets.memory import RecordingTarget
from tests.syncengine.conftest import Runner

TENANT = "Cust10001"
KEY_CUSTOMERS = {"id": 1, "name": "Nøkkelkunder Oslo"}  # static, 25 persons
BOARD = {"id": 4, "name": "Styret"}  # static, 8 persons, two of them former employees
DYNAMIC_VIP = 12
# Persons far down the seed: in no source of Ingrid's until a test puts them there.
FRESH = (5101, 5102, 5103, 5104)


def _set(ingrid: LinkedUser, **changes: Any) -> PreferenceChange:
    """Change Ingrid's preferences as the portal does; returns the change it announces."""
    old = effective_preferences_get(linked_user=ingrid)
    person_sync_preferences_update(linked_user=ingrid, changes=changes)
    return PreferenceChange(old=old, new=effective_preferences_get(linked_user=ingrid))


def _provenance(ingrid: LinkedUser) -> dict[int, set[str]]:
    return {
        m.person_id: set(m.provenance) for m in PersonMapping.objects.filter(linked_user=ingrid)
    }


def _appointment(sandbox: SandboxControl, person_id: int, *, days: int = 3) -> int:
    start = (timezone.now() + timedelta(days=days)).replace(microsecond=0)
    return sandbox.create_appointment(
        tenant=TENANT, associate_id=1, start=start.isoformat(), person_id=person_id
    )


# --- First run ------------------------------------------------------------------------


def test_first_run_syncs_every_source_once_with_its_provenance(
    ingrid_link: LinkedUser, run_sync: Runner, target: RecordingTarget, read: Callable[..., Any]
) -> None:
    _set(
        ingrid_link,
        static_selections=[KEY_CUSTOMERS],
        sync_favourite_company_contacts=True,
        sync_favourite_contacts=True,
    )
    expected = {
        "appointments": read(ingrid_link, "appointments"),
        "selection:1": read(ingrid_link, "selection", selection_id=1),
        "favourite_companies": read(ingrid_link, "favourite_companies"),
        "favourite_persons": read(ingrid_link, "favourite_persons"),
    }
    assert all(expected.values()), "the seed gives Ingrid persons in every source"

    run = run_sync(RunKind.FIRST)

    everyone = frozenset().union(*expected.values())
    assert run.status == RunStatus.SUCCEEDED, run.error_text
    assert target.person_ids == everyone
    assert len(target.contacts) == len(everyone)  # never duplicated
    assert run.created_count == len(everyone)
    assert run.progress_done == run.progress_total == len(everyone)
    provenance = _provenance(ingrid_link)
    for person_id in everyone:
        assert provenance[person_id] == {k for k, ids in expected.items() if person_id in ids}


def test_former_employees_at_favourite_companies_are_skipped_but_favourites_are_not(
    ingrid_link: LinkedUser,
    run_sync: Runner,
    target: RecordingTarget,
    sandbox: SandboxControl,
    read: Callable[..., Any],
) -> None:
    _set(ingrid_link, sync_favourite_company_contacts=True, sync_favourite_contacts=True)
    at_companies = read(ingrid_link, "favourite_companies")
    favourite_persons = read(ingrid_link, "favourite_persons")
    employee = min(at_companies - favourite_persons)
    sandbox.set_retired(tenant=TENANT, person_id=employee)
    favourite = min(favourite_persons)
    sandbox.set_retired(tenant=TENANT, person_id=favourite)

    run_sync(RunKind.FIRST)

    assert employee not in target.person_ids or employee in read(ingrid_link, "appointments")
    assert favourite in target.person_ids


# --- Every sync (regular) -----------------------------------------------------------------


def test_every_sync_reads_appointments_but_not_selections_or_favourites(
    ingrid_link: LinkedUser, run_sync: Runner, target: RecordingTarget, sandbox: SandboxControl
) -> None:
    _set(ingrid_link, static_selections=[KEY_CUSTOMERS], sync_favourite_contacts=True)
    run_sync(RunKind.FIRST)
    on_appointment, in_selection, starred = FRESH[:3]
    _appointment(sandbox, on_appointment)
    sandbox.add_selection_member(tenant=TENANT, selection_id=1, person_id=in_selection)
    sandbox.set_favourite(tenant=TENANT, associate_id=1, kind="person", record_id=starred)

    regular = run_sync(RunKind.REGULAR)

    assert on_appointment in target.person_ids
    assert in_selection not in target.person_ids
    assert starred not in target.person_ids
    assert regular.created_count == 1

    # Housekeeping picks up the rest (a newly starred person waits for it).
    housekeeping = run_sync(RunKind.HOUSEKEEPING)

    assert {in_selection, starred} <= target.person_ids
    assert housekeeping.created_count == 2


def test_a_person_whose_appointment_is_gone_is_removed_by_the_next_sync(
    ingrid_link: LinkedUser, run_sync: Runner, target: RecordingTarget, sandbox: SandboxControl
) -> None:
    run_sync(RunKind.FIRST)
    appointment = _appointment(sandbox, FRESH[0])
    run_sync(RunKind.REGULAR)
    assert FRESH[0] in target.person_ids

    sandbox.delete_appointment(tenant=TENANT, appointment_id=appointment)
    run = run_sync(RunKind.REGULAR)

    assert FRESH[0] not in target.person_ids
    assert run.deleted_count == 1


def test_appointments_outside_the_window_are_not_synced(
    ingrid_link: LinkedUser, run_sync: Runner, target: RecordingTarget, sandbox: SandboxControl
) -> None:
    _appointment(sandbox, FRESH[0], days=200)
    _appointment(sandbox, FRESH[1], days=-9)
    _appointment(sandbox, FRESH[2], days=-6)

    run_sync(RunKind.FIRST)

    assert FRESH[2] in target.person_ids
    assert not {FRESH[0], FRESH[1]} & target.person_ids


# --- Preference change ----------------------------------------------------------------------


def test_a_newly_added_selection_is_synced_by_the_catch_up_run_without_appointments(
    ingrid_link: LinkedUser,
    run_sync: Runner,
    target: RecordingTarget,
    sandbox: SandboxControl,
    read: Callable[..., Any],
) -> None:
    _set(ingrid_link, static_selections=[KEY_CUSTOMERS])
    run_sync(RunKind.FIRST)
    _appointment(sandbox, FRESH[0])  # "n/a": not read by a catch-up run
    sandbox.add_selection_member(tenant=TENANT, selection_id=1, person_id=FRESH[1])

    change = _set(ingrid_link, static_selections=[KEY_CUSTOMERS, BOARD])
    run = run_sync(RunKind.PREFERENCE_CHANGE, change=change)

    board = read(ingrid_link, "selection", selection_id=4)
    assert board <= target.person_ids  # retired board members too: explicitly selected
    assert FRESH[0] not in target.person_ids
    assert FRESH[1] not in target.person_ids  # selection 1 was not newly added
    assert run.status == RunStatus.SUCCEEDED


def test_a_removed_selection_loses_its_persons_in_the_catch_up_run(
    ingrid_link: LinkedUser,
    run_sync: Runner,
    target: RecordingTarget,
    read: Callable[..., Any],
) -> None:
    _set(ingrid_link, static_selections=[KEY_CUSTOMERS, BOARD])
    run_sync(RunKind.FIRST)
    board = read(ingrid_link, "selection", selection_id=4)
    customers = read(ingrid_link, "selection", selection_id=1)
    appointments = read(ingrid_link, "appointments")

    change = _set(ingrid_link, static_selections=[BOARD])
    run = run_sync(RunKind.PREFERENCE_CHANGE, change=change)

    assert not (customers - board - appointments) & target.person_ids
    assert board <= target.person_ids
    assert run.deleted_count == len(customers - board - appointments)
    assert all("selection:1" not in p for p in _provenance(ingrid_link).values())


class WorkerKilled(BaseException):
    """Stands for SIGKILL: nothing after it runs, no handler sees it."""


@pytest.mark.parametrize("killed_after", [1, 3])
def test_a_run_killed_during_deletes_leaves_no_mapping_for_a_deleted_card(
    ingrid_link: LinkedUser,
    run_sync: Runner,
    target: RecordingTarget,
    read: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    killed_after: int,
) -> None:
    """Remove a selection, kill the worker a few deletes in, add the selection back: the
    next run must put every card back, because no mapping row claims a deleted card."""
    _set(ingrid_link, static_selections=[KEY_CUSTOMERS, BOARD])
    run_sync(RunKind.FIRST)
    customers = read(ingrid_link, "selection", selection_id=1)
    board = read(ingrid_link, "selection", selection_id=4)
    deletes_done = 0
    delete, flush = target.delete, writing.Writer.flush

    def delete_then_die(**kwargs: Any) -> None:
        nonlocal deletes_done
        delete(**kwargs)
        deletes_done += 1
        if deletes_done == killed_after:
            raise WorkerKilled

    def dead(writer: writing.Writer) -> None:
        # A killed process runs no `finally`: nothing after the kill reaches the database.
        if deletes_done >= killed_after:
            raise WorkerKilled
        flush(writer)

    monkeypatch.setattr(target, "delete", delete_then_die)
    monkeypatch.setattr(writing.Writer, "flush", dead)
    with pytest.raises(WorkerKilled):
        run_sync(RunKind.PREFERENCE_CHANGE, change=_set(ingrid_link, static_selections=[BOARD]))
    monkeypatch.setattr(target, "delete", delete)
    monkeypatch.setattr(writing.Writer, "flush", flush)

    # A row whose card is gone may only be the write in flight, marked as unconfirmed
    # (no content hash), so the next run that names the person writes the card again.
    unconfirmed = PersonMapping.objects.filter(linked_user=ingrid_link).exclude(
        person_id__in=target.person_ids
    )
    assert [m.content_hash for m in unconfirmed] in ([], [""])
    change = _set(ingrid_link, static_selections=[KEY_CUSTOMERS, BOARD])
    run_sync(RunKind.PREFERENCE_CHANGE, change=change)
    assert customers | board <= target.person_ids


def test_a_resumed_run_counts_the_writes_of_every_attempt(
    ingrid_link: LinkedUser, target: RecordingTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first run killed after a few creates, then resumed: its counts add up to what
    the book holds, each card counted once (the one in flight is taken back by the
    resumed first run's comparison with the book, then written as an update)."""
    _set(ingrid_link, static_selections=[KEY_CUSTOMERS])
    run = SyncRun.objects.create(linked_user=ingrid_link, kind=RunKind.FIRST, attempt=1)
    creates_done = 0
    create, flush = target.create, writing.Writer.flush

    def create_then_die(**kwargs: Any) -> Any:
        nonlocal creates_done
        written = create(**kwargs)
        creates_done += 1
        if creates_done == 5:
            raise WorkerKilled
        return written

    def dead(writer: writing.Writer) -> None:
        if creates_done >= 5:
            raise WorkerKilled
        flush(writer)

    monkeypatch.setattr(target, "create", create_then_die)
    monkeypatch.setattr(writing.Writer, "flush", dead)
    with (
        superoffice_client_for_linked_user(linked_user=ingrid_link) as client,
        pytest.raises(WorkerKilled),
    ):
        sync_run_execute(run=run, client=client, target=target)
    monkeypatch.setattr(target, "create", create)
    monkeypatch.setattr(writing.Writer, "flush", flush)
    assert SyncRun.objects.get(pk=run.pk).created_count == 4  # the fifth was in flight

    SyncRun.objects.filter(pk=run.pk).update(attempt=2)
    run.refresh_from_db()
    with superoffice_client_for_linked_user(linked_user=ingrid_link) as client:
        sync_run_execute(run=run, client=client, target=target)

    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED
    assert run.created_count + run.updated_count == len(target.contacts) > 5
    assert run.updated_count <= 1
    assert len(target.person_ids) == len(target.contacts)


def test_a_card_written_before_its_mapping_was_lost_counts_as_updated(
    ingrid_link: LinkedUser, run_sync: Runner, target: RecordingTarget
) -> None:
    """A regular run (which does not compare with the book while the mapping has rows)
    meets its create refused as existing: the card is adopted and counted as updated."""
    run_sync(RunKind.FIRST)
    lost = next(
        m
        for m in PersonMapping.objects.filter(linked_user=ingrid_link)
        if m.provenance == ["appointments"]
    )
    lost.delete()

    run = run_sync(RunKind.REGULAR)

    assert (run.created_count, run.updated_count) == (0, 1)
    assert PersonMapping.objects.filter(linked_user=ingrid_link, person_id=lost.person_id).exists()
    assert len(target.contacts) == len(target.person_ids)


@pytest.mark.parametrize(
    ("before", "after", "read_now"),
    [
        # Turning on one switch reads every favourites source now on...
        (
            {"sync_favourite_company_contacts": True},
            {"sync_favourite_contacts": True},
            {"favourite_companies", "favourite_persons"},
        ),
        # ...and only those: with companies off, no company is read.
        ({}, {"sync_favourite_contacts": True}, {"favourite_persons"}),
    ],
)
def test_a_favourites_switch_change_reads_every_favourites_source_now_on(
    ingrid_link: LinkedUser,
    run_sync: Runner,
    target: RecordingTarget,
    sandbox: SandboxControl,
    read: Callable[..., Any],
    before: dict[str, bool],
    after: dict[str, bool],
    read_now: set[str],
) -> None:
    if before:
        _set(ingrid_link, **before)
    run_sync(RunKind.FIRST)
    # Starred in SuperOffice after the first run: only reading the source finds them.
    new_company = 150
    sandbox.set_favourite(tenant=TENANT, associate_id=1, kind="person", record_id=FRESH[0])
    sandbox.set_favourite(tenant=TENANT, associate_id=1, kind="contact", record_id=new_company)
    with superoffice_client_for_linked_user(linked_user=ingrid_link) as client:
        at_new_company = frozenset(
            reads.persons_at_companies(client=client, company_ids={new_company})
        )
    assert at_new_company

    change = _set(ingrid_link, **after)
    run_sync(RunKind.PREFERENCE_CHANGE, change=change)

    assert (FRESH[0] in target.person_ids) is ("favourite_persons" in read_now)
    assert (at_new_company <= target.person_ids) is ("favourite_companies" in read_now)
    assert not (at_new_company & target.person_ids) or "favourite_companies" in read_now


def test_a_favourites_switch_turned_off_drops_its_persons_in_the_same_run(
    ingrid_link: LinkedUser, run_sync: Runner, target: RecordingTarget, read: Callable[..., Any]
) -> None:
    _set(ingrid_link, sync_favourite_company_contacts=True, sync_favourite_contacts=True)
    run_sync(RunKind.FIRST)
    favourites = read(ingrid_link, "favourite_persons")
    others = read(ingrid_link, "favourite_companies") | read(ingrid_link, "appointments")

    change = _set(ingrid_link, sync_favourite_contacts=False)
    run = run_sync(RunKind.PREFERENCE_CHANGE, change=change)

    assert not (favourites - others) & target.person_ids
    assert others <= target.person_ids
    assert run.deleted_count == len(favourites - others)


def test_a_change_of_other_preferences_does_not_read_favourites(
    ingrid_link: LinkedUser, run_sync: Runner, target: RecordingTarget, sandbox: SandboxControl
) -> None:
    _set(ingrid_link, sync_favourite_contacts=True)
    run_sync(RunKind.FIRST)
    sandbox.set_favourite(tenant=TENANT, associate_id=1, kind="person", record_id=FRESH[0])

    change = _set(ingrid_link, sync_birthdays=False)
    run = run_sync(RunKind.PREFERENCE_CHANGE, change=change)

    assert FRESH[0] not in target.person_ids
    assert run.created_count == 0


def test_coalesced_requests_read_the_union_of_their_sources(
    ingrid_link: LinkedUser, run_sync: Runner, target: RecordingTarget, sandbox: SandboxControl
) -> None:
    run_sync(RunKind.FIRST)
    _appointment(sandbox, FRESH[0])
    change = _set(ingrid_link, static_selections=[BOARD])

    run_sync(RunKind.REGULAR, change=change, merged_kinds=[RunKind.PREFERENCE_CHANGE])

    assert FRESH[0] in target.person_ids
    assert "selection:4" in set().union(*_provenance(ingrid_link).values())


# --- Housekeeping, field choices, no-op writes ----------------------------------------------


def test_housekeeping_writes_nothing_when_nothing_changed_and_one_card_when_one_did(
    ingrid_link: LinkedUser,
    run_sync: Runner,
    target: RecordingTarget,
    sandbox: SandboxControl,
    read: Callable[..., Any],
) -> None:
    _set(ingrid_link, static_selections=[KEY_CUSTOMERS])
    run_sync(RunKind.FIRST)
    writes = target.writes()

    quiet = run_sync(RunKind.HOUSEKEEPING)

    assert target.writes() == writes
    assert quiet.unchanged_count == len(target.contacts)

    person = min(read(ingrid_link, "selection", selection_id=1))
    sandbox.edit_person(tenant=TENANT, person_id=person, title="Chief Synchroniser")
    changed = run_sync(RunKind.HOUSEKEEPING)

    assert changed.updated_count == 1
    assert target.card_of(person).job_title == "Chief Synchroniser"


def test_field_choices_apply_to_every_card_at_the_next_housekeeping(
    ingrid_link: LinkedUser, run_sync: Runner, target: RecordingTarget
) -> None:
    _set(ingrid_link, static_selections=[KEY_CUSTOMERS])
    run_sync(RunKind.FIRST)
    with_title = {pid for pid in target.person_ids if target.card_of(pid).job_title}
    assert with_title

    profile_defaults_update(profile=ingrid_link.profile, changes={"sync_job_title": False})
    # A regular run rewrites only the persons it reads (those on appointments).
    run_sync(RunKind.REGULAR)
    still_titled = {pid for pid in with_title if target.card_of(pid).job_title}
    assert still_titled

    housekeeping = run_sync(RunKind.HOUSEKEEPING)

    assert not any(target.card_of(pid).job_title for pid in target.person_ids)
    assert housekeeping.updated_count == len(still_titled)


# --- Safety -----------------------------------------------------------------------------------


def test_a_selection_that_fails_to_load_changes_nothing_for_its_persons(
    ingrid_link: LinkedUser,
    run_sync: Runner,
    target: RecordingTarget,
    sandbox: SandboxControl,
    read: Callable[..., Any],
) -> None:
    _set(ingrid_link, static_selections=[KEY_CUSTOMERS])
    run_sync(RunKind.FIRST)
    customers = read(ingrid_link, "selection", selection_id=1)
    sandbox.set_selection_type(tenant=TENANT, selection_id=1, selection_type="Dynamic")

    run = run_sync(RunKind.HOUSEKEEPING)

    assert run.status == RunStatus.PARTIAL
    assert customers <= target.person_ids
    assert run.deleted_count == 0
    [warning] = run.warnings
    assert warning["source"] == "selection:1"
    assert "Nøkkelkunder Oslo" in warning["message"]


def test_superoffice_down_changes_nothing_and_says_so(
    ingrid_link: LinkedUser, run_sync: Runner, target: RecordingTarget, sandbox: SandboxControl
) -> None:
    run_sync(RunKind.FIRST)
    before = set(target.person_ids)
    sandbox.set_maintenance(tenant=TENANT)

    # A passing failure goes on to the caller (the task retries the run later).
    with pytest.raises(TransientError):
        run_sync(RunKind.REGULAR)

    run = SyncRun.objects.latest("queued_at")
    assert run.status == RunStatus.FAILED
    assert "nothing was changed" in run.error_text
    assert target.person_ids == before


def test_a_revoked_consent_fails_the_run_with_a_sign_in_message(
    ingrid_link: LinkedUser, run_sync: Runner, target: RecordingTarget, sandbox: SandboxControl
) -> None:
    sandbox.revoke_consent(tenant=TENANT, associate_id=1)
    SuperOfficeToken.objects.update(expires_at=timezone.now())

    run = run_sync(RunKind.FIRST)

    assert run.status == RunStatus.FAILED
    assert "sign in again" in run.error_text
    assert target.writes() == 0


def test_mass_deletion_is_held_until_confirmed(
    ingrid_link: LinkedUser,
    run_sync: Runner,
    target: RecordingTarget,
    sandbox: SandboxControl,
    read: Callable[..., Any],
) -> None:
    profile = ingrid_link.profile
    # No appointments in the window: the 25 selected persons are all that is synced.
    profile.sync_window_days_back = profile.sync_window_days_ahead = 0
    profile.mass_delete_max_count = 10
    profile.save()
    _set(ingrid_link, static_selections=[KEY_CUSTOMERS])
    run_sync(RunKind.FIRST)
    customers = sorted(read(ingrid_link, "selection", selection_id=1))
    leaving = customers[:15]  # 60 % and more than 10
    for person_id in leaving:
        sandbox.remove_selection_member(tenant=TENANT, selection_id=1, person_id=person_id)

    run = run_sync(RunKind.HOUSEKEEPING)

    assert run.status == RunStatus.NEEDS_CONFIRMATION
    assert sorted(run.held_deletions) == leaving
    assert set(leaving) <= target.person_ids
    assert run.deleted_count == 0
    assert run.held_deletion is not None

    # Confirmed (syncengine.held decides; the task applies, counting on the run).
    deleted = held_deletion_apply(held=run.held_deletion, target=target)

    assert deleted == 15
    assert not set(leaving) & target.person_ids
    run.refresh_from_db()
    assert run.deleted_count == 15


def test_a_few_deletions_are_not_held(
    ingrid_link: LinkedUser,
    run_sync: Runner,
    target: RecordingTarget,
    sandbox: SandboxControl,
    read: Callable[..., Any],
) -> None:
    _set(ingrid_link, static_selections=[KEY_CUSTOMERS])
    run_sync(RunKind.FIRST)
    leaving = min(
        read(ingrid_link, "selection", selection_id=1) - read(ingrid_link, "appointments")
    )
    sandbox.remove_selection_member(tenant=TENANT, selection_id=1, person_id=leaving)

    run = run_sync(RunKind.HOUSEKEEPING)

    assert run.status == RunStatus.SUCCEEDED
    assert leaving not in target.person_ids


def test_a_dynamic_selection_among_the_preferences_is_reported_not_synced(
    ingrid_link: LinkedUser, run_sync: Runner, target: RecordingTarget
) -> None:
    # Stored before it turned dynamic: the run reports it and syncs the rest.
    _set(ingrid_link, static_selections=[{"id": DYNAMIC_VIP, "name": "VIP"}])

    run = run_sync(RunKind.FIRST)

    assert run.status == RunStatus.PARTIAL
    assert [w["source"] for w in run.warnings] == [f"selection:{DYNAMIC_VIP}"]
    assert target.person_ids  # appointments still synced


def test_inherited_selections_from_the_profile_are_synced(
    ingrid_link: LinkedUser, run_sync: Runner, target: RecordingTarget, read: Callable[..., Any]
) -> None:
    profile_defaults_update(profile=ingrid_link.profile, changes={"static_selections": [BOARD]})
    _set(ingrid_link, static_selections=INHERIT)

    run_sync(RunKind.FIRST)

    assert read(ingrid_link, "selection", selection_id=4) <= target.person_ids


def test_a_wiped_mapping_table_is_rebuilt_from_our_marks(
    ingrid_link: LinkedUser, run_sync: Runner, target: RecordingTarget, read: Callable[..., Any]
) -> None:
    _set(ingrid_link, static_selections=[KEY_CUSTOMERS])
    run_sync(RunKind.FIRST)
    synced = set(target.person_ids)
    PersonMapping.objects.all().delete()

    run = run_sync(RunKind.HOUSEKEEPING)

    assert target.person_ids == synced
    assert len(target.contacts) == len(synced)  # no second copy
    assert run.created_count == 0
    assert set(_provenance(ingrid_link)) == synced
    customers = read(ingrid_link, "selection", selection_id=1)
    assert all("selection:1" in _provenance(ingrid_link)[p] for p in customers)


def test_a_rebuild_never_adopts_another_tenants_card(
    ingrid_link: LinkedUser, run_sync: Runner, target: RecordingTarget, read: Callable[..., Any]
) -> None:
    _set(ingrid_link, static_selections=[KEY_CUSTOMERS])
    run_sync(RunKind.FIRST)
    PersonMapping.objects.all().delete()
    # The same address book holds a card written for another tenant's person.
    from dataclasses import replace

    from syncengine.rendering import contact_uid

    someone = target.card_of(min(target.person_ids))
    foreign = replace(
        someone,
        person_id=424242,
        uid=contact_uid(context_identifier="Cust20002", person_id=424242),
    )
    target.create(card=foreign)

    run_sync(RunKind.HOUSEKEEPING)

    assert 424242 in target.person_ids
    assert ("delete", 424242) not in target.calls
    assert ("update", 424242) not in target.calls
    assert 424242 not in _provenance(ingrid_link)
