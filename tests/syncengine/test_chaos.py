"""Chaos: real workers killed at random moments while a user's runs come and go, and the
address book still ends exactly as the rules say — nothing missing, nothing extra, no
person twice, the user's own cards untouched byte for byte.

Two Celery workers share the queue; a short lock (SYNC_RUN_LOCK_SECONDS) lets a killed
run be resumed within seconds. The phases are what a user's day brings: the first run,
a selection removed, the selection added back, Sync now, housekeeping; a kill lands
somewhere in each, sometimes two. CHAOS_KILLS, CHAOS_LONG and CHAOS_SEED (to replay a
failure) size it; `bench/chaos.py` runs the long version. Each run prints its
seed and its counts.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from django.utils import timezone

from preferences.selectors import effective_preferences_get
from preferences.services import person_sync_preferences_update
from profiles.models import LinkedUser
from syncengine.models import OPEN_STATUSES, RunKind, RunStatus, SyncRun
from syncengine.orchestration import sync_run_request
from syncengine.planner import plan_run
from syncengine.services import read_source, sync_window_for
from syncengine.superoffice import reads
from syncengine.superoffice.client import superoffice_client_for_linked_user
from synchronizer.celery import app
from tests.plugins.radicale import AddressBook, RadicaleHelper
from tests.plugins.worker import WorkerProcess, tasks_routed_to_a_fresh_queue
from tests.syncengine.test_end_to_end import (
    connect_mailbox,
    mapped_person_ids,
    person_ids_in,
    wait_for,
)

KEY_CUSTOMERS = {"id": 1, "name": "Nøkkelkunder Oslo"}  # 25 persons
LEADS = {"id": 3, "name": "Messe 2025 - leads"}  # 60 persons
# The long version's further static selections (persons and companies).
MORE_SELECTIONS = [
    {"id": 2, "name": "Partnere"},
    {"id": 4, "name": "Styret"},
    {"id": 10, "name": "Customers"},
    {"id": 11, "name": "VIP"},
    {"id": 14, "name": "Prosjektgruppe"},
]
LOCK_SECONDS = 3
KILLS = int(os.environ.get("CHAOS_KILLS", "10"))
# The long version adds selections and the favourites: some 250 persons instead of 120.
LONG = os.environ.get("CHAOS_LONG", "") == "1"
STAYING = [LEADS, *(MORE_SELECTIONS if LONG else [])]
SEED = int(os.environ.get("CHAOS_SEED", str(random.SystemRandom().randrange(10**6))))
FOREIGN_CARD = (
    "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:handwritten-by-ingrid\r\nFN:Mormor\r\n"
    "N:;Mormor;;;\r\nTEL;TYPE=CELL:+47 400 00 000\r\nEND:VCARD\r\n"
)


@dataclass
class Workers:
    """Two workers on one queue; a killed pool process is replaced by its worker."""

    all: list[WorkerProcess]
    random: random.Random
    kills: int = 0
    # Kills that hit a task at work (the others hit a worker between tasks).
    kills_mid_task: int = 0

    def busy(self) -> list[WorkerProcess]:
        nodes = [worker.node for worker in self.all]
        active = app.control.inspect(destination=nodes, timeout=0.3).active() or {}
        return [worker for worker in self.all if active.get(worker.node)]

    def kill_one(self) -> None:
        """SIGKILL the process running a task, where one runs; else a random worker's."""
        busy = self.busy()
        worker = self.random.choice(busy or self.all)
        if worker.pool_child_pids():
            worker.kill_pool_child()
            self.kills += 1
            self.kills_mid_task += bool(busy)

    def output(self) -> str:
        return "\n".join(worker.output()[-3000:] for worker in self.all)


@pytest.fixture
def workers(transactional_db: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workers]:
    queue = tasks_routed_to_a_fresh_queue(monkeypatch, label=f"chaos-{SEED}")
    started = [
        WorkerProcess(
            queue=queue, extra_env={"SYNC_RUN_LOCK_SECONDS": str(LOCK_SECONDS)}, name=name
        )
        for name in ("a", "b")
    ]
    try:
        for worker in started:
            worker.wait_until_ready()
        yield Workers(all=started, random=random.Random(SEED))
    finally:
        for worker in started:
            worker.stop()


