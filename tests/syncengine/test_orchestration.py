"""When runs happen: first runs, requests that coalesce, the schedule, the lock."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pytest_django.fixtures import SettingsWrapper

from preferences.services import person_sync_preferences_update
from profiles.models import LinkedUser, SuperOfficeToken, TargetAccount, User
from profiles.services import linked_user_delete, linked_user_link, linked_user_set_enabled
from profiles.signals import link_readiness_changed
from sandbox.testing import SandboxControl
from syncengine.locks import LOCK_TTL_SECONDS, LockHeld, run_lock
from syncengine.models import RunKind, RunStatus, SyncRun, SyncSchedule
from syncengine.orchestration import (
    first_run_queue_if_ready,
    stale_runs_recover,
    sync_dispatch_due,
    sync_run_request,
)
from syncengine.performing import MAX_ATTEMPTS, RetryLater, resume_delay, sync_run_perform
from syncengine.readiness import link_waiting_for
from syncengine.targets import TARGETS
from syncengine.targets.base import TargetError
from syncengine.targets.memory import RecordingTarget
from synchronizer.logcontext import RunContextFilter
from tests.plugins.nordlys import TENANT


@pytest.fixture
def published(published_runs: list[int]) -> list[int]:
    return published_runs


@pytest.fixture
def target(monkeypatch: pytest.MonkeyPatch) -> RecordingTarget:
    recording = RecordingTarget()
    monkeypatch.setitem(TARGETS, "carddav", lambda account: recording)
    return recording


def _verify_mailbox(linked_user: LinkedUser) -> None:
    TargetAccount.objects.update_or_create(
        linked_user=linked_user,
        defaults={
            "username": linked_user.email,
            "secret": "app-password",
            "collection_url": "http://127.0.0.1:5232/user/contacts/",
            "verified_at": timezone.now(),
        },
    )
    link_readiness_changed.send(sender=LinkedUser, linked_user_id=linked_user.pk)


@pytest.fixture
def ready_link(
    ingrid_link: LinkedUser,
    published: list[int],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> LinkedUser:
    """Ingrid, signed in and with verified mailbox credentials: her first run is queued."""
    with django_capture_on_commit_callbacks(execute=True):
        _verify_mailbox(ingrid_link)
    return ingrid_link


# --- The first run ----------------------------------------------------------------------


def test_the_first_run_waits_for_the_last_condition(
    nordlys: Any,
    ingrid_link: LinkedUser,
    published: list[int],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    profile = ingrid_link.profile
    # Linked, but never signed in and no mailbox: waiting for both.
    waiting = linked_user_link(
        profile=profile, associate_id=2, email="ola.berg@nordlys-demo.example"
    )
    assert len(link_waiting_for(waiting)) == 2
    assert not SyncRun.objects.filter(linked_user=waiting).exists()

    with django_capture_on_commit_callbacks(execute=True):
        _verify_mailbox(waiting)
    assert link_waiting_for(waiting) == [
        "Waiting for sign-in: the user has not signed in with SuperOffice yet."
    ]
    assert not SyncRun.objects.filter(linked_user=waiting).exists()

    user = User.objects.create_user(username="ola", tenant=nordlys, associate_id=2)
    SuperOfficeToken.objects.create(user=user, access_token="8A:x", expires_at=timezone.now())
    LinkedUser.objects.filter(pk=waiting.pk).update(user=user)
    with django_capture_on_commit_callbacks(execute=True):
        link_readiness_changed.send(sender=LinkedUser, linked_user_id=waiting.pk)

    [first] = SyncRun.objects.filter(linked_user=waiting)
    assert first.kind == RunKind.FIRST
    assert published == [first.pk]
    schedule = SyncSchedule.objects.get(linked_user=waiting)
    assert (
        timedelta(minutes=15) <= schedule.next_regular_at - timezone.now() <= timedelta(minutes=30)
    )

    # Only once, however often the conditions are announced again.
    assert first_run_queue_if_ready(linked_user_id=waiting.pk) is None
    assert SyncRun.objects.filter(linked_user=waiting).count() == 1


def test_disabled_or_deleted_links_never_run(ready_link: LinkedUser, published: list[int]) -> None:
    SyncRun.objects.update(status=RunStatus.SUCCEEDED)
    linked_user_set_enabled(linked_user=ready_link, enabled=False)

    assert sync_run_request(linked_user_id=ready_link.pk, kind=RunKind.REGULAR) is None

    linked_user_set_enabled(linked_user=ready_link, enabled=True)
    linked_user_delete(linked_user=ready_link)
    assert sync_run_request(linked_user_id=ready_link.pk, kind=RunKind.REGULAR) is None


def test_a_queued_run_of_a_link_disabled_meanwhile_is_skipped(ready_link: LinkedUser) -> None:
    run = SyncRun.objects.get(linked_user=ready_link)
    LinkedUser.objects.filter(pk=ready_link.pk).update(is_enabled=False)

    sync_run_perform(run_id=run.pk)

    run.refresh_from_db()
    assert run.status == RunStatus.SKIPPED
    assert "disabled" in run.error_text


# --- Requests coalesce ---------------------------------------------------------------------


def test_requests_merge_into_a_queued_run(
    ready_link: LinkedUser,
    published: list[int],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    first = SyncRun.objects.get(linked_user=ready_link)

    with django_capture_on_commit_callbacks(execute=True):
        merged = sync_run_request(linked_user_id=ready_link.pk, kind=RunKind.REGULAR)

    assert merged == first
    assert SyncRun.objects.filter(linked_user=ready_link).count() == 1
    assert merged.trigger["merged_kinds"] == [RunKind.REGULAR]
    assert published == [first.pk]  # no second task


def test_preference_changes_coalesce_old_from_the_first_new_from_the_latest(
    ready_link: LinkedUser, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    SyncRun.objects.update(status=RunStatus.SUCCEEDED)
    with django_capture_on_commit_callbacks(execute=True):
        person_sync_preferences_update(
            linked_user=ready_link, changes={"sync_favourite_contacts": True}
        )
        person_sync_preferences_update(
            linked_user=ready_link,
            changes={"static_selections": [{"id": 4, "name": "Styret"}]},
        )

    [catch_up] = SyncRun.objects.filter(linked_user=ready_link, status=RunStatus.QUEUED)
    assert catch_up.kind == RunKind.PREFERENCE_CHANGE
    change = catch_up.trigger["preference_change"]
    assert change["old"]["sync_favourite_contacts"] is False
    assert change["old"]["static_selections"] == []
    assert change["new"]["sync_favourite_contacts"] is True
    assert change["new"]["static_selections"] == [{"id": 4, "name": "Styret"}]


@pytest.mark.parametrize(
    ("first", "then", "coalesced"),
    [
        ("herself", "herself", "user"),
        ("herself", "another", "admin"),
        ("another", "herself", "admin"),
    ],
)
def test_a_coalesced_change_is_an_administrators_if_any_of_its_changes_was(
    ready_link: LinkedUser,
    ingrid: User,
    ola: User,
    django_capture_on_commit_callbacks: Callable[..., Any],
    first: str,
    then: str,
    coalesced: str,
) -> None:
    editors = {"herself": ingrid, "another": ola}
    # An administrator's removal goes through the mass-delete guard; merged into a user's
    # change, it must not pass as the user's own.
    SyncRun.objects.update(status=RunStatus.SUCCEEDED)
    with django_capture_on_commit_callbacks(execute=True):
        person_sync_preferences_update(
            linked_user=ready_link,
            changes={"sync_favourite_contacts": True},
            edited_by=editors[first],
        )
        person_sync_preferences_update(
            linked_user=ready_link,
            changes={"static_selections": [{"id": 4, "name": "Styret"}]},
            edited_by=editors[then],
        )

    [catch_up] = SyncRun.objects.filter(linked_user=ready_link, status=RunStatus.QUEUED)
    assert catch_up.trigger["preference_change"]["initiated_by"] == coalesced


def test_while_a_run_works_one_follow_up_is_queued(ready_link: LinkedUser) -> None:
    SyncRun.objects.update(status=RunStatus.RUNNING)

    follow_up = sync_run_request(linked_user_id=ready_link.pk, kind=RunKind.REGULAR)
    again = sync_run_request(linked_user_id=ready_link.pk, kind=RunKind.HOUSEKEEPING)

    assert follow_up is not None
    assert again == follow_up
    assert follow_up.status == RunStatus.QUEUED
    assert SyncRun.objects.filter(linked_user=ready_link).count() == 2


def test_a_catch_up_run_is_published_only_after_commit(
    ready_link: LinkedUser, published: list[int]
) -> None:
    SyncRun.objects.update(status=RunStatus.SUCCEEDED)
    published.clear()

    person_sync_preferences_update(linked_user=ready_link, changes={"sync_title": False})

    # The test's transaction has not committed: nothing reached the broker yet.
    assert SyncRun.objects.filter(status=RunStatus.QUEUED).count() == 1
    assert published == []


# --- Performing a run -------------------------------------------------------------------------


def test_perform_runs_the_queued_run_into_the_users_mailbox(
    ready_link: LinkedUser, target: RecordingTarget
) -> None:
    run = SyncRun.objects.get(linked_user=ready_link)

    sync_run_perform(run_id=run.pk)

    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED
    assert run.created_count == len(target.contacts) > 0
    # A duplicate delivery of a finished run does nothing.
    sync_run_perform(run_id=run.pk)
    assert target.writes() == run.created_count


def test_one_run_per_user_at_a_time(ready_link: LinkedUser, target: RecordingTarget) -> None:
    run = SyncRun.objects.get(linked_user=ready_link)

    with run_lock(linked_user_id=ready_link.pk, owner="another-run"), pytest.raises(LockHeld):
        sync_run_perform(run_id=run.pk)

    assert target.writes() == 0


def test_a_redelivered_task_takes_over_a_run_whose_worker_died(
    ready_link: LinkedUser, target: RecordingTarget
) -> None:
    run = SyncRun.objects.get(linked_user=ready_link)
    # The first delivery claimed the run and died: RUNNING is left behind, and its lock
    # expired, since nothing renews it.
    SyncRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, attempt=1)

    sync_run_perform(run_id=run.pk)

    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED
    assert run.attempt == 2


def test_a_second_delivery_never_shares_the_lock_its_first_delivery_holds(
    ready_link: LinkedUser, target: RecordingTarget
) -> None:
    run = SyncRun.objects.get(linked_user=ready_link)
    SyncRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, attempt=1)

    with run_lock(linked_user_id=ready_link.pk, owner=str(run.code)):
        # It steps aside for now, and looks again once that lock would have expired.
        with pytest.raises(RetryLater) as later:
            sync_run_perform(run_id=run.pk)
        assert later.value.check_back
        assert LOCK_TTL_SECONDS - 2 <= later.value.seconds <= LOCK_TTL_SECONDS + 3
        # Still held then: the first delivery is alive (it renewed it); this one is done.
        sync_run_perform(run_id=run.pk, checking_back=True)

    assert target.writes() == 0
    run.refresh_from_db()
    assert (run.status, run.attempt) == (RunStatus.RUNNING, 1)


def test_a_queued_run_is_claimed_by_one_delivery_only(
    ready_link: LinkedUser, target: RecordingTarget
) -> None:
    run = SyncRun.objects.get(linked_user=ready_link)

    sync_run_perform(run_id=run.pk)
    # The duplicate came when the first had finished: nothing to claim.
    sync_run_perform(run_id=run.pk)

    run.refresh_from_db()
    assert (run.status, run.attempt) == (RunStatus.SUCCEEDED, 1)
    assert target.writes() == run.created_count


def test_superoffice_down_queues_the_same_run_again(
    ready_link: LinkedUser, target: RecordingTarget, sandbox: SandboxControl
) -> None:
    run = SyncRun.objects.get(linked_user=ready_link)
    sandbox.set_maintenance(tenant=TENANT)

    with pytest.raises(RetryLater) as later:
        sync_run_perform(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED
    assert later.value.seconds == 30
    assert "Attempt 1 of 12 did not complete" in run.error_text

    sync_run_perform(run_id=run.pk, final_attempt=True)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "nothing was changed" in run.error_text


# --- The schedule ----------------------------------------------------------------------------


def test_the_dispatcher_queues_regular_and_housekeeping_runs_when_due(
    ready_link: LinkedUser, published: list[int]
) -> None:
    SyncRun.objects.update(status=RunStatus.SUCCEEDED)
    schedule = SyncSchedule.objects.get(linked_user=ready_link)
    now = timezone.now()

    assert sync_dispatch_due(now=now).regular == 0

    result = sync_dispatch_due(now=schedule.next_regular_at)
    assert (result.regular, result.housekeeping) == (1, 0)
    schedule.refresh_from_db()
    assert schedule.next_regular_at > now + timedelta(minutes=14)

    SyncRun.objects.update(status=RunStatus.SUCCEEDED)
    result = sync_dispatch_due(now=schedule.next_housekeeping_at)
    assert (result.regular, result.housekeeping) == (0, 1)
    assert SyncRun.objects.filter(kind=RunKind.HOUSEKEEPING).count() == 1


def test_the_dispatcher_skips_links_waiting_for_sign_in(ready_link: LinkedUser) -> None:
    SyncRun.objects.update(status=RunStatus.SUCCEEDED)
    SuperOfficeToken.objects.update(refresh_failed_at=timezone.now(), refresh_error="Revoked.")

    result = sync_dispatch_due(now=timezone.now() + timedelta(days=2))

    assert (result.regular, result.housekeeping) == (0, 0)


def test_a_due_user_whose_queued_run_covers_it_gets_nothing_more(ready_link: LinkedUser) -> None:
    # The queued first run reads everything a regular run would.
    result = sync_dispatch_due(now=timezone.now() + timedelta(minutes=31))

    assert (result.regular, result.merged) == (0, 0)
    assert SyncRun.objects.filter(linked_user=ready_link).count() == 1


def test_a_due_user_with_a_queued_catch_up_run_is_merged_not_doubled(
    ready_link: LinkedUser,
) -> None:
    SyncRun.objects.filter(linked_user=ready_link).update(kind=RunKind.PREFERENCE_CHANGE)

    result = sync_dispatch_due(now=timezone.now() + timedelta(minutes=31))

    assert result.merged == 1
    [run] = SyncRun.objects.filter(linked_user=ready_link)
    assert run.trigger["merged_kinds"] == [RunKind.REGULAR]


def test_a_user_whose_run_is_working_stays_due_until_it_finished(ready_link: LinkedUser) -> None:
    SyncRun.objects.filter(linked_user=ready_link).update(status=RunStatus.RUNNING)
    schedule = SyncSchedule.objects.get(linked_user=ready_link)
    housekeeping_time = schedule.next_housekeeping_at + timedelta(minutes=1)

    result = sync_dispatch_due(now=housekeeping_time)

    assert (result.regular, result.housekeeping, result.merged) == (0, 0, 0)
    schedule.refresh_from_db()
    assert schedule.next_housekeeping_at < housekeeping_time  # not skipped for a day

    SyncRun.objects.filter(linked_user=ready_link).update(status=RunStatus.SUCCEEDED)
    result = sync_dispatch_due(now=housekeeping_time + timedelta(minutes=1))
    assert result.housekeeping == 1


def test_each_user_keeps_their_offset_after_an_outage(ready_link: LinkedUser) -> None:
    SyncRun.objects.update(status=RunStatus.SUCCEEDED)
    schedule = SyncSchedule.objects.get(linked_user=ready_link)
    first_due = schedule.next_regular_at

    sync_dispatch_due(now=first_due + timedelta(hours=2, minutes=3))

    schedule.refresh_from_db()
    after = schedule.next_regular_at - first_due
    assert after % timedelta(minutes=15) == timedelta(0)
    assert timedelta(hours=2, minutes=3) < after <= timedelta(hours=2, minutes=18)


def test_the_dispatcher_does_a_fixed_number_of_queries(
    ready_link: LinkedUser, published: list[int]
) -> None:
    SyncRun.objects.update(status=RunStatus.SUCCEEDED)
    later = timezone.now() + timedelta(hours=1)

    def queries_for_one_tick() -> int:
        SyncRun.objects.update(status=RunStatus.SUCCEEDED)
        SyncSchedule.objects.update(next_regular_at=timezone.now())
        with CaptureQueriesContext(connection) as captured:
            sync_dispatch_due(now=later)
        return len(captured)

    one_user = queries_for_one_tick()
    # 31 users: SQLite takes at most 999 parameters per statement, so a bulk insert of
    # more runs is split in batches by the backend, which is not a query per user.
    for associate_id in range(2, 32):
        clone = LinkedUser.objects.create(
            tenant=ready_link.tenant,
            profile=ready_link.profile,
            user=ready_link.user,
            associate_id=associate_id,
            email=f"user{associate_id}@example.com",
        )
        TargetAccount.objects.create(linked_user=clone, verified_at=timezone.now())
        SyncSchedule.objects.create(
            linked_user=clone, next_regular_at=later, next_housekeeping_at=later + timedelta(days=1)
        )

    assert queries_for_one_tick() == one_user
    assert SyncRun.objects.filter(status=RunStatus.QUEUED).count() == 31


def test_every_log_line_of_a_run_names_its_tenant_user_and_run(
    ready_link: LinkedUser, target: RecordingTarget
) -> None:
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Collect(level=logging.INFO)
    handler.addFilter(RunContextFilter())
    engine_logger = logging.getLogger("syncengine")
    engine_logger.addHandler(handler)
    previous_level = engine_logger.level
    engine_logger.setLevel(logging.INFO)
    run = SyncRun.objects.get(linked_user=ready_link)
    try:
        sync_run_perform(run_id=run.pk)
    finally:
        engine_logger.removeHandler(handler)
        engine_logger.setLevel(previous_level)

    assert {record.getMessage() for record in records} >= {
        "sync run starting",
        "sync run finished: succeeded",
    }
    for record in records:
        assert getattr(record, "run") == str(run.code)  # noqa: B009
        assert getattr(record, "linked_user") == str(ready_link.code)  # noqa: B009
        assert getattr(record, "tenant") == TENANT  # noqa: B009


# --- Recovering from trouble --------------------------------------------------------------


def test_a_transient_failure_is_retried_by_the_task_then_recorded(
    ready_link: LinkedUser,
    target: RecordingTarget,
    sandbox: SandboxControl,
    settings: SettingsWrapper,
) -> None:
    from syncengine.tasks import sync_run_task

    run = SyncRun.objects.get(linked_user=ready_link)
    sandbox.set_maintenance(tenant=TENANT)
    # Eagerly, each retry runs at once, with the arguments the retry sends.
    settings.CELERY_TASK_EAGER_PROPAGATES = False

    sync_run_task.apply(args=(run.pk,))

    run.refresh_from_db()
    assert (run.status, run.attempt) == (RunStatus.FAILED, MAX_ATTEMPTS)
    assert f"Gave up after {MAX_ATTEMPTS} attempts" in run.error_text
    assert "nothing was changed" in run.error_text


def test_a_redelivered_run_that_had_written_starts_its_record_afresh(
    ready_link: LinkedUser, target: RecordingTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    from syncengine import writing

    monkeypatch.setattr(writing, "PROGRESS_SAVE_EVERY", 5)
    run = SyncRun.objects.get(linked_user=ready_link)
    SyncRun.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, progress_done=3, progress_total=3, created_count=3
    )

    sync_run_perform(run_id=run.pk)

    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED
    assert run.progress_done == run.progress_total == run.created_count == len(target.contacts)


def test_an_unexpected_error_closes_the_run_in_words_and_is_raised(
    ready_link: LinkedUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(account: object) -> RecordingTarget:
        raise ZeroDivisionError("a bug")

    monkeypatch.setitem(TARGETS, "carddav", broken)
    run = SyncRun.objects.get(linked_user=ready_link)

    with pytest.raises(ZeroDivisionError):
        sync_run_perform(run_id=run.pk)

    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "error on our side" in run.error_text


def test_a_lost_lock_stops_the_writes_and_queues_the_run_again(
    ready_link: LinkedUser, target: RecordingTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    from syncengine import locks

    monkeypatch.setattr(
        locks.HeldLock,
        "check",
        lambda self: (_ for _ in ()).throw(locks.LockLost("The run lost its lock.")),
    )
    run = SyncRun.objects.get(linked_user=ready_link)

    with pytest.raises(RetryLater):
        sync_run_perform(run_id=run.pk)

    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED
    assert target.writes() == 0


def test_a_mailbox_refusing_every_write_stops_the_run_early(
    ready_link: LinkedUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    unreachable = Unreachable()
    monkeypatch.setitem(TARGETS, "carddav", lambda account: unreachable)
    run = SyncRun.objects.get(linked_user=ready_link)

    with pytest.raises(RetryLater):
        sync_run_perform(run_id=run.pk)

    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED  # to be resumed
    assert "refused 5 writes" in run.error_text
    assert len(unreachable.calls) == 5


BOARD = {"id": 4, "name": "Styret"}  # 8 persons


class Unreachable(RecordingTarget):
    """A mailbox that refuses every write for now (down, or throttling us)."""

    def create(self, *, card: Any) -> Any:
        self.calls.append(("create", card.person_id))
        raise TargetError("connection refused")


def test_a_preference_change_the_mailbox_refused_is_resumed_with_its_change(
    ready_link: LinkedUser,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    SyncRun.objects.update(status=RunStatus.SUCCEEDED)
    with django_capture_on_commit_callbacks(execute=True):
        person_sync_preferences_update(
            linked_user=ready_link, changes={"static_selections": [BOARD]}
        )
    catch_up = SyncRun.objects.get(status=RunStatus.QUEUED)
    change = catch_up.trigger["preference_change"]
    monkeypatch.setitem(TARGETS, "carddav", lambda account: Unreachable())

    with pytest.raises(RetryLater) as later:
        sync_run_perform(run_id=catch_up.pk)

    # The same run is queued again, with its kind and change, after a backoff.
    catch_up.refresh_from_db()
    assert (catch_up.status, catch_up.kind, catch_up.attempt) == (
        RunStatus.QUEUED,
        RunKind.PREFERENCE_CHANGE,
        1,
    )
    assert catch_up.trigger["preference_change"] == change
    assert later.value.seconds == resume_delay(attempt=1)
    # A request meanwhile merges into it, as into any queued run.
    assert sync_run_request(linked_user_id=ready_link.pk, kind=RunKind.REGULAR) == catch_up

    working = RecordingTarget()
    monkeypatch.setitem(TARGETS, "carddav", lambda account: working)
    sync_run_perform(run_id=catch_up.pk)

    catch_up.refresh_from_db()
    assert (catch_up.status, catch_up.attempt) == (RunStatus.SUCCEEDED, 2)
    assert catch_up.error_text == ""
    assert catch_up.created_count == len(working.person_ids) >= 6  # the board's persons
    assert SyncRun.objects.filter(linked_user=ready_link).count() == 2  # one row per run


def test_a_mailbox_that_cannot_be_reached_for_now_resumes_the_run(
    ready_link: LinkedUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(account: object) -> RecordingTarget:
        raise TargetError("The address book did not answer within 30 seconds.")

    monkeypatch.setitem(TARGETS, "carddav", unreachable)
    run = SyncRun.objects.get(linked_user=ready_link)

    with pytest.raises(RetryLater):
        sync_run_perform(run_id=run.pk)

    run.refresh_from_db()
    assert (run.status, run.kind) == (RunStatus.QUEUED, RunKind.FIRST)
    assert "did not answer" in run.error_text

    # The next attempt says what happened to it, not what happened to every attempt before.
    with pytest.raises(RetryLater):
        sync_run_perform(run_id=run.pk)
    run.refresh_from_db()
    assert run.error_text.startswith(f"Attempt 2 of {MAX_ATTEMPTS} did not complete: The ")
    assert run.error_text.count("did not complete") == 1


def test_a_partial_run_whose_writes_were_refused_is_resumed_until_complete(
    ready_link: LinkedUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    class OneRefused(RecordingTarget):
        def create(self, *, card: Any) -> Any:
            if not self.calls:
                self.calls.append(("create", card.person_id))
                raise TargetError("429 Too Many Requests")
            return super().create(card=card)

    flaky = OneRefused()
    monkeypatch.setitem(TARGETS, "carddav", lambda account: flaky)
    run = SyncRun.objects.get(linked_user=ready_link)

    with pytest.raises(RetryLater):
        sync_run_perform(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED
    refused = flaky.calls[0][1]
    assert refused not in flaky.person_ids

    sync_run_perform(run_id=run.pk)

    run.refresh_from_db()
    assert (run.status, run.attempt) == (RunStatus.SUCCEEDED, 2)
    assert refused in flaky.person_ids


def test_resumes_back_off_exponentially_up_to_a_cap() -> None:
    delays = [resume_delay(attempt=attempt) for attempt in range(1, MAX_ATTEMPTS)]

    assert delays[:6] == [30, 60, 120, 240, 480, 600]
    assert max(delays) == 600


def test_a_run_whose_worker_died_is_resumed_and_lost_queued_runs_handed_over_again(
    ready_link: LinkedUser,
    published: list[int],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    queued = SyncRun.objects.get(linked_user=ready_link)
    long_ago = timezone.now() - timedelta(hours=1)
    SyncRun.objects.filter(pk=queued.pk).update(published_at=long_ago)
    change: dict[str, Any] = {"preference_change": {"old": {}, "new": {}}}
    dead = SyncRun.objects.create(
        linked_user=ready_link,
        kind=RunKind.PREFERENCE_CHANGE,
        trigger=change,
        status=RunStatus.RUNNING,
        started_at=long_ago,
        attempt=1,
    )
    alive = SyncRun.objects.create(
        linked_user=ready_link,
        kind=RunKind.REGULAR,
        status=RunStatus.RUNNING,
        started_at=long_ago,
        attempt=1,
    )

    published.clear()
    with (
        run_lock(linked_user_id=ready_link.pk, owner=str(alive.code)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        result = stale_runs_recover()

    assert (result.resumed, result.failed, result.republished) == (1, 0, 1)
    dead.refresh_from_db()
    alive.refresh_from_db()
    # The same run goes on, with its kind and change: not closed as failed.
    assert (dead.status, dead.kind, dead.trigger) == (
        RunStatus.QUEUED,
        RunKind.PREFERENCE_CHANGE,
        change,
    )
    assert "worker running it stopped" in dead.error_text
    assert alive.status == RunStatus.RUNNING
    assert sorted(published) == sorted([dead.pk, queued.pk])
    assert stale_runs_recover().republished == 0  # handed over once per half hour


def test_a_queued_run_whose_task_waits_for_the_lock_is_never_handed_over_again(
    ready_link: LinkedUser, target: RecordingTarget
) -> None:
    run = SyncRun.objects.get(linked_user=ready_link)
    SyncRun.objects.filter(pk=run.pk).update(published_at=timezone.now() - timedelta(minutes=29))

    # Its task is alive: it waits for another run of the user, trying every 30 s.
    with run_lock(linked_user_id=ready_link.pk, owner="another-run"), pytest.raises(LockHeld):
        sync_run_perform(run_id=run.pk)

    assert stale_runs_recover(now=timezone.now() + timedelta(minutes=5)).republished == 0


def test_a_run_whose_worker_died_too_often_is_closed_in_words(ready_link: LinkedUser) -> None:
    run = SyncRun.objects.get(linked_user=ready_link)
    SyncRun.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, started_at=timezone.now() - timedelta(hours=1), attempt=12
    )

    assert stale_runs_recover().failed == 1

    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "Gave up after 12 attempts" in run.error_text


def test_held_deletions_the_mailbox_refuses_stay_decided_with_the_reason(
    ready_link: LinkedUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    from syncengine.models import HeldDecision, HeldDeletion, PersonMapping
    from syncengine.performing import held_deletions_apply

    def refusing(account: object) -> RecordingTarget:
        raise TargetError("The mailbox rejected the user name or app password.", permanent=True)

    monkeypatch.setitem(TARGETS, "carddav", refusing)
    for person_id in (1, 2):
        PersonMapping.objects.create(
            linked_user=ready_link, person_id=person_id, target_uid=f"uid-{person_id}"
        )
    held = HeldDeletion.objects.create(
        linked_user=ready_link,
        person_ids=[1, 2],
        decision=HeldDecision.APPLY,
        decided_at=timezone.now(),
    )

    assert held_deletions_apply(held_id=held.pk) == 0

    held.refresh_from_db()
    # Still open: the user's next run carries the decision out.
    assert held.closed_at is None
    assert held.decision == HeldDecision.APPLY
    assert "rejected the user name" in held.error_text
