"""The mass-delete guard's decisions (syncengine.held) end to end: runs of Ingrid's in the
live sandbox into the recording target, decisions through syncengine.performing as the
portal takes them, and whose change a removal was (DESIGN §5, issue 11 points 5, 6, 9)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from preferences.selectors import effective_preferences_get
from preferences.services import person_sync_preferences_update
from preferences.signals import InitiatedBy
from profiles.models import LinkedUser, User
from sandbox.testing import SandboxControl
from syncengine import performing
from syncengine.models import HeldDecision, HeldDeletion, PersonMapping, RunKind, RunStatus, SyncRun
from syncengine.performing import held_deletions_apply, held_deletions_confirm
from syncengine.planner import PreferenceChange
from syncengine.reconciler import KEPT_KEY
from syncengine.targets.base import TargetError
from syncengine.targets.memory import RecordingTarget
from tests.syncengine.conftest import Runner
from tests.syncengine.test_services import BOARD, KEY_CUSTOMERS, TENANT

OnCommit = Callable[..., Any]
CUSTOMERS_LABEL = "Selection “Nøkkelkunder Oslo”"


@pytest.fixture
def guarded(ingrid_link: LinkedUser) -> LinkedUser:
    """No appointments in the window, and a guard that holds more than 10 deletions (and
    more than half): the selected persons are all that is synced."""
    profile = ingrid_link.profile
    profile.sync_window_days_back = profile.sync_window_days_ahead = 0
    profile.mass_delete_max_count = 10
    profile.save()
    person_sync_preferences_update(
        linked_user=ingrid_link, changes={"static_selections": [KEY_CUSTOMERS]}
    )
    return ingrid_link


@pytest.fixture
def leaving(
    guarded: LinkedUser, run_sync: Runner, sandbox: SandboxControl, read: Callable[..., Any]
) -> list[int]:
    """After a first run, 15 of the selection's 25 persons leave it: 60 %, more than 10."""
    run_sync(RunKind.FIRST)
    persons = sorted(read(guarded, "selection", selection_id=1))[:15]
    for person_id in persons:
        sandbox.remove_selection_member(tenant=TENANT, selection_id=1, person_id=person_id)
    return persons


@pytest.fixture
def carry_out(
    monkeypatch: pytest.MonkeyPatch, target: RecordingTarget
) -> Callable[[HeldDeletion], int]:
    """What the held-deletions task does, into the recording target."""
    monkeypatch.setattr(performing, "target_for_linked_user", lambda linked_user: target)
    return lambda held: held_deletions_apply(held_id=held.pk)


def _decide(held: HeldDeletion, decision: HeldDecision, by: User, on_commit: OnCommit) -> None:
    """As the portal does: the decision is recorded, its task published after commit."""
    with on_commit(execute=True):
        assert held_deletions_confirm(held=held, decision=decision, decided_by=by)


def _statuses(linked_user: LinkedUser) -> list[str]:
    return list(
        SyncRun.objects.filter(linked_user=linked_user, kind=RunKind.HOUSEKEEPING)
        .order_by("queued_at")
        .values_list("status", flat=True)
    )


# --- one decision, however many runs hold it ---------------------------------------------------


def test_runs_that_hold_the_same_deletions_ask_once(
    guarded: LinkedUser, leaving: list[int], run_sync: Runner, target: RecordingTarget
) -> None:
    first = run_sync(RunKind.HOUSEKEEPING)
    again = [run_sync(RunKind.HOUSEKEEPING), run_sync(RunKind.REGULAR)]

    [held] = HeldDeletion.objects.filter(linked_user=guarded)
    assert held.decision == HeldDecision.PENDING
    assert held.person_ids == leaving
    assert held.last_run == again[-1]
    assert first.status == RunStatus.NEEDS_CONFIRMATION
    assert [run.status for run in again] == [RunStatus.SUCCEEDED, RunStatus.SUCCEEDED]
    assert SyncRun.objects.filter(held_deletion=held).count() == 3
    assert SyncRun.objects.filter(status=RunStatus.NEEDS_CONFIRMATION).count() == 1
    # Each person with the source they came from before they lost it.
    assert all(held.sources[str(pid)] == ["selection:1"] for pid in leaving)
    assert held.source_labels == {"selection:1": CUSTOMERS_LABEL}
    assert set(leaving) <= target.person_ids


