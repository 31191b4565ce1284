"""Fault rules for the identity and Graph endpoints (never for ``/_sandbox/``).

A rule matches by method and a substring of the path (with its query string); a Graph
``$batch`` sub-request is matched on its own method and URL. Kinds:

- ``status``: answer ``status`` instead of running the request (``Retry-After`` when given);
- ``lose_response``: run the request, keep its effects, then answer 504 as if the answer was
  lost on the way (for a sub-request: the whole batch answer is lost);
- ``latency``: sleep ``latency_ms`` while the request holds its in-flight slot.

``times`` counts how often a rule fires (absent: every time). Rules live in memory.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import asdict, dataclass
from typing import Any

KINDS = ("status", "lose_response", "latency")


@dataclass
class FaultRule:
    id: int
    kind: str
    path_contains: str = ""
    method: str | None = None
    status: int = 503
    times: int | None = None
    retry_after: int | None = None
    latency_ms: int = 0
    code: str | None = None
    fired: int = 0


class Faults:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rules: list[FaultRule] = []
        self.ids = itertools.count(1)

    def add(self, *, spec: dict[str, Any]) -> dict[str, Any]:
        """Add one rule; the kind defaults to ``status`` (or ``latency`` with ``latency_ms``)."""
        allowed = {"kind", "path_contains", "method", "status", "times", "retry_after",
                   "latency_ms", "code"}  # fmt: skip
        unknown = set(spec) - allowed
        if unknown:
            raise ValueError(f"Unknown fault fields: {', '.join(sorted(unknown))}")
        kind = str(spec.get("kind") or ("latency" if spec.get("latency_ms") else "status"))
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        status = int(spec.get("status", 504 if kind == "lose_response" else 503))
        if not 400 <= status <= 599:
            raise ValueError("status must be a 4xx or 5xx code")
        times = spec.get("times")
        if times is not None and int(times) < 1:
            raise ValueError("times must be at least 1")
        latency = int(spec.get("latency_ms", 0))
        if not 0 <= latency <= 60_000:
            raise ValueError("latency_ms must be between 0 and 60000")
        retry_after = spec.get("retry_after")
        method = spec.get("method")
        with self.lock:
            rule = FaultRule(
                id=next(self.ids),
                kind=kind,
                path_contains=str(spec.get("path_contains", "")),
                method=str(method).upper() if method else None,
                status=status,
                times=None if times is None else int(times),
                retry_after=None if retry_after is None else int(retry_after),
                latency_ms=latency,
                code=str(spec["code"]) if spec.get("code") else None,
            )
            self.rules.append(rule)
            return asdict(rule)

    def clear(self) -> None:
        with self.lock:
            self.rules.clear()

    def snapshot(self) -> list[dict[str, Any]]:
        with self.lock:
            return [asdict(rule) for rule in self.rules]

    def take(self, *, kind: str, method: str, target: str) -> FaultRule | None:
        """The first live rule of ``kind`` matching the request; counts it as fired."""
        with self.lock:
            for rule in self.rules:
                if rule.kind != kind or (rule.method and rule.method != method.upper()):
                    continue
                if rule.path_contains not in target:
                    continue
                if rule.times is not None and rule.fired >= rule.times:
                    continue
                rule.fired += 1
                return FaultRule(**asdict(rule))
        return None
