from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from profiles.models import LinkedUser, TargetAccount
from syncengine.models import RunKind, RunStatus, SyncRun
from syncengine.targets import TARGETS
from syncengine.targets.memory import RecordingTarget


@pytest.fixture
def target(monkeypatch: pytest.MonkeyPatch, ingrid_link: LinkedUser) -> RecordingTarget:
    recording = RecordingTarget()
    monkeypatch.setitem(TARGETS, "carddav", lambda account: recording)
    TargetAccount.objects.create(
        linked_user=ingrid_link, collection_url="http://127.0.0.1:1/", verified_at=timezone.now()
    )
    return recording


def test_it_runs_the_user_in_the_foreground_with_progress(
    ingrid_link: LinkedUser, target: RecordingTarget
) -> None:
    out = io.StringIO()

    call_command("sync_user", ingrid_link.email, "--kind", "housekeeping", stdout=out)

    run = SyncRun.objects.get(linked_user=ingrid_link, kind=RunKind.HOUSEKEEPING)
    assert run.status == RunStatus.SUCCEEDED
    assert f"{run.created_count}/{run.created_count}" in out.getvalue()
    assert f"Succeeded: {run.created_count} created" in out.getvalue()
    assert len(target.contacts) == run.created_count > 0


def test_it_finds_a_link_by_its_code(ingrid_link: LinkedUser, target: RecordingTarget) -> None:
    call_command("sync_user", str(ingrid_link.code), stdout=io.StringIO())

    assert SyncRun.objects.get(linked_user=ingrid_link).kind == RunKind.REGULAR


def test_it_says_why_a_user_cannot_run(ingrid_link: LinkedUser) -> None:
    with pytest.raises(CommandError, match="Waiting for mailbox credentials"):
        call_command("sync_user", ingrid_link.email, stdout=io.StringIO())

    assert not SyncRun.objects.exists()


def test_an_unknown_user_is_a_clear_error(db: None) -> None:
    with pytest.raises(CommandError, match=r"No linked user matches “nobody@example\.com”"):
        call_command("sync_user", "nobody@example.com", stdout=io.StringIO())
