"""One run per linked user at a time: a lock in Redis owned by the SyncRun's code.

The lock expires quickly unless a heartbeat renews it, so a worker that dies frees its
user within LOCK_TTL_SECONDS; a redelivered task of the same run may take its own lock
over at once.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache

import redis
from django.conf import settings

from syncengine.superoffice.errors import TransientError

LOCK_TTL_SECONDS = 60
HEARTBEAT_SECONDS = 15

# Take the lock when it is free or already ours (a redelivered task of the same run).
_ACQUIRE = """
local current = redis.call('GET', KEYS[1])
if current == false or current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class LockHeld(Exception):
    """Another run of the same linked user is working; try again shortly."""


@cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


def _key(linked_user_id: int) -> str:
    return f"{settings.REDIS_KEY_PREFIX}:run-lock:{linked_user_id}"


def run_lock_owner(*, linked_user_id: int) -> str | None:
    value = _client(settings.REDIS_URL).get(_key(linked_user_id))
    return value.decode() if isinstance(value, bytes) else None


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
    """Hold the user's lock for the block, renewing it in the background. If renewing
    fails, `HeldLock.lost` is set and `check()` raises, so the run can stop safely."""
    client = _client(settings.REDIS_URL)
    key, ttl_ms = _key(linked_user_id), str(LOCK_TTL_SECONDS * 1000)
    if not client.eval(_ACQUIRE, 1, key, owner, ttl_ms):
        raise LockHeld(f"Another run of linked user {linked_user_id} is working.")
    held = HeldLock()
    stop = threading.Event()

    def heartbeat() -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            try:
                renewed = client.eval(_RENEW, 1, key, owner, ttl_ms)
            except redis.RedisError:
                continue  # try again at the next beat: the TTL leaves room for three
            if not renewed:
                held.lost.set()
                return

    beating = threading.Thread(target=heartbeat, name=f"run-lock-{owner}", daemon=True)
    beating.start()
    try:
        yield held
    finally:
        stop.set()
        beating.join()
        with contextlib.suppress(redis.RedisError):
            client.eval(_RELEASE, 1, key, owner)
