"""Settings of one sandbox process, read from the command line and the environment."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PORT = 8001
DEFAULT_PERSONS = 6000
DEFAULT_SEED = 20250101
DEMO_CLIENT_ID = "synchronizer-demo"
DEMO_CLIENT_SECRET = "synchronizer-demo-secret"  # noqa: S105 - a published demo credential


@dataclass(frozen=True)
class OAuthClient:
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...] = ()


@dataclass(frozen=True)
class SandboxConfig:
    data_dir: Path
    persons: int = DEFAULT_PERSONS
    seed: int = DEFAULT_SEED
    clients: tuple[OAuthClient, ...] = field(default_factory=tuple)

    def client(self, *, client_id: str) -> OAuthClient | None:
        return next((c for c in self.clients if c.client_id == client_id), None)


def clients_from_environment(*, raw: str | None = None) -> tuple[OAuthClient, ...]:
    """Read ``SANDBOX_CLIENTS`` (a JSON list); without it, register the demo client."""
    text = os.environ.get("SANDBOX_CLIENTS", "") if raw is None else raw
    if not text.strip():
        return (OAuthClient(client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET),)
    entries = json.loads(text)
    if not isinstance(entries, list):
        raise ValueError("SANDBOX_CLIENTS must be a JSON list of clients")
    clients = []
    for entry in entries:
        clients.append(
            OAuthClient(
                client_id=str(entry["client_id"]),
                client_secret=str(entry["client_secret"]),
                redirect_uris=tuple(str(uri) for uri in entry.get("redirect_uris", [])),
            )
        )
    return tuple(clients)
