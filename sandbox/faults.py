"""Fault injection for the tenant API, and the request counters benchmarks read.

Faults live in memory (a restart clears them) and apply to ``/{ctx}/api/...`` only, never
to ``/_sandbox/``. Random failures draw from a seeded RNG, so a test that sets the same
seed sees the same sequence; ``fail_next`` queues exact statuses for exact tests.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

INJECTABLE_STATUSES = (429, 500, 503)
DEFAULT_ACCESS_TOKEN_LIFETIME = 3600


class FaultError(ValueError):
    """A fault setting that makes no sense; the message says which."""


@dataclass
class FaultSettings:
    latency_ms: int = 0
    error_rate: float = 0.0
    error_statuses: list[int] = field(default_factory=lambda: [429, 503, 500])
    retry_after_seconds: int = 1
    fail_next: list[int] = field(default_factory=list)
    random_seed: int = 0
    access_token_lifetime: int = DEFAULT_ACCESS_TOKEN_LIFETIME
    tokens_expired_before: float = 0.0
    moved_tenants: dict[str, str] = field(default_factory=dict)
    maintenance: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class InjectedFailure:
    status: int
    retry_after_seconds: int | None


class Faults:
    """The current fault settings, shared by every request thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.settings = FaultSettings()
        self.rng = random.Random(0)  # noqa: S311 - repeatable faults, not security

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return asdict(self.settings)

    def clear(self) -> None:
        with self.lock:
            self.settings = FaultSettings()
            self.rng = random.Random(0)  # noqa: S311 - repeatable faults, not security

    def update(self, *, changes: dict[str, Any]) -> dict[str, Any]:
        """Merge new settings; unknown keys and impossible values raise ``FaultError``."""
        allowed = set(FaultSettings.__dataclass_fields__) - {"tokens_expired_before"}
        unknown = set(changes) - allowed
        if unknown:
            raise FaultError(f"Unknown fault settings: {', '.join(sorted(unknown))}")
        with self.lock:
            merged = FaultSettings(**{**asdict(self.settings), **changes})
            validate(settings=merged)
            self.settings = merged
            if "random_seed" in changes:
                self.rng = random.Random(merged.random_seed)  # noqa: S311 - repeatable faults
            return asdict(self.settings)

    def expire_tokens_now(self) -> None:
        with self.lock:
            self.settings.tokens_expired_before = time.time()

    def move_tenant(self, *, ctx: str, host: str | None, request_host: str) -> str:
        """Make ``ctx`` answer on another host; return that host.

        Without a host, the tenant moves between ``127.0.0.1`` and ``localhost``, away from
        the host it is on now (or the host the caller used, when it never moved).
        """
        with self.lock:
            current = self.settings.moved_tenants.get(ctx, request_host)
            new_host = host or ("localhost" if current != "localhost" else "127.0.0.1")
            self.settings.moved_tenants[ctx] = new_host
            return new_host

    def set_maintenance(self, *, ctx: str, on: bool) -> None:
        with self.lock:
            names = set(self.settings.maintenance)
            if on:
                names.add(ctx)
            else:
                names.discard(ctx)
            self.settings.maintenance = sorted(names)

    def in_maintenance(self, *, ctx: str) -> bool:
        with self.lock:
            return ctx in self.settings.maintenance or "*" in self.settings.maintenance

    def tenant_host(self, *, ctx: str) -> str | None:
        with self.lock:
            return self.settings.moved_tenants.get(ctx)

    def latency_seconds(self) -> float:
        with self.lock:
            return self.settings.latency_ms / 1000

    def access_token_lifetime(self) -> int:
        with self.lock:
            return self.settings.access_token_lifetime

    def tokens_expired_before(self) -> float:
        with self.lock:
            return self.settings.tokens_expired_before

    def next_failure(self) -> InjectedFailure | None:
        """The failure the next tenant API request should get, if any."""
        with self.lock:
            settings = self.settings
            status: int | None = None
            if settings.fail_next:
                status = settings.fail_next.pop(0)
            elif settings.error_rate > 0 and self.rng.random() < settings.error_rate:
                status = self.rng.choice(settings.error_statuses)
            if status is None:
                return None
            retry_after = settings.retry_after_seconds if status in {429, 503} else None
            return InjectedFailure(status=status, retry_after_seconds=retry_after)


def validate(*, settings: FaultSettings) -> None:
    if settings.latency_ms < 0 or settings.latency_ms > 60_000:
        raise FaultError("latency_ms must be between 0 and 60000")
    if not 0 <= settings.error_rate <= 1:
        raise FaultError("error_rate must be between 0 and 1")
    for status in [*settings.error_statuses, *settings.fail_next]:
        if status not in INJECTABLE_STATUSES:
            raise FaultError(f"Only {INJECTABLE_STATUSES} can be injected, not {status}")
    if not settings.error_statuses:
        raise FaultError("error_statuses must name at least one status")
    if settings.retry_after_seconds < 0:
        raise FaultError("retry_after_seconds must not be negative")
    if settings.access_token_lifetime < 1:
        raise FaultError("access_token_lifetime must be at least 1 second")


class RequestCounter:
    """Counts requests per tenant and per kind, so benchmarks can count SuperOffice calls."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tenants: Counter[str] = Counter()
        self.kinds: Counter[str] = Counter()

    def count(self, *, kind: str, ctx: str | None = None) -> None:
        with self.lock:
            self.kinds[kind] += 1
            if ctx is not None:
                self.tenants[ctx] += 1

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "total": sum(self.kinds.values()),
                "tenant_api": self.kinds["tenant_api"],
                "per_tenant": dict(self.tenants),
                "per_kind": dict(self.kinds),
            }

    def clear(self) -> None:
        with self.lock:
            self.tenants.clear()
            self.kinds.clear()
