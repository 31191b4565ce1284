"""One run per linked user at a time: an exclusive lock in Redis (redis-py's `Lock`).

Each holder takes the lock with a token of its own, "<owner>:<random>", where the owner
is the SyncRun's code: the lock is not reentrant, so a second delivery of the same run
cannot take what its first delivery holds, yet anyone can tell whose run holds it.
The lock expires quickly unless a heartbeat renews it, so a worker that dies frees its
user within LOCK_TTL_SECONDS.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import cast

import redis
from django.conf import settings
from redis.exceptions import LockError

from syncengine.superoffice.errors import TransientError

LOCK_TTL_SECONDS: int = settings.SYNC_RUN_LOCK_SECONDS
# Three beats fit in one TTL: one missed renewal (a Redis hiccup) does not lose the lock.
HEARTBEAT_SECONDS = LOCK_TTL_SECONDS / 3


class LockHeld(Exception):
    """Another holder (another run of the user, or another delivery of this run) has the
    user's lock; `owner` is its run's code, `expires_in` the seconds it has left unless
    it is renewed."""

    def __init__(self, message: str, *, owner: str | None, expires_in: float) -> None:
        super().__init__(message)
        self.owner = owner
        self.expires_in = expires_in


@cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


def _key(linked_user_id: int) -> str:
    return f"{settings.REDIS_KEY_PREFIX}:run-lock:{linked_user_id}"


def _owner_of(token: object) -> str | None:
    if not isinstance(token, bytes):
        return None
    return token.decode().rsplit(":", 1)[0]


def run_lock_owner(*, linked_user_id: int) -> str | None:
    """The code of the run whose worker holds the user's lock, if any."""
    return _owner_of(_client(settings.REDIS_URL).get(_key(linked_user_id)))


class LockLost(TransientError):
    """The run's lock expired or was taken (Redis restarted, the heartbeat stalled): the
    run stops writing at once, and its task tries again."""


@dataclass
class HeldLock:
    lost: threading.Event = field(default_factory=threading.Event)

    def check(self) -> None:
        if self.lost.is_set():
            raise LockLost("The run lost its lock, so it stopped writing; it will run again.")


@contextlib.contextmanager
def run_lock(*, linked_user_id: int, owner: str) -> Iterator[HeldLock]:
    """Hold the user's lock for the block, renewing it in the background, or raise
    LockHeld at once. If renewing fails, `HeldLock.lost` is set and `check()` raises, so
    the run can stop safely."""
    client = _client(settings.REDIS_URL)
    key = _key(linked_user_id)
    # thread_local=False: the heartbeat thread renews with the token this thread took.
    lock = client.lock(key, timeout=LOCK_TTL_SECONDS, blocking=False, thread_local=False)
    if not lock.acquire(token=f"{owner}:{uuid.uuid4().hex}"):
        holder, expires_ms = client.get(key), cast(int, client.pttl(key))
        raise LockHeld(
            f"Another run of linked user {linked_user_id} is working.",
            owner=_owner_of(holder),
            expires_in=max(expires_ms, 0) / 1000,
        )
    held = HeldLock()
    stop = threading.Event()

    def heartbeat() -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            try:
                lock.reacquire()
            except LockError:
                held.lost.set()  # expired and gone, or someone else's now
                return
            except redis.RedisError:
                continue  # try again at the next beat: the TTL leaves room for it

    beating = threading.Thread(target=heartbeat, name=f"run-lock-{owner}", daemon=True)
    beating.start()
    try:
        yield held
    finally:
        stop.set()
        beating.join()
        with contextlib.suppress(redis.RedisError, LockError):
            lock.release()