def test_a_run_that_holds_someone_new_asks_again_in_the_same_decision(
    guarded: LinkedUser,
    leaving: list[int],
    run_sync: Runner,
    sandbox: SandboxControl,
    read: Callable[..., Any],
) -> None:
    run_sync(RunKind.HOUSEKEEPING)
    another = min(read(guarded, "selection", selection_id=1))
    sandbox.remove_selection_member(tenant=TENANT, selection_id=1, person_id=another)

    run = run_sync(RunKind.HOUSEKEEPING)

    [held] = HeldDeletion.objects.filter(linked_user=guarded)
    assert held.person_ids == sorted([*leaving, another])
    assert run.status == RunStatus.NEEDS_CONFIRMATION
    assert held.sources[str(leaving[0])] == ["selection:1"]  # kept from the first hold


# --- Apply ---------------------------------------------------------------------------------------


def test_apply_deletes_them_and_no_run_that_held_them_asks_any_more(
    guarded: LinkedUser,
    leaving: list[int],
    run_sync: Runner,
    target: RecordingTarget,
    sandbox: SandboxControl,
    read: Callable[..., Any],
    ingrid: User,
    carry_out: Callable[[HeldDeletion], int],
    published_runs: list[int],
    django_capture_on_commit_callbacks: OnCommit,
) -> None:
    run_sync(RunKind.HOUSEKEEPING)
    another = min(read(guarded, "selection", selection_id=1))
    sandbox.remove_selection_member(tenant=TENANT, selection_id=1, person_id=another)
    last = run_sync(RunKind.HOUSEKEEPING)
    assert _statuses(guarded) == [RunStatus.NEEDS_CONFIRMATION] * 2
    held = HeldDeletion.objects.get(linked_user=guarded)

    _decide(held, HeldDecision.APPLY, ingrid, django_capture_on_commit_callbacks)

    # Decided: no run asks any more, and the task is on its way.
    assert published_runs == [held.pk]
    assert _statuses(guarded) == [RunStatus.SUCCEEDED] * 2
    assert carry_out(held) == 16
    held.refresh_from_db()
    assert held.decision == HeldDecision.APPLY
    assert held.decided_by == ingrid
    assert held.decided_at is not None
    assert held.closed_at is not None
    assert not {*leaving, another} & target.person_ids
    last.refresh_from_db()
    assert last.deleted_count == 16
    # Nothing left to hold: the next run neither asks nor opens a decision.
    assert run_sync(RunKind.HOUSEKEEPING).status == RunStatus.SUCCEEDED
    assert HeldDeletion.objects.filter(closed_at__isnull=True).count() == 0


def test_a_decision_is_taken_once(
    leaving: list[int],
    run_sync: Runner,
    ingrid: User,
    published_runs: list[int],
    django_capture_on_commit_callbacks: OnCommit,
) -> None:
    run_sync(RunKind.HOUSEKEEPING)
    held = HeldDeletion.objects.get()
    _decide(held, HeldDecision.KEEP, ingrid, django_capture_on_commit_callbacks)

    assert not held_deletions_confirm(held=held, decision=HeldDecision.APPLY, decided_by=ingrid)
    held.refresh_from_db()
    assert held.decision == HeldDecision.KEEP


def test_confirmed_deletions_the_mailbox_refuses_are_applied_by_the_next_run(
    guarded: LinkedUser,
    leaving: list[int],
    run_sync: Runner,
    target: RecordingTarget,
    ingrid: User,
    monkeypatch: pytest.MonkeyPatch,
    published_runs: list[int],
    django_capture_on_commit_callbacks: OnCommit,
) -> None:
    run_sync(RunKind.HOUSEKEEPING)
    held = HeldDeletion.objects.get()
    _decide(held, HeldDecision.APPLY, ingrid, django_capture_on_commit_callbacks)

    def refusing(linked_user: LinkedUser) -> RecordingTarget:
        raise TargetError("The mailbox rejected the user name or app password.", permanent=True)

    monkeypatch.setattr(performing, "target_for_linked_user", refusing)
    assert held_deletions_apply(held_id=held.pk) == 0
    held.refresh_from_db()
    assert held.closed_at is None
    assert "rejected the user name" in held.error_text

    run = run_sync(RunKind.REGULAR)

    # The decision stands: the run deletes them outside the guard, and closes it.
    assert run.status == RunStatus.SUCCEEDED
    assert run.deleted_count == 15
    assert not set(leaving) & target.person_ids
    held.refresh_from_db()
    assert held.closed_at is not None
    assert held.error_text == ""


