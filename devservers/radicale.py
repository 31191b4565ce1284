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
import sys
from pathlib import Path

import requests

from devservers.process import LocalServer, ServerStartError, free_port

__all__ = ["RadicaleProcess", "RadicaleStartError", "free_port"]


class RadicaleStartError(ServerStartError):
    """Radicale did not become ready; the message includes its output."""


class RadicaleProcess(LocalServer):
    """`python -m radicale` on a port (a free one by default) with its own data directory:
    htpasswd auth (plain), filesystem storage, every user owning only their own books."""

    label = "Radicale"
    log_name = "radicale.log"
    start_error = RadicaleStartError

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        data_dir: Path | None = None,
        auth_delay: float = 0.0,
        ready_timeout: float = 30.0,
    ) -> None:
        super().__init__(host=host, port=port, data_dir=data_dir, ready_timeout=ready_timeout)
        # Radicale waits a second after a wrong password by default; locally that only
        # slows the tests that check wrong passwords.
        self.auth_delay = auth_delay
        self.config_path = self.data_dir / "config"
        self.users_path = self.data_dir / "users"

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

    def prepare(self) -> None:
        self.config_path.write_text(self.config())
        self.users_path.touch()

    def is_ready(self) -> bool:
        try:
            # Any answer (a redirect to its web UI, a 401) means it is serving.
            requests.get(self.url, timeout=1, allow_redirects=False)
        except requests.RequestException:
            return False
        return True

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
