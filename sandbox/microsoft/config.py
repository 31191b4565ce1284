"""Settings of one Microsoft stand-in process, from the command line and the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PORT = 8002
DEFAULT_TLS_PORT = 8443
DEMO_CLIENT_ID = "synchronizer-demo-graph"
DEMO_CLIENT_SECRET = "synchronizer-demo-graph-secret"  # noqa: S105 - a published demo credential
GRAPH_AUDIENCE = "https://graph.microsoft.com"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
APP_PERMISSIONS = ("Contacts.ReadWrite", "User.Read.All")
DEFAULT_CONCURRENCY = 4
DEFAULT_BUDGET = 10_000
DEFAULT_WINDOW_SECONDS = 600
DEFAULT_TOKEN_LIFETIME = 3600


@dataclass(frozen=True)
class MicrosoftConfig:
    data_dir: Path
    host: str = "127.0.0.1"
    client_id: str = DEMO_CLIENT_ID
    client_secret: str = DEMO_CLIENT_SECRET
    concurrency: int = DEFAULT_CONCURRENCY
    budget: int = DEFAULT_BUDGET
    window_seconds: int = DEFAULT_WINDOW_SECONDS
    token_lifetime: int = DEFAULT_TOKEN_LIFETIME


def environment_int(*, name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def client_from_environment() -> tuple[str, str]:
    """The one registered app: ``MICROSOFT_CLIENT_ID`` / ``MICROSOFT_CLIENT_SECRET``."""
    return (
        os.environ.get("MICROSOFT_CLIENT_ID") or DEMO_CLIENT_ID,
        os.environ.get("MICROSOFT_CLIENT_SECRET") or DEMO_CLIENT_SECRET,
    )
