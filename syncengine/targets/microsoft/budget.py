"""Outlook's limits per app and mailbox, kept by every worker together through Redis.

Microsoft throttles each (app, mailbox) pair: a number of requests per sliding window
(10,000 per 10 minutes) and a number of requests in flight (4). Workers in many processes
may write into one mailbox (a user's run and a housekeeping run, several users of one shared
mailbox), so both limits live in Redis, each checked and taken by one Lua script:

- the window is a sorted set of request times; a caller reserves N requests at once (every
  `$batch` sub-request counts) and sleeps until the window has room, so a big first run
  slows down instead of being throttled;
- the in-flight limit is a semaphore whose slots are leases that expire, so a worker killed
  mid-request frees its slot after `lease_seconds` at the latest.

Both scripts read Redis's own clock, so machines with skewed clocks share one window. When
Microsoft still answers 429, `pause` holds every worker back for the Retry-After it gave.
"""

from __future__ import annotations

import contextlib
import functools
import time
import uuid
from collections.abc import Callable, Iterator
from typing import cast

import redis
from django.conf import settings

from syncengine.targets.base import TargetError

KEY_NAME = "microsoft-mailbox"
# A slot not given back within this long is taken for abandoned (the worker died): longer
# than any request may take (timeouts are 30 s, retries happen outside the slot).
LEASE_SECONDS = 90.0
# Our window is this much longer than Microsoft's: a request is counted here a moment
# before Microsoft counts it, and network jitter must not push two windows' requests into one.
WINDOW_MARGIN_SECONDS = 0.25
# How often a caller waiting for a slot looks again: slots are held for one request.
SLOT_POLL_SECONDS = 0.02

# KEYS[1]: the window. ARGV: limit, window (ms), cost, a unique member prefix. Returns 0
# when the cost fits now (and records it), else milliseconds until enough of the oldest
# requests have left the window.
WINDOW_SCRIPT = """
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local used = redis.call('ZCARD', key)
if used + cost <= limit then
    for i = 1, cost do
        redis.call('ZADD', key, now, ARGV[4] .. ':' .. i)
    end
    redis.call('PEXPIRE', key, window)
    return 0
end
local last = used + cost - limit - 1
local leaving = redis.call('ZRANGE', key, last, last, 'WITHSCORES')
return math.max(1, tonumber(leaving[2]) + window - now + 1)
"""

# KEYS[1]: the slots. ARGV: limit, lease (ms), the holder. Returns 0 when the slot is
# taken, else milliseconds until the earliest lease runs out.
SLOT_SCRIPT = """
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local lease = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
if redis.call('ZCARD', key) < limit then
    redis.call('ZADD', key, now + lease, ARGV[3])
    redis.call('PEXPIRE', key, lease)
    return 0
end
local earliest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return math.max(1, tonumber(earliest[2]) - now)
"""

# KEYS[1]: the mailbox's pause. ARGV[1]: milliseconds. Only ever lengthens a pause.
PAUSE_SCRIPT = """
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
    redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 0
"""


