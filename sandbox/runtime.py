"""Everything one sandbox process holds: storage, signing key, faults, counters.

The data directory keeps the signing key (so tokens and JWKS survive restarts), one
pristine seeded database per ``(persons, seed)`` and the live database a reset restores.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, current_app

from sandbox.clock import utc_now
from sandbox.config import SandboxConfig
from sandbox.faults import Faults, RequestCounter
from sandbox.seed import rebase_appointments, seed_database
from sandbox.storage import AUTH_SCHEMA, CRM_SCHEMA, Database


@dataclass(frozen=True)
class SigningKey:
    private_pem: bytes
    public_key: rsa.RSAPublicKey
    kid: str


def load_signing_key(*, data_dir: Path) -> SigningKey:
    """Read the RSA key from the data directory, creating it on first start."""
    path = data_dir / "signing-key.pem"
    if not path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            encoding=serialization.Encoding.PEM,
            format=serialization.PrivateFormat.PKCS8,
            encryption_algorithm=serialization.NoEncryption(),
        )
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(pem)
        os.chmod(temporary, 0o600)
        temporary.replace(path)
    pem = path.read_bytes()
    private_key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise TypeError(f"{path} does not hold an RSA key")
    public_key = private_key.public_key()
    der = public_key.public_bytes(
        encoding=serialization.Encoding.DER,
        format=serialization.PublicFormat.SubjectPublicKeyInfo,
    )
    return SigningKey(
        private_pem=pem, public_key=public_key, kid=hashlib.sha256(der).hexdigest()[:16]
    )


class SandboxRuntime:
    def __init__(self, *, config: SandboxConfig, reset: bool = False) -> None:
        self.config = config
        self.data_dir = config.data_dir
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.signing_key = load_signing_key(data_dir=self.data_dir)
        self.faults = Faults()
        self.requests = RequestCounter()
        self.reset_lock = threading.Lock()
        self.persons = config.persons
        live_path = self.data_dir / "crm.sqlite3"
        if reset and live_path.exists():
            live_path.unlink()
        self.crm = Database(path=live_path, schema=CRM_SCHEMA)
        self.auth = Database(path=self.data_dir / "auth.sqlite3", schema=AUTH_SCHEMA)
        seeded = self.crm.query_one("SELECT value FROM meta WHERE key = 'persons'")
        seed = self.crm.query_one("SELECT value FROM meta WHERE key = 'seed'")
        if (
            seeded is None
            or int(seeded[0]) != config.persons
            or seed is None
            or int(seed[0]) != config.seed
        ):
            self.crm.copy_from(source=self.pristine_path(persons=config.persons))
        else:
            rebase_appointments(connection=self.crm.connection, today=utc_now().date())

    def pristine_path(self, *, persons: int) -> Path:
        """The seeded database for a size, seeded now if it does not exist yet."""
        path = self.data_dir / f"pristine-{persons}-{self.config.seed}.sqlite3"
        if path.exists():
            pristine = Database(path=path, schema=CRM_SCHEMA)
            try:
                rebase_appointments(connection=pristine.connection, today=utc_now().date())
            finally:
                pristine.close()
            return path
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.unlink(missing_ok=True)
        pristine = Database(path=temporary, schema=CRM_SCHEMA)
        try:
            seed_database(connection=pristine.connection, persons=persons, seed=self.config.seed)
        finally:
            pristine.close()
        temporary.replace(path)
        return path

    def reset(self, *, persons: int | None = None) -> float:
        """Restore the seeded data (optionally of another size); return the seconds it took."""
        started = time.perf_counter()
        with self.reset_lock:
            size = persons or self.persons
            self.crm.copy_from(source=self.pristine_path(persons=size))
            self.persons = size
            self.auth.execute("DELETE FROM consent_revocation")
        return time.perf_counter() - started


def current_runtime() -> SandboxRuntime:
    runtime = current_app.extensions["sandbox"]
    assert isinstance(runtime, SandboxRuntime)
    return runtime


def install_runtime(*, app: Flask, runtime: SandboxRuntime) -> None:
    app.extensions["sandbox"] = runtime
