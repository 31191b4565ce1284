"""One request budget per SuperOffice tenant, shared by every worker on every machine.

SuperOffice asks apps for no more than 10 API calls per second per tenant. Workers run
in many processes, so the budget lives in Redis: a sliding one-second window kept as a
sorted set of request times, checked and updated by one Lua script so that two workers
can never both take the last slot. The script reads Redis's own clock, so machines with
skewed clocks still share one window.

When SuperOffice answers 429/503 with `Retry-After`, the tenant is paused for that long,
in Redis too: every worker's next request to the tenant waits it out, also after the
client that was told gave up and its run ended.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from functools import cache
from typing import Protocol, cast

import redis
from django.conf import settings

WINDOW_MILLISECONDS = 1000
KEY_NAME = "superoffice-request-budget"
PAUSE_KEY_NAME = "superoffice-paused"

# KEYS[1]: the tenant's pause. ARGV[1]: milliseconds. Only ever lengthens a pause.
PAUSE_SCRIPT = """
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
    redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 0
"""

# KEYS[1]: the tenant's window. ARGV: limit, window (ms), a unique member for this request.
# Returns 0 when the request may go now (and records it), else the milliseconds until the
# oldest request in the window leaves it.
SLIDING_WINDOW_SCRIPT = """
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) < limit then
    redis.call('ZADD', key, now, ARGV[3])
    redis.call('PEXPIRE', key, window)
    return 0
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now + 1)
"""


class RateLimiter(Protocol):
    """What the client needs from a budget: wait until a request may go."""

    def acquire(self, *, tenant: str) -> float:
        """Block until the tenant's budget allows one more request; return seconds waited."""
        ...

    def pause(self, *, tenant: str, seconds: float) -> None:
        """SuperOffice asked for no requests to the tenant for this long."""
        ...

    def paused_for(self, *, tenant: str) -> float:
        """Seconds left of the tenant's pause; 0 when requests may go."""
        ...


class RedisRateLimiter:
    """At most `per_second` requests per second per tenant, across all processes.

    `per_second` of 0 or None lifts the limit (benchmarks measure the API, not the budget).
    """

    def __init__(
        self,
        *,
        redis_url: str,
        per_second: int | None,
        key_prefix: str = "synchronizer",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.per_second = per_second or 0
        self.key_prefix = key_prefix
        self.sleep = sleep
        self.redis = redis.Redis.from_url(redis_url)
        self.script = self.redis.register_script(SLIDING_WINDOW_SCRIPT)
        self.pause_script = self.redis.register_script(PAUSE_SCRIPT)
        self.waits = 0  # how many times acquire() had to sleep, for tests and benchmarks

    def _pause_key(self, tenant: str) -> str:
        return f"{self.key_prefix}:{PAUSE_KEY_NAME}:{tenant}"

    def pause(self, *, tenant: str, seconds: float) -> None:
        milliseconds = int(seconds * 1000)
        if milliseconds > 0:
            self.pause_script(keys=[self._pause_key(tenant)], args=[milliseconds])

    def paused_for(self, *, tenant: str) -> float:
        # PTTL is -2 without a pause, -1 never (the key is always set with an expiry).
        # redis-py types replies as "maybe awaitable"; this client is synchronous.
        milliseconds = cast(int, self.redis.pttl(self._pause_key(tenant)))
        return max(0, milliseconds) / 1000

    def acquire(self, *, tenant: str) -> float:
        if self.per_second <= 0:
            return 0.0
        started = time.monotonic()
        member = uuid.uuid4().hex
        while True:
            wait_ms = int(
                self.script(
                    keys=[f"{self.key_prefix}:{KEY_NAME}:{tenant}"],
                    args=[self.per_second, WINDOW_MILLISECONDS, member],
                )
            )
            if wait_ms <= 0:
                return time.monotonic() - started
            self.waits += 1
            self.sleep(wait_ms / 1000)


def rate_limiter_from_settings() -> RedisRateLimiter:
    """The shared limiter, with N from SUPEROFFICE_MAX_REQUESTS_PER_SECOND (default 10)."""
    per_second: int | None = settings.SUPEROFFICE_MAX_REQUESTS_PER_SECOND
    return _shared_limiter(
        redis_url=settings.REDIS_URL, per_second=per_second, key_prefix=settings.REDIS_KEY_PREFIX
    )


@cache
def _shared_limiter(*, redis_url: str, per_second: int | None, key_prefix: str) -> RedisRateLimiter:
    # One connection pool per process, not one per client (a run builds a client).
    return RedisRateLimiter(redis_url=redis_url, per_second=per_second, key_prefix=key_prefix)
