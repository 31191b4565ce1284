from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from profiles.models import LinkedUser
from syncengine.models import PersonMapping, RunKind, RunStatus, SyncRun


def test_progress_percent_follows_the_counts(alice_link: LinkedUser) -> None:
    run = SyncRun.objects.create(linked_user=alice_link, kind=RunKind.FIRST)
    assert run.progress_percent == 0

    run.progress_total, run.progress_done = 40, 10
    assert run.progress_percent == 25

    run.progress_total, run.progress_done, run.status = 0, 0, RunStatus.SUCCEEDED
    assert run.progress_percent == 100
    assert run.is_finished


def test_progress_cannot_pass_the_total(alice_link: LinkedUser) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        SyncRun.objects.create(
            linked_user=alice_link, kind=RunKind.REGULAR, progress_done=5, progress_total=4
        )


def test_one_mapping_per_user_and_person(alice_link: LinkedUser, bob_link: LinkedUser) -> None:
    PersonMapping.objects.create(linked_user=alice_link, person_id=7, target_uid="so-person-7")
    # Another user's mailbox gets its own copy of the same person.
    PersonMapping.objects.create(linked_user=bob_link, person_id=7, target_uid="so-person-7")

    with pytest.raises(IntegrityError), transaction.atomic():
        PersonMapping.objects.create(linked_user=alice_link, person_id=7, target_uid="other")
    with pytest.raises(IntegrityError), transaction.atomic():
        PersonMapping.objects.create(linked_user=alice_link, person_id=8, target_uid="so-person-7")
