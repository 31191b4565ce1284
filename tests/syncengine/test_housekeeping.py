from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from profiles.models import LinkedUser
from syncengine.housekeeping import sync_runs_prune
from syncengine.models import RunKind, RunStatus, SyncRun


def _run(link: LinkedUser, *, days_ago: int, status: str = RunStatus.SUCCEEDED) -> SyncRun:
    finished = timezone.now() - timedelta(days=days_ago)
    return SyncRun.objects.create(
        linked_user=link,
        kind=RunKind.REGULAR,
        status=status,
        finished_at=finished if status != RunStatus.QUEUED else None,
    )


def test_old_finished_runs_go_and_each_users_latest_stays(
    alice_link: LinkedUser, bob_link: LinkedUser
) -> None:
    old = _run(alice_link, days_ago=40)
    recent = _run(alice_link, days_ago=2)
    bobs_only = _run(bob_link, days_ago=90)
    waiting = _run(bob_link, days_ago=0, status=RunStatus.QUEUED)

    deleted = sync_runs_prune(keep_days=30)

    assert deleted == 1
    assert not SyncRun.objects.filter(pk=old.pk).exists()
    assert set(SyncRun.objects.values_list("pk", flat=True)) == {
        recent.pk,
        bobs_only.pk,
        waiting.pk,
    }


def test_the_retention_comes_from_settings(alice_link: LinkedUser, settings: object) -> None:
    setattr(settings, "RUN_RETENTION_DAYS", 1)  # noqa: B010
    _run(alice_link, days_ago=3)
    _run(alice_link, days_ago=0)

    assert sync_runs_prune() == 1
