from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from pytest_django.fixtures import SettingsWrapper

from profiles.models import LinkedUser, Tenant
from syncengine.console import queue_state, runs_needing_attention, runs_per_hour, tenants_health
from syncengine.models import HeldDecision, HeldDeletion, RunKind, RunStatus, SyncRun


def _run(
    link: LinkedUser, status: str, *, hours_ago: float = 0, kind: str = RunKind.REGULAR
) -> SyncRun:
    finished = timezone.now() - timedelta(hours=hours_ago)
    return SyncRun.objects.create(linked_user=link, kind=kind, status=status, finished_at=finished)


def test_runs_per_hour_counts_runs_and_failures_with_empty_hours(alice_link: LinkedUser) -> None:
    _run(alice_link, RunStatus.SUCCEEDED, hours_ago=0)
    _run(alice_link, RunStatus.FAILED, hours_ago=0)
    _run(alice_link, RunStatus.SUCCEEDED, hours_ago=5)
    _run(alice_link, RunStatus.SUCCEEDED, hours_ago=30)  # outside the 24 hours

    hours = runs_per_hour()

    assert len(hours) == 24
    assert (hours[-1].runs, hours[-1].failures) == (2, 1)
    assert sum(h.runs for h in hours) == 3
    assert [h.hour for h in hours] == sorted(h.hour for h in hours)


def test_attention_lists_each_users_latest_failure_or_held_run(
    alice_link: LinkedUser, bob_link: LinkedUser, charlie_link: LinkedUser
) -> None:
    _run(alice_link, RunStatus.FAILED, hours_ago=2)
    _run(alice_link, RunStatus.SUCCEEDED, hours_ago=1)  # recovered since
    held = _run(bob_link, RunStatus.NEEDS_CONFIRMATION)
    HeldDeletion.objects.create(linked_user=bob_link, person_ids=[1], last_run=held)
    failed = _run(charlie_link, RunStatus.FAILED, hours_ago=0.5)

    assert runs_needing_attention() == [held, failed]


def test_attention_lists_the_run_that_last_held_an_undecided_deletion_once(
    bob_link: LinkedUser,
) -> None:
    asked = _run(bob_link, RunStatus.NEEDS_CONFIRMATION, hours_ago=1)
    again = _run(bob_link, RunStatus.SUCCEEDED)  # held the same persons again
    held = HeldDeletion.objects.create(linked_user=bob_link, person_ids=[1], last_run=again)
    SyncRun.objects.filter(pk__in=[asked.pk, again.pk]).update(held_deletion=held)

    assert runs_needing_attention() == [again]

    held.decision = HeldDecision.KEEP
    held.save()
    assert runs_needing_attention() == []


def test_tenants_health(
    acme: Tenant, globex: Tenant, alice_link: LinkedUser, bob_link: LinkedUser
) -> None:
    _run(alice_link, RunStatus.FAILED, hours_ago=1)
    last = _run(bob_link, RunStatus.SUCCEEDED)
    bob_link.soft_delete()

    by_tenant = {health.tenant: health for health in tenants_health()}

    assert by_tenant[acme].linked_users == 1
    assert by_tenant[acme].failing_users == 1
    assert by_tenant[acme].last_run_at == last.finished_at
    assert by_tenant[globex].linked_users == 0
    assert by_tenant[globex].failing_share == 0.0


def test_queue_state_with_no_worker_and_with_the_broker_down(
    db: None, settings: SettingsWrapper
) -> None:
    state = queue_state()
    assert "celery" in state.depths
    assert state.broker_error == ""

    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    down = queue_state()
    assert down.broker_error.startswith("The broker does not answer")


def test_a_failure_stays_until_a_later_run_covering_its_kinds_succeeded(
    alice_link: LinkedUser,
) -> None:
    change = _run(alice_link, RunStatus.FAILED, hours_ago=3, kind=RunKind.PREFERENCE_CHANGE)
    _run(alice_link, RunStatus.SUCCEEDED, hours_ago=2)  # a regular run reads less

    assert runs_needing_attention() == [change]

    _run(alice_link, RunStatus.SUCCEEDED, hours_ago=1, kind=RunKind.HOUSEKEEPING)
    assert runs_needing_attention() == []


def test_a_failure_is_resolved_by_its_retry_and_listed_once_per_kind(
    alice_link: LinkedUser,
) -> None:
    _run(alice_link, RunStatus.FAILED, hours_ago=4, kind=RunKind.PREFERENCE_CHANGE)
    newer = _run(alice_link, RunStatus.PARTIAL, hours_ago=3, kind=RunKind.PREFERENCE_CHANGE)

    assert runs_needing_attention() == [newer]

    retry = _run(alice_link, RunStatus.SUCCEEDED, hours_ago=1, kind=RunKind.PREFERENCE_CHANGE)
    retry.trigger = {"retry_of": [str(newer.code)]}
    retry.save()
    assert runs_needing_attention() == []  # the older one asked for the same
