"""Each run kind through a real Celery worker on Redis, into a real Radicale address book,
reading the live sandbox; a worker killed mid-run, a whole worker lost, a duplicated
delivery; lost state and a re-linked user."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import requests
from defusedxml import ElementTree
from django.utils import timezone

from preferences.services import person_sync_preferences_update
from profiles.models import LinkedUser, TargetAccount
from profiles.services import linked_user_delete, linked_user_link
from profiles.signals import link_readiness_changed
from sandbox.testing import SandboxControl
from syncengine.locks import LOCK_TTL_SECONDS, run_lock_owner
from syncengine.models import PersonMapping, RunKind, RunStatus, SyncRun
from syncengine.orchestration import STALE_RUN_AFTER, stale_runs_recover, sync_run_request
from syncengine.performing import sync_run_perform
from tests.plugins.nordlys import TENANT
from tests.plugins.radicale import AddressBook, RadicaleHelper
from tests.plugins.worker import WorkerProcess

PERSON_MARK = re.compile(r"^X-SUPEROFFICE-PERSONID:(\d+)\r?$", re.MULTILINE)
KEY_CUSTOMERS = {"id": 1, "name": "Nøkkelkunder Oslo"}
BOARD = {"id": 4, "name": "Styret"}
LEADS = {"id": 3, "name": "Messe 2025 - leads"}  # 60 persons
FINISHED = {
    RunStatus.SUCCEEDED,
    RunStatus.PARTIAL,
    RunStatus.FAILED,
    RunStatus.SKIPPED,
    RunStatus.NEEDS_CONFIRMATION,
}


def person_ids_in(book: AddressBook) -> list[int]:
    """Every SuperOffice person id in the book, once per card (duplicates would repeat)."""
    return sorted(
        int(match) for text in book.cards().values() for match in PERSON_MARK.findall(text)
    )


def card_count(book: AddressBook) -> int:
    response = requests.request(
        "PROPFIND",
        book.url,
        auth=(book.username, book.password),
        headers={"Depth": "1"},
        data=b'<?xml version="1.0"?><propfind xmlns="DAV:"><prop><getetag/></prop></propfind>',
        timeout=10,
    )
    root = ElementTree.fromstring(response.content)
    return sum(1 for node in root.iter("{DAV:}href") if (node.text or "").endswith(".vcf"))


def wait_for(condition: Callable[[], Any], *, seconds: float = 60, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.05)
    raise AssertionError(f"Timed out waiting for {what}.")


def finished(run_id: int, *, worker: WorkerProcess | None = None) -> SyncRun:
    def done() -> SyncRun | None:
        run = SyncRun.objects.get(pk=run_id)
        return run if run.status in FINISHED else None

    try:
        return wait_for(done, seconds=90, what=f"run {run_id} to finish")  # type: ignore[no-any-return]
    except AssertionError:
        raise AssertionError(worker.output() if worker else "run did not finish") from None


def connect_mailbox(linked_user: LinkedUser, book: AddressBook) -> None:
    """What the portal does once the credentials test passed."""
    TargetAccount.objects.update_or_create(
        linked_user=linked_user,
        defaults={
            "username": book.username,
            "secret": book.password,
            "collection_url": book.url,
            "verified_at": timezone.now(),
        },
    )
    link_readiness_changed.send(sender=LinkedUser, linked_user_id=linked_user.pk)


def mapped_person_ids(linked_user: LinkedUser) -> list[int]:
    return sorted(
        PersonMapping.objects.filter(linked_user=linked_user).values_list("person_id", flat=True)
    )


def first_run_under_way(linked_user: LinkedUser, book: AddressBook) -> tuple[AddressBook, int]:
    """The user's first run of the 60 leads, started and a few cards in: (book, run id)."""
    person_sync_preferences_update(linked_user=linked_user, changes={"static_selections": [LEADS]})
    connect_mailbox(linked_user, book)
    run_id = SyncRun.objects.get(linked_user=linked_user).pk
    wait_for(lambda: card_count(book) >= 3, what="the first cards to be written")
    return book, run_id