# --- Keep ----------------------------------------------------------------------------------------


def test_kept_contacts_stay_and_are_never_held_again_until_a_source_names_them(
    guarded: LinkedUser,
    leaving: list[int],
    run_sync: Runner,
    target: RecordingTarget,
    sandbox: SandboxControl,
    ingrid: User,
    carry_out: Callable[[HeldDeletion], int],
    published_runs: list[int],
    django_capture_on_commit_callbacks: OnCommit,
) -> None:
    first = run_sync(RunKind.HOUSEKEEPING)
    held = HeldDeletion.objects.get()
    _decide(held, HeldDecision.KEEP, ingrid, django_capture_on_commit_callbacks)
    assert carry_out(held) == 15

    later = [run_sync(RunKind.HOUSEKEEPING), run_sync(RunKind.REGULAR)]

    first.refresh_from_db()
    assert first.status == RunStatus.SUCCEEDED
    assert [run.status for run in later] == [RunStatus.SUCCEEDED] * 2
    assert [(run.held_deletions, run.deleted_count) for run in later] == [([], 0)] * 2
    assert set(leaving) <= target.person_ids
    assert HeldDeletion.objects.count() == 1
    held.refresh_from_db()
    assert held.closed_at is not None
    assert held.decided_by == ingrid

    # Named again, one of them is an ordinary contact: leaving again deletes it.
    back = leaving[0]
    sandbox.add_selection_member(tenant=TENANT, selection_id=1, person_id=back)
    run_sync(RunKind.HOUSEKEEPING)
    assert PersonMapping.objects.get(linked_user=guarded, person_id=back).provenance == [
        "selection:1"
    ]
    sandbox.remove_selection_member(tenant=TENANT, selection_id=1, person_id=back)
    run = run_sync(RunKind.HOUSEKEEPING)
    assert run.deleted_count == 1
    assert back not in target.person_ids
    kept = PersonMapping.objects.filter(linked_user=guarded, provenance=[KEPT_KEY])
    assert kept.count() == 14


# --- a decision no longer needed ---------------------------------------------------------------


def test_a_pending_decision_lapses_when_its_persons_come_back(
    guarded: LinkedUser, leaving: list[int], run_sync: Runner, sandbox: SandboxControl
) -> None:
    first = run_sync(RunKind.HOUSEKEEPING)
    for person_id in leaving:
        sandbox.add_selection_member(tenant=TENANT, selection_id=1, person_id=person_id)

    run = run_sync(RunKind.HOUSEKEEPING)

    held = HeldDeletion.objects.get()
    assert held.decision == HeldDecision.LAPSED
    assert held.closed_at is not None
    assert run.status == RunStatus.SUCCEEDED
    first.refresh_from_db()
    assert first.status == RunStatus.SUCCEEDED


# --- whose removal: the user's is exempt from the guard, an administrator's is not ---------------


@pytest.mark.parametrize("initiated_by", [InitiatedBy.USER, InitiatedBy.ADMIN])
def test_an_admins_removal_of_a_big_selection_is_held_and_the_users_is_not(
    guarded: LinkedUser,
    run_sync: Runner,
    target: RecordingTarget,
    read: Callable[..., Any],
    initiated_by: InitiatedBy,
) -> None:
    person_sync_preferences_update(
        linked_user=guarded, changes={"static_selections": [KEY_CUSTOMERS, BOARD]}
    )
    run_sync(RunKind.FIRST)
    customers = read(guarded, "selection", selection_id=1) - read(
        guarded, "selection", selection_id=4
    )
    old = effective_preferences_get(linked_user=guarded)
    person_sync_preferences_update(linked_user=guarded, changes={"static_selections": [BOARD]})
    change = PreferenceChange(
        old=old, new=effective_preferences_get(linked_user=guarded), initiated_by=initiated_by
    )

    run = run_sync(RunKind.PREFERENCE_CHANGE, change=change)

    if initiated_by == InitiatedBy.USER:
        assert run.status == RunStatus.SUCCEEDED
        assert run.deleted_count == len(customers)
        assert not customers & target.person_ids
    else:
        assert run.status == RunStatus.NEEDS_CONFIRMATION
        assert run.deleted_count == 0
        assert customers <= target.person_ids
        held = HeldDeletion.objects.get()
        assert set(held.person_ids) == customers
        # The removed selection is named from the values before the change.
        assert held.source_labels == {"selection:1": CUSTOMERS_LABEL}