class MailboxBudget:
    """At most `budget` requests per `window_seconds` and `concurrency` in flight, per
    (app, mailbox), across all processes."""

    def __init__(
        self,
        *,
        redis_url: str,
        key_prefix: str,
        client_id: str,
        budget: int,
        window_seconds: float,
        concurrency: int,
        lease_seconds: float = LEASE_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.budget = max(1, budget)
        self.window_ms = max(1, int((window_seconds + WINDOW_MARGIN_SECONDS) * 1000))
        self.concurrency = max(1, concurrency)
        self.lease_ms = max(1, int(lease_seconds * 1000))
        self.key_prefix = f"{key_prefix}:{KEY_NAME}:{client_id}"
        self.sleep = sleep
        self.redis = redis.Redis.from_url(redis_url)
        self.window_script = self.redis.register_script(WINDOW_SCRIPT)
        self.slot_script = self.redis.register_script(SLOT_SCRIPT)
        self.pause_script = self.redis.register_script(PAUSE_SCRIPT)
        # Times a caller slept for the window, for tests and benchmarks.
        self.waits = 0

    def _key(self, kind: str, mailbox: str) -> str:
        return f"{self.key_prefix}:{mailbox.lower()}:{kind}"

    def reserve(self, *, mailbox: str, cost: int = 1) -> float:
        """Block until `cost` more requests fit the mailbox's window; take them; return the
        seconds waited."""
        cost = min(max(1, cost), self.budget)
        started = time.monotonic()
        member = uuid.uuid4().hex
        self._wait_out_pause(mailbox=mailbox)
        while True:
            wait_ms = int(
                self.window_script(
                    keys=[self._key("window", mailbox)],
                    args=[self.budget, self.window_ms, cost, member],
                )
            )
            if wait_ms <= 0:
                return time.monotonic() - started
            self.waits += 1
            self.sleep(wait_ms / 1000)

    def acquire_slot(self, *, mailbox: str) -> str:
        """Block until a request slot is free; return its holder id (for `release_slot`)."""
        holder = uuid.uuid4().hex
        while True:
            wait_ms = int(
                self.slot_script(
                    keys=[self._key("slots", mailbox)],
                    args=[self.concurrency, self.lease_ms, holder],
                )
            )
            if wait_ms <= 0:
                return holder
            self.sleep(min(wait_ms / 1000, SLOT_POLL_SECONDS))

    def release_slot(self, *, mailbox: str, holder: str) -> None:
        self.redis.zrem(self._key("slots", mailbox), holder)

    @contextlib.contextmanager
    def request(self, *, mailbox: str, cost: int = 1) -> Iterator[None]:
        """Around one HTTP request carrying `cost` Graph requests: window, then a slot.
        Redis out of reach is a passing failure of the run, told in words."""
        try:
            self.reserve(mailbox=mailbox, cost=cost)
            holder = self.acquire_slot(mailbox=mailbox)
        except redis.RedisError as error:
            raise TargetError(
                f"The shared request budget for Microsoft 365 (Redis) could not be reached: "
                f"{error}; the run tries again later."
            ) from error
        try:
            yield
        finally:
            with contextlib.suppress(redis.RedisError):  # the lease expires by itself
                self.release_slot(mailbox=mailbox, holder=holder)

    def pause(self, *, mailbox: str, seconds: float) -> None:
        """Microsoft asked for no requests to the mailbox for this long (429 Retry-After)."""
        milliseconds = int(seconds * 1000)
        # Advice to the other workers: without Redis each still honours its own Retry-After.
        if milliseconds > 0:
            with contextlib.suppress(redis.RedisError):
                self.pause_script(keys=[self._key("paused", mailbox)], args=[milliseconds])

    def paused_for(self, *, mailbox: str) -> float:
        # redis-py types replies as "maybe awaitable"; this client is synchronous.
        milliseconds = cast(int, self.redis.pttl(self._key("paused", mailbox)))
        return max(0, milliseconds) / 1000

    def _wait_out_pause(self, *, mailbox: str) -> None:
        paused = self.paused_for(mailbox=mailbox)
        if paused > 0:
            self.waits += 1
            self.sleep(paused)


def budget_from_settings() -> MailboxBudget:
    """The process's budget, with the limits from the MICROSOFT_MAILBOX_* settings."""
    return _shared_budget(
        redis_url=settings.REDIS_URL,
        key_prefix=settings.REDIS_KEY_PREFIX,
        client_id=settings.MICROSOFT_CLIENT_ID,
        budget=settings.MICROSOFT_MAILBOX_BUDGET,
        window_seconds=settings.MICROSOFT_MAILBOX_BUDGET_WINDOW_SECONDS,
        concurrency=settings.MICROSOFT_MAILBOX_CONCURRENCY,
    )


@functools.cache
def _shared_budget(
    *,
    redis_url: str,
    key_prefix: str,
    client_id: str,
    budget: int,
    window_seconds: float,
    concurrency: int,
) -> MailboxBudget:
    # One connection pool per process, not one per target (a run opens a target).
    return MailboxBudget(
        redis_url=redis_url,
        key_prefix=key_prefix,
        client_id=client_id,
        budget=budget,
        window_seconds=window_seconds,
        concurrency=concurrency,
    )
