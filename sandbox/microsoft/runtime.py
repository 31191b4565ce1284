"""Everything one stand-in process holds: database, signing key, certificate, the
addresses of its two listeners, throttling, faults and counters."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from flask import Flask, current_app

from sandbox.microsoft.config import MicrosoftConfig
from sandbox.microsoft.faults import Faults
from sandbox.microsoft.stats import Counters
from sandbox.microsoft.storage import open_database, wipe
from sandbox.microsoft.throttling import Limits, Throttle
from sandbox.microsoft.tls import ensure_certificate
from sandbox.runtime import load_signing_key


@dataclass(frozen=True)
class Addresses:
    """Where the listeners answer; set once both are bound."""

    host: str
    port: int
    tls_port: int

    def http(self, *, host: str | None = None) -> str:
        return f"http://{host or self.host}:{self.port}"

    def https(self, *, host: str | None = None) -> str:
        return f"https://{host or self.host}:{self.tls_port}"


class MicrosoftRuntime:
    def __init__(self, *, config: MicrosoftConfig, reset: bool = False) -> None:
        self.config = config
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self.cert_path, self.key_path = ensure_certificate(data_dir=config.data_dir)
        self.signing_key = load_signing_key(data_dir=config.data_dir)
        self.database = open_database(data_dir=config.data_dir, reset=reset)
        self.throttle = Throttle(
            limits=Limits(
                concurrency=config.concurrency,
                budget=config.budget,
                window_seconds=config.window_seconds,
            )
        )
        self.faults = Faults()
        self.counters = Counters()
        self.token_lifetime = config.token_lifetime
        self.lock = threading.Lock()
        self.addresses = Addresses(host=config.host, port=0, tls_port=0)

    def delta_epoch(self) -> int:
        value = self.database.scalar("SELECT value FROM meta WHERE key = 'delta_epoch'")
        return int(value or 0)

    def expire_delta_tokens(self) -> int:
        """Make every delta and skip token issued so far answer 410."""
        with self.database.transaction() as connection:
            epoch = self.delta_epoch() + 1
            connection.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('delta_epoch', ?)", (str(epoch),)
            )
        return epoch

    def reset(self) -> None:
        """Wipe data, faults, counters and throttling; keep the certificate and signing key."""
        wipe(database=self.database)
        self.expire_delta_tokens()
        self.faults.clear()
        self.counters.clear()
        self.throttle.clear()
        self.throttle.configure(
            changes={
                "concurrency": self.config.concurrency,
                "budget": self.config.budget,
                "window_seconds": self.config.window_seconds,
            }
        )
        self.token_lifetime = self.config.token_lifetime


def current_runtime() -> MicrosoftRuntime:
    runtime = current_app.extensions["microsoft"]
    assert isinstance(runtime, MicrosoftRuntime)
    return runtime


def install_runtime(*, app: Flask, runtime: MicrosoftRuntime) -> None:
    app.extensions["microsoft"] = runtime
