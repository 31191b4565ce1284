"""Who a log line is about: tenant, linked user and run ids on every line of a run.

`log_context(...)` sets the ids for the code inside it (a context variable, so threads
and tasks never mix theirs up); `RunContextFilter`, installed on the log handlers by
settings.LOGGING, copies them onto every record, where the JSON formatter prints them.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator, Mapping
from types import MappingProxyType

_context: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "synchronizer_log_context", default=MappingProxyType({})
)
FIELDS = ("tenant", "linked_user", "run")


@contextlib.contextmanager
def log_context(**ids: str | None) -> Iterator[None]:
    unknown = set(ids) - set(FIELDS)
    if unknown:
        raise ValueError(f"Unknown log context fields: {sorted(unknown)}")
    merged = {**_context.get(), **{k: v for k, v in ids.items() if v is not None}}
    token = _context.set(merged)
    try:
        yield
    finally:
        _context.reset(token)


class RunContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _context.get().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True
