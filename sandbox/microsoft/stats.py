"""Counters a test or the demo reads: Graph requests, those without the ImmutableId
preference (each ``$batch`` sub-request on its own, the envelope not at all), batches."""

from __future__ import annotations

import threading
from collections import Counter, deque
from typing import Any

RECENT = 20


def wants_immutable_ids(*, prefer: str) -> bool:
    """``Prefer: IdType="ImmutableId"``, possibly among other preferences."""
    for part in prefer.split(","):
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == "idtype" and value.strip().strip('"') == "ImmutableId":
            return True
    return False


class Counters:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.without_immutable_id = 0
        self.recent_without: deque[str] = deque(maxlen=RECENT)
        self.batches = 0
        self.largest_batch = 0
        self.statuses: Counter[int] = Counter()

    def clear(self) -> None:
        with self.lock:
            self.reset()

    def request(self, *, method: str, path: str, prefer: str) -> None:
        with self.lock:
            self.requests += 1
            if not wants_immutable_ids(prefer=prefer):
                self.without_immutable_id += 1
                self.recent_without.append(f"{method} {path}")

    def batch(self, *, size: int) -> None:
        with self.lock:
            self.batches += 1
            self.largest_batch = max(self.largest_batch, size)

    def status(self, *, status: int) -> None:
        with self.lock:
            self.statuses[status] += 1

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": self.requests,
                "without_immutable_id": self.without_immutable_id,
                "recent_without_immutable_id": list(self.recent_without),
                "batches": self.batches,
                "largest_batch": self.largest_batch,
                "statuses": {str(key): value for key, value in sorted(self.statuses.items())},
            }
