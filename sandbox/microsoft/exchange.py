"""What passes between the Graph layers: a request (top-level or a ``$batch``
sub-request), its answer, and the context a handler runs in."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

from sandbox.microsoft.runtime import MicrosoftRuntime
from sandbox.microsoft.tokens import Caller


@dataclass(frozen=True)
class GraphRequest:
    method: str
    path: str  # below /v1.0, starting with "/"
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: Any
    base_url: str  # "http://host:port/v1.0"


@dataclass
class GraphResponse:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    injected: bool = False  # answered by a status fault rule, not by running the request


@dataclass(frozen=True)
class Context:
    """What a handler needs: the store, the caller, and the mailbox the path names."""

    runtime: MicrosoftRuntime
    request: GraphRequest
    caller: Caller
    user: sqlite3.Row | None
    rest: str  # the path after /me or /users/{id}; the whole path otherwise