def expected_person_ids(linked_user: LinkedUser) -> set[int]:
    """The rules, read straight from SuperOffice: everyone a full run would sync now."""
    preferences = effective_preferences_get(linked_user=linked_user)
    plan = plan_run(kinds={RunKind.FIRST}, preferences=preferences)
    window = sync_window_for(linked_user=linked_user, now=timezone.now())
    with superoffice_client_for_linked_user(linked_user=linked_user) as client:
        named: set[int] = set()
        described: set[int] = set()
        for key in plan.evaluate:
            members = read_source(key=key, client=client, linked_user=linked_user, window=window)
            named |= members.person_ids
            described |= set(members.persons)
        described |= set(reads.persons_by_ids(client=client, person_ids=named - described))
    return named & described


def all_runs_done(linked_user: LinkedUser) -> bool:
    return not SyncRun.objects.filter(linked_user=linked_user, status__in=OPEN_STATUSES).exists()


def run_phase(workers: Workers, start: Callable[[], None], *, linked_user: LinkedUser) -> None:
    """Start the phase, kill the task at work once or twice (a random moment after its run
    started), and wait until every run of the user has completed."""
    start()
    for _ in range(workers.random.choice((1, 1, 2))):
        if workers.kills >= KILLS:
            break
        running = SyncRun.objects.filter(linked_user=linked_user, status=RunStatus.RUNNING)
        with contextlib.suppress(AssertionError):  # the run may be over already
            wait_for(running.exists, seconds=10, what="a run at work")
        time.sleep(workers.random.uniform(0.0, 0.6))
        workers.kill_one()
    try:
        wait_for(lambda: all_runs_done(linked_user), seconds=120, what="the runs to complete")
    except AssertionError:
        raise AssertionError(f"seed {SEED}\n{workers.output()}") from None


@pytest.mark.django_db(transaction=True)
def test_killed_workers_leave_the_book_as_the_rules_say(
    workers: Workers, ingrid_link: LinkedUser, radicale: RadicaleHelper
) -> None:
    book: AddressBook = radicale.new_mailbox("chaos")
    foreign_ref = "handwritten-by-ingrid.vcf"
    book.put(foreign_ref, FOREIGN_CARD)
    foreign_before = book.read(foreign_ref)[0]
    person_sync_preferences_update(
        linked_user=ingrid_link,
        changes={
            "static_selections": [*STAYING, KEY_CUSTOMERS],
            "sync_favourite_contacts": LONG,
            "sync_favourite_company_contacts": LONG,
        },
    )

    def selections(chosen: list[dict[str, object]]) -> Callable[[], None]:
        def choose() -> None:
            person_sync_preferences_update(
                linked_user=ingrid_link, changes={"static_selections": chosen}
            )

        return choose

    def request(kind: RunKind) -> Callable[[], None]:
        def ask() -> None:
            sync_run_request(linked_user_id=ingrid_link.pk, kind=kind)

        return ask

    phases = [
        lambda: connect_mailbox(ingrid_link, book),
        selections(STAYING),
        selections([*STAYING, KEY_CUSTOMERS]),
        request(RunKind.REGULAR),
        request(RunKind.HOUSEKEEPING),
    ]
    phase = 0
    # Phases go on until the kills are spent; a run of bad luck (kills that find no worker
    # at work) must still end.
    while workers.kills < KILLS and phase < 4 * KILLS:
        run_phase(workers, phases[min(phase, len(phases) - 1)], linked_user=ingrid_link)
        phase += 1
        if phase >= len(phases):
            phases.append(request(workers.random.choice((RunKind.REGULAR, RunKind.HOUSEKEEPING))))

    in_book = person_ids_in(book)
    expected = expected_person_ids(ingrid_link)
    missing, extra = expected - set(in_book), set(in_book) - expected
    duplicates = len(in_book) - len(set(in_book))
    print(
        f"\nchaos seed {SEED}: {workers.kills} kills ({workers.kills_mid_task} mid-task) "
        f"over {phase} phases; "
        f"{len(expected)} persons expected, {len(set(in_book))} in the book: "
        f"{len(missing)} missing, {len(extra)} extra, {duplicates} duplicates"
    )
    assert (missing, extra, duplicates) == (set(), set(), 0), f"seed {SEED}"
    assert workers.kills_mid_task >= min(3, KILLS), "kills must hit runs at work"
    assert book.read(foreign_ref)[0] == foreign_before
    assert sorted(set(in_book)) == mapped_person_ids(ingrid_link)
    gave_up = SyncRun.objects.filter(linked_user=ingrid_link, status=RunStatus.FAILED)
    assert not gave_up.exists(), [run.error_text for run in gave_up]
