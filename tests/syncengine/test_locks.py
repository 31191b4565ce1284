"""The user's run lock: exclusive even to the same run, renewed while held, lost safely."""

from __future__ import annotations

from typing import cast

import pytest
from django.conf import settings

from syncengine import locks
from syncengine.locks import LockHeld, LockLost, run_lock, run_lock_owner


def test_the_lock_is_exclusive_even_to_another_delivery_of_the_same_run() -> None:
    with run_lock(linked_user_id=901, owner="run-a"):
        assert run_lock_owner(linked_user_id=901) == "run-a"
        with pytest.raises(LockHeld) as held, run_lock(linked_user_id=901, owner="run-a"):
            pass

    assert held.value.owner == "run-a"
    assert 0 < held.value.expires_in <= locks.LOCK_TTL_SECONDS
    assert run_lock_owner(linked_user_id=901) is None  # released
    with run_lock(linked_user_id=901, owner="run-b"):
        assert run_lock_owner(linked_user_id=901) == "run-b"


def test_a_lock_taken_from_its_holder_stops_its_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(locks, "HEARTBEAT_SECONDS", 0.05)
    client = locks._client(settings.REDIS_URL)

    with run_lock(linked_user_id=902, owner="run-a") as lock:
        lock.check()
        # Redis restarted, or the lock expired while the worker stalled, and another took it.
        client.set(locks._key(902), b"run-b:other-token")
        assert lock.lost.wait(timeout=5)
        with pytest.raises(LockLost):
            lock.check()

    # Its holder's release leaves the new owner's lock alone.
    assert run_lock_owner(linked_user_id=902) == "run-b"
    client.delete(locks._key(902))


def test_the_heartbeat_keeps_the_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(locks, "HEARTBEAT_SECONDS", 0.05)
    client = locks._client(settings.REDIS_URL)

    with run_lock(linked_user_id=903, owner="run-a") as lock:
        client.pexpire(locks._key(903), 300)
        assert not lock.lost.wait(timeout=0.6)  # renewed each beat, never expired
        assert cast(int, client.pttl(locks._key(903))) > 1000
        lock.check()
