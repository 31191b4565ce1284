"""The shared request budget, on the real Redis of the test run (REDIS_URL)."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from django.conf import settings
from pytest_django.fixtures import SettingsWrapper

from syncengine.superoffice.ratelimit import RedisRateLimiter, rate_limiter_from_settings

# The window is kept in Redis's clock with millisecond steps; this process measures with
# its own, so allow a little slack when comparing the two.
CLOCK_SLACK_SECONDS = 0.02


@pytest.fixture
def tenant() -> str:
    """A tenant key no other test (or engineer) shares."""
    return f"test-{uuid.uuid4().hex}"


def limiter(*, per_second: int | None) -> RedisRateLimiter:
    return RedisRateLimiter(redis_url=settings.REDIS_URL, per_second=per_second)


def assert_never_more_than(*, per_second: int, moments: list[float]) -> None:
    """In any one-second window there were at most `per_second` acquisitions."""
    ordered = sorted(moments)
    for first, later in zip(ordered, ordered[per_second:], strict=False):
        assert later - first >= 1.0 - CLOCK_SLACK_SECONDS, ordered


def test_requests_within_the_budget_go_at_once(tenant: str) -> None:
    budget = limiter(per_second=5)

    waited = [budget.acquire(tenant=tenant) for _ in range(5)]

    assert budget.waits == 0
    assert max(waited) < 0.1


def test_requests_over_the_budget_wait_for_the_window(tenant: str) -> None:
    per_second, extra = 5, 3
    budget = limiter(per_second=per_second)
    moments: list[float] = []
    started = time.monotonic()

    for _ in range(per_second + extra):
        budget.acquire(tenant=tenant)
        moments.append(time.monotonic())

    # The first over-budget request waits for the oldest to leave the window; those after
    # it may find room at once, as the first ones leave together.
    assert budget.waits >= 1
    assert time.monotonic() - started >= extra / per_second
    assert_never_more_than(per_second=per_second, moments=moments)


def test_two_limiters_share_one_budget(tenant: str) -> None:
    """Two workers (two connections) draw on the same tenant budget."""
    per_second, extra = 4, 4
    workers = [limiter(per_second=per_second), limiter(per_second=per_second)]
    moments: list[float] = []
    lock = threading.Lock()

    def work(budget: RedisRateLimiter) -> None:
        for _ in range((per_second + extra) // 2):
            budget.acquire(tenant=tenant)
            with lock:
                moments.append(time.monotonic())

    threads = [threading.Thread(target=work, args=(budget,)) for budget in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(moments) == per_second + extra
    assert sum(budget.waits for budget in workers) >= 1
    assert_never_more_than(per_second=per_second, moments=moments)


def test_each_tenant_has_its_own_budget(tenant: str) -> None:
    budget = limiter(per_second=2)
    for _ in range(2):
        budget.acquire(tenant=tenant)

    assert budget.acquire(tenant=f"{tenant}-other") < 0.1
    assert budget.waits == 0


@pytest.mark.parametrize("per_second", [0, None])
def test_no_limit_for_benchmarks_does_not_touch_redis(per_second: int | None) -> None:
    unreachable = RedisRateLimiter(redis_url="redis://127.0.0.1:1/0", per_second=per_second)

    assert [unreachable.acquire(tenant="any") for _ in range(50)] == [0.0] * 50


def test_the_limit_comes_from_settings(settings: SettingsWrapper) -> None:
    settings.SUPEROFFICE_MAX_REQUESTS_PER_SECOND = 3

    assert rate_limiter_from_settings().per_second == 3

    settings.SUPEROFFICE_MAX_REQUESTS_PER_SECOND = 0
    assert rate_limiter_from_settings().per_second == 0


def test_the_default_limit_is_superoffices_ten_per_second() -> None:
    from synchronizer import settings as project_settings

    assert project_settings.SUPEROFFICE_MAX_REQUESTS_PER_SECOND == 10


def test_a_pause_is_shared_and_only_ever_lengthened(tenant: str) -> None:
    one, other = limiter(per_second=5), limiter(per_second=5)
    assert one.paused_for(tenant=tenant) == 0

    one.pause(tenant=tenant, seconds=5)
    other.pause(tenant=tenant, seconds=1)  # a shorter Retry-After does not cut it short

    assert 4 < other.paused_for(tenant=tenant) <= 5
    assert other.paused_for(tenant=f"{tenant}-elsewhere") == 0
