"""One run per linked user at a time: a lock in Redis owned by the SyncRun's code.

The lock expires quickly unless a heartbeat renews it, so a worker that dies frees its
user within LOCK_TTL_SECONDS; a redelivered task of the same run may take its own lock
over at once.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from functools import cache

import redis
from django.conf import settings

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
    return f"syncengine:run-lock:{linked_user_id}"


def run_lock_owner(*, linked_user_id: int) -> str | None:
    value = _client(settings.REDIS_URL).get(_key(linked_user_id))
    return value.decode() if isinstance(value, bytes) else None


@contextlib.contextmanager
def run_lock(*, linked_user_id: int, owner: str) -> Iterator[None]:
    """Hold the user's lock for the block, renewing it in the background."""
    client = _client(settings.REDIS_URL)
    key, ttl_ms = _key(linked_user_id), str(LOCK_TTL_SECONDS * 1000)
    if not client.eval(_ACQUIRE, 1, key, owner, ttl_ms):
        raise LockHeld(f"Another run of linked user {linked_user_id} is working.")
    stop = threading.Event()

    def heartbeat() -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            client.eval(_RENEW, 1, key, owner, ttl_ms)

    beating = threading.Thread(target=heartbeat, name=f"run-lock-{owner}", daemon=True)
    beating.start()
    try:
        yield
    finally:
        stop.set()
        beating.join()
        client.eval(_RELEASE, 1, key, owner)