@pytest.mark.django_db(transaction=True)
def test_every_run_kind_through_a_real_worker_into_radicale(
    celery_worker: WorkerProcess,
    ingrid_link: LinkedUser,
    radicale: RadicaleHelper,
    sandbox: SandboxControl,
) -> None:
    book = radicale.new_mailbox("ingrid")
    person_sync_preferences_update(
        linked_user=ingrid_link, changes={"static_selections": [KEY_CUSTOMERS]}
    )

    # First run: queued when the mailbox is connected, the last missing condition.
    connect_mailbox(ingrid_link, book)
    first = finished(SyncRun.objects.get(linked_user=ingrid_link).pk, worker=celery_worker)
    assert first.kind == RunKind.FIRST
    assert first.status == RunStatus.SUCCEEDED, first.error_text
    assert person_ids_in(book) == mapped_person_ids(ingrid_link)
    assert len(person_ids_in(book)) == first.created_count > 0

    # Every sync (Sync now): a person on a new appointment arrives.
    start = (timezone.now() + timedelta(days=2)).replace(microsecond=0).isoformat()
    sandbox.create_appointment(tenant=TENANT, associate_id=1, start=start, person_id=5101)
    regular = sync_run_request(linked_user_id=ingrid_link.pk, kind=RunKind.REGULAR)
    assert regular is not None
    assert finished(regular.pk, worker=celery_worker).created_count == 1
    assert 5101 in person_ids_in(book)

    # A preference change: the newly added selection's persons arrive.
    person_sync_preferences_update(
        linked_user=ingrid_link, changes={"static_selections": [KEY_CUSTOMERS, BOARD]}
    )
    catch_up = SyncRun.objects.filter(linked_user=ingrid_link).latest("queued_at")
    assert catch_up.kind == RunKind.PREFERENCE_CHANGE
    assert finished(catch_up.pk, worker=celery_worker).status == RunStatus.SUCCEEDED

    # Housekeeping: a person who left the selection leaves the address book.
    leaving = min(set(mapped_person_ids(ingrid_link)) - {5101})
    provenance = PersonMapping.objects.get(linked_user=ingrid_link, person_id=leaving).provenance
    for key in provenance:
        if key.startswith("selection:"):
            sandbox.remove_selection_member(
                tenant=TENANT, selection_id=int(key.split(":")[1]), person_id=leaving
            )
    housekeeping = sync_run_request(linked_user_id=ingrid_link.pk, kind=RunKind.HOUSEKEEPING)
    assert housekeeping is not None
    done = finished(housekeeping.pk, worker=celery_worker)
    assert done.status == RunStatus.SUCCEEDED, done.error_text
    if provenance == [k for k in provenance if k.startswith("selection:")]:
        assert leaving not in person_ids_in(book)
    assert person_ids_in(book) == mapped_person_ids(ingrid_link)
    assert len(set(person_ids_in(book))) == len(person_ids_in(book))


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_run_leaves_exactly_one_card_per_person(
    celery_worker: WorkerProcess,
    ingrid_link: LinkedUser,
    radicale: RadicaleHelper,
) -> None:
    book, run_id = first_run_under_way(ingrid_link, radicale.new_mailbox("crash"))
    killed = celery_worker.kill_pool_child()

    run = finished(run_id, worker=celery_worker)

    log = celery_worker.output()
    # The kill hit the task while it ran, and the broker handed the same task over again.
    assert "Task handler raised error: WorkerLostError" in log
    assert log.count("sync_run_task[") >= 3  # received, received again, succeeded

    assert killed not in celery_worker.pool_child_pids()
    assert run.status == RunStatus.SUCCEEDED, run.error_text
    in_book = person_ids_in(book)
    assert len(in_book) == len(set(in_book)), "a person was written twice"
    assert in_book == mapped_person_ids(ingrid_link)
    assert len(in_book) >= 60


