"""The per-mailbox budget in Redis: the window is never exceeded, callers wait, and a
slot held by a dead worker comes free when its lease runs out."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest

from syncengine.targets.microsoft.budget import MailboxBudget


@pytest.fixture
def make_budget(settings: Any) -> Any:
    client_id = f"test-{uuid.uuid4().hex}"  # keys of this test alone

    def make(**limits: Any) -> MailboxBudget:
        return MailboxBudget(
            redis_url=settings.REDIS_URL,
            key_prefix=settings.REDIS_KEY_PREFIX,
            client_id=client_id,
            **{"budget": 5, "window_seconds": 0.5, "concurrency": 4, **limits},
        )

    return make


def test_the_window_is_never_exceeded_and_callers_wait(make_budget: Any) -> None:
    budget = make_budget(budget=5, window_seconds=0.5)
    taken: list[tuple[float, int]] = []
    lock = threading.Lock()

    def spend(cost: int) -> None:
        for _ in range(3):
            budget.reserve(mailbox="ann@contoso.example", cost=cost)
            with lock:
                taken.append((time.monotonic(), cost))

    threads = [threading.Thread(target=spend, args=(cost,)) for cost in (1, 2, 3, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert budget.waits > 0
    # 24 requests at 5 per half second: at least four windows' wait.
    assert max(t for t, _ in taken) - min(t for t, _ in taken) >= 1.5
    for start, _ in taken:
        in_window = sum(cost for t, cost in taken if start <= t < start + 0.5 - 0.02)
        assert in_window <= 5


def test_a_mailbox_slot_is_freed_when_its_lease_runs_out(make_budget: Any) -> None:
    budget = make_budget(concurrency=1, lease_seconds=0.3)
    budget.acquire_slot(mailbox="ann@contoso.example")  # a worker that died holding it

    started = time.monotonic()
    holder = budget.acquire_slot(mailbox="ann@contoso.example")
    budget.release_slot(mailbox="ann@contoso.example", holder=holder)

    assert 0.2 <= time.monotonic() - started < 2


def test_slots_are_per_mailbox(make_budget: Any) -> None:
    budget = make_budget(concurrency=1, lease_seconds=30)
    budget.acquire_slot(mailbox="ann@contoso.example")

    started = time.monotonic()
    budget.acquire_slot(mailbox="bob@contoso.example")

    assert time.monotonic() - started < 0.2
