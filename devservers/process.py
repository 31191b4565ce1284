"""A local server process of our own (the SuperOffice sandbox, Radicale) for the tests,
the benchmarks and the demo: a free port, a data directory, output in a log file, and a
readiness probe with a clear error when it never comes up."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

READY_TIMEOUT_SECONDS = 60.0


class ServerStartError(RuntimeError):
    """The server did not become ready; the message includes its command and output."""


def free_port(*, host: str = "127.0.0.1") -> int:
    """A TCP port on `host` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


class LocalServer:
    """Subclasses say how to start the server (`command`) and when it answers (`is_ready`);
    `prepare` may write configuration into the data directory first."""

    label = "The server"
    log_name = "server.log"
    start_error: type[ServerStartError] = ServerStartError

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        data_dir: Path | None = None,
        ready_timeout: float = READY_TIMEOUT_SECONDS,
    ) -> None:
        self.host = host
        self.port = port or free_port(host=host)
        # A data directory given by the caller (the demo's) outlives the process.
        self.owns_data_dir = data_dir is None
        prefix = self.log_name.removesuffix(".log")
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix=f"{prefix}-"))
        self.ready_timeout = ready_timeout
        self.log_path = self.data_dir / self.log_name
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def is_ready(self) -> bool:
        raise NotImplementedError

    def prepare(self) -> None:
        """Write what the server needs before it starts (configuration, users)."""

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def start(self) -> Self:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.prepare()
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                self.command(), stdout=log, stderr=subprocess.STDOUT, env=self.environment()
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
                raise self.start_error(
                    f"{self.label} exited with code {self.process.returncode} before it was "
                    f"ready.\nCommand: {' '.join(self.command())}\nOutput:\n{self.output()}"
                )
            if self.is_ready():
                return
            time.sleep(0.05)
        self.stop()
        raise self.start_error(
            f"{self.label} did not answer on port {self.port} within "
            f"{self.ready_timeout:.0f}s.\nOutput:\n{self.output()}"
        )

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

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
