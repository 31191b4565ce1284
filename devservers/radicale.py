"""A real Radicale CardDAV server in its own process, for tests, benchmarks and the demo.

    with RadicaleProcess() as radicale:
        radicale.add_user("alice@example.com", "app-password")
        print(radicale.url)

Users live in a plain-text htpasswd file, which Radicale reads at every request, so users
added while it runs can sign in at once. Radicale creates no address book by itself: make
one with `syncengine.targets.carddav_discovery.carddav_addressbook_create`.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import requests

READY_TIMEOUT_SECONDS = 30.0


class RadicaleStartError(RuntimeError):
    """Radicale did not become ready; the message includes its output."""


def free_port(*, host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


class RadicaleProcess:
    """`python -m radicale` on a port (a free one by default) with its own data directory:
    htpasswd auth (plain), filesystem storage, every user owning only their own books."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        data_dir: Path | None = None,
        auth_delay: float = 0.0,
        ready_timeout: float = READY_TIMEOUT_SECONDS,
    ) -> None:
        self.host = host
        self.port = port or free_port(host=host)
        # A data directory given by the caller (the demo's) outlives the process.
        self.owns_data_dir = data_dir is None
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="radicale-"))
        # Radicale waits a second after a wrong password by default; locally that only
        # slows the tests that check wrong passwords.
        self.auth_delay = auth_delay
        self.ready_timeout = ready_timeout
        self.config_path = self.data_dir / "config"
        self.users_path = self.data_dir / "users"
        self.log_path = self.data_dir / "radicale.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def config(self) -> str:
        return (
            f"[server]\nhosts = {self.host}:{self.port}\n\n"
            "[auth]\ntype = htpasswd\n"
            f"htpasswd_filename = {self.users_path}\n"
            "htpasswd_encryption = plain\n"
            f"delay = {self.auth_delay}\n\n"
            "[rights]\ntype = owner_only\n\n"
            f"[storage]\nfilesystem_folder = {self.data_dir / 'collections'}\n\n"
            "[logging]\nlevel = warning\n"
        )

    def command(self) -> list[str]:
        return [sys.executable, "-m", "radicale", "--config", str(self.config_path)]

    def start(self) -> RadicaleProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.config())
        self.users_path.touch()
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                self.command(), stdout=log, stderr=subprocess.STDOUT
            )
        self.wait_until_ready()
        return self

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RadicaleStartError(
                    f"Radicale exited with code {self.process.returncode} before it was ready."
                    f"\nCommand: {' '.join(self.command())}\nOutput:\n{self.output()}"
                )
            try:
                # Any answer (a redirect to its web UI, a 401) means it is serving.
                requests.get(self.url, timeout=1, allow_redirects=False)
            except requests.RequestException:
                time.sleep(0.05)
            else:
                return
        self.stop()
        raise RadicaleStartError(
            f"Radicale did not answer on {self.url} within {self.ready_timeout:.0f}s."
            f"\nOutput:\n{self.output()}"
        )

    def add_user(self, username: str, password: str) -> None:
        """Add or replace a user. The file is replaced whole, so Radicale (which rereads
        it at every request) never sees half a line."""
        if ":" in username or "\n" in username + password:
            raise ValueError("A Radicale user name cannot hold ':' or a line break.")
        lines = [
            line
            for line in (
                self.users_path.read_text().splitlines() if self.users_path.exists() else []
            )
            if line and line.split(":", 1)[0] != username
        ]
        lines.append(f"{username}:{password}")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        temporary = self.users_path.with_suffix(".tmp")
        temporary.write_text("\n".join(lines) + "\n")
        os.replace(temporary, self.users_path)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
        if self.owns_data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> RadicaleProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