@pytest.mark.django_db
def test_a_wiped_mapping_table_and_a_relinked_user_never_duplicate(
    ingrid_link: LinkedUser, radicale: RadicaleHelper
) -> None:
    book = radicale.new_mailbox("relink")
    person_sync_preferences_update(
        linked_user=ingrid_link, changes={"static_selections": [KEY_CUSTOMERS]}
    )
    connect_mailbox(ingrid_link, book)
    sync_run_perform(run_id=SyncRun.objects.get(linked_user=ingrid_link).pk)
    synced = person_ids_in(book)

    PersonMapping.objects.filter(linked_user=ingrid_link).delete()
    housekeeping = sync_run_request(linked_user_id=ingrid_link.pk, kind=RunKind.HOUSEKEEPING)
    assert housekeeping is not None
    sync_run_perform(run_id=housekeeping.pk)

    assert person_ids_in(book) == synced
    assert mapped_person_ids(ingrid_link) == synced

    # Unlinked and linked again: a new link, no mapping rows, the same address book.
    linked_user_delete(linked_user=ingrid_link)
    relinked = linked_user_link(
        profile=ingrid_link.profile, associate_id=1, email=ingrid_link.email
    )
    person_sync_preferences_update(
        linked_user=relinked, changes={"static_selections": [KEY_CUSTOMERS]}
    )
    connect_mailbox(relinked, book)
    first = SyncRun.objects.get(linked_user=relinked)
    sync_run_perform(run_id=first.pk)

    first.refresh_from_db()
    assert first.status == RunStatus.SUCCEEDED, first.error_text
    assert first.created_count == 0
    assert person_ids_in(book) == synced
    assert mapped_person_ids(relinked) == synced


@pytest.mark.django_db(transaction=True)
def test_a_duplicated_delivery_runs_once_and_the_other_steps_aside(
    celery_worker: WorkerProcess,
    more_workers: Callable[[], WorkerProcess],
    ingrid_link: LinkedUser,
    radicale: RadicaleHelper,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from syncengine import tasks

    second = more_workers()
    book = radicale.new_mailbox("twice")
    person_sync_preferences_update(linked_user=ingrid_link, changes={"static_selections": [LEADS]})
    # The run's message is held back, then delivered twice at once, to two workers.
    monkeypatch.setattr(tasks.sync_run_task, "delay", lambda *args: None)
    connect_mailbox(ingrid_link, book)
    run = SyncRun.objects.get(linked_user=ingrid_link)
    for _ in range(2):
        tasks.sync_run_task.apply_async((run.pk,), queue=celery_worker.queue)

    done = finished(run.pk, worker=celery_worker)

    logs = celery_worker.output() + second.output()
    assert done.status == RunStatus.SUCCEEDED, done.error_text
    assert logs.count("sync run starting") == 1
    assert "stepped aside" in logs
    assert done.attempt == 1
    in_book = person_ids_in(book)
    assert len(in_book) == len(set(in_book)) == done.created_count >= 60
    assert in_book == mapped_person_ids(ingrid_link)


@pytest.mark.django_db(transaction=True)
def test_a_first_run_whose_whole_worker_died_is_resumed_to_the_end(
    celery_worker: WorkerProcess,
    more_workers: Callable[[], WorkerProcess],
    ingrid_link: LinkedUser,
    radicale: RadicaleHelper,
) -> None:
    book, run_id = first_run_under_way(ingrid_link, radicale.new_mailbox("lost-worker"))

    # The machine is lost: its message stays unacknowledged at the broker for the
    # visibility timeout (most of an hour), and its lock expires, since nothing renews it.
    celery_worker.kill()
    survivor = more_workers()
    wait_for(
        lambda: run_lock_owner(linked_user_id=ingrid_link.pk) is None,
        seconds=LOCK_TTL_SECONDS + 10,
        what="the dead worker's lock to expire",
    )
    # What the dispatcher does every minute.
    assert stale_runs_recover(now=timezone.now() + STALE_RUN_AFTER).resumed == 1

    run = finished(run_id, worker=survivor)
    assert run.status == RunStatus.SUCCEEDED, run.error_text
    assert run.attempt == 2
    in_book = person_ids_in(book)
    assert len(in_book) == len(set(in_book)) >= 60
    assert in_book == mapped_person_ids(ingrid_link)
