"""Outlook's limits per app and mailbox: requests in flight, and requests per sliding window.

Only requests that are let through count against the window, so ``Retry-After`` is exactly
the time until the oldest counted request leaves it. A ``$batch`` holds one in-flight slot
per mailbox it touches while it runs; its sub-requests then only spend window budget.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any


class Throttled(Exception):
    """The request is over a limit; answer 429 with ``Retry-After``."""

    def __init__(self, *, retry_after: int, limit: str) -> None:
        super().__init__(limit)
        self.retry_after = retry_after
        self.limit = limit


@dataclass
class Limits:
    concurrency: int
    budget: int
    window_seconds: int

    def check(self) -> None:
        if self.concurrency < 1 or self.budget < 1 or self.window_seconds < 1:
            raise ValueError("concurrency, budget and window_seconds must be at least 1")


@dataclass
class MailboxStats:
    label: str
    requests: int = 0
    throttled: int = 0
    max_concurrent: int = 0
    in_flight: int = 0
    window: deque[float] = field(default_factory=deque)


class Throttle:
    """In-flight counts and request times per ``(client id, mailbox)``, behind one lock."""

    def __init__(self, *, limits: Limits) -> None:
        self.lock = threading.Lock()
        self.limits = limits
        self.mailboxes: dict[tuple[str, str], MailboxStats] = {}

    def settings(self) -> dict[str, Any]:
        with self.lock:
            return asdict(self.limits)

    def configure(self, *, changes: dict[str, Any]) -> dict[str, Any]:
        unknown = set(changes) - {"concurrency", "budget", "window_seconds"}
        if unknown:
            raise ValueError(f"Unknown throttling settings: {', '.join(sorted(unknown))}")
        with self.lock:
            merged = Limits(**{**asdict(self.limits), **{k: int(v) for k, v in changes.items()}})
            merged.check()
            self.limits = merged
            return asdict(merged)

    def stats_for(self, *, key: tuple[str, str], label: str) -> MailboxStats:
        stats = self.mailboxes.get(key)
        if stats is None:
            stats = self.mailboxes[key] = MailboxStats(label=label)
        return stats

    def trim(self, *, stats: MailboxStats, now: float) -> None:
        while stats.window and stats.window[0] <= now - self.limits.window_seconds:
            stats.window.popleft()

    def enter(self, *, key: tuple[str, str], label: str, hold: bool) -> None:
        """Admit one request (``hold``: also take an in-flight slot) or raise ``Throttled``."""
        now = time.monotonic()
        with self.lock:
            stats = self.stats_for(key=key, label=label)
            stats.requests += 1
            if hold and stats.in_flight >= self.limits.concurrency:
                stats.throttled += 1
                raise Throttled(retry_after=1, limit="MailboxConcurrency")
            self.trim(stats=stats, now=now)
            if len(stats.window) >= self.limits.budget:
                stats.throttled += 1
                wait = stats.window[0] + self.limits.window_seconds - now
                raise Throttled(retry_after=max(1, math.ceil(wait)), limit="MailboxRequests")
            stats.window.append(now)
            if hold:
                stats.in_flight += 1
                stats.max_concurrent = max(stats.max_concurrent, stats.in_flight)

    def hold(self, *, key: tuple[str, str], label: str) -> None:
        """Take an in-flight slot without spending budget (a ``$batch`` for one mailbox)."""
        with self.lock:
            stats = self.stats_for(key=key, label=label)
            if stats.in_flight >= self.limits.concurrency:
                raise Throttled(retry_after=1, limit="MailboxConcurrency")
            stats.in_flight += 1
            stats.max_concurrent = max(stats.max_concurrent, stats.in_flight)

    def refuse(self, *, key: tuple[str, str], label: str) -> None:
        """Count a sub-request answered 429 because its batch got no slot for the mailbox."""
        with self.lock:
            stats = self.stats_for(key=key, label=label)
            stats.requests += 1
            stats.throttled += 1

    def leave(self, *, key: tuple[str, str]) -> None:
        with self.lock:
            stats = self.mailboxes.get(key)
            if stats is not None and stats.in_flight > 0:
                stats.in_flight -= 1

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Per mailbox (summed over apps): requests, throttled, peaks, window use."""
        now = time.monotonic()
        result: dict[str, dict[str, Any]] = {}
        with self.lock:
            for stats in self.mailboxes.values():
                self.trim(stats=stats, now=now)
                entry = result.setdefault(
                    stats.label,
                    {"requests": 0, "throttled": 0, "max_concurrent": 0, "in_flight": 0,
                     "requests_in_window": 0},
                )  # fmt: skip
                entry["requests"] += stats.requests
                entry["throttled"] += stats.throttled
                entry["max_concurrent"] = max(entry["max_concurrent"], stats.max_concurrent)
                entry["in_flight"] += stats.in_flight
                entry["requests_in_window"] += len(stats.window)
        return result

    def clear(self) -> None:
        """Forget counts and windows; requests still in flight keep their slots."""
        with self.lock:
            for key, stats in list(self.mailboxes.items()):
                if stats.in_flight:
                    self.mailboxes[key] = MailboxStats(label=stats.label, in_flight=stats.in_flight)
                else:
                    del self.mailboxes[key]
