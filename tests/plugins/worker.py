"""A real Celery worker process for end-to-end tests.

The worker opens the test database (a file for SQLite, the test database on the same
server for PostgreSQL), so tests using it need `transaction=True`: what they write must
be committed for the worker to see it. Each worker consumes a queue of its own, so no
other test's message can reach it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from synchronizer.celery import app

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_SECONDS = 60


def _database_url(settings_dict: dict[str, Any]) -> str:
    if settings_dict["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    user, password = settings_dict.get("USER") or "", settings_dict.get("PASSWORD") or ""
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{credentials}{host}:{port}/{settings_dict['NAME']}"


class WorkerProcess:
    def __init__(self, *, queue: str, extra_env: dict[str, str], name: str = "") -> None:
        self.queue = queue
        label = f"{queue}-{name}" if name else queue
        self.node = f"test-{label}@localhost"
        self.log = Path(f"/tmp/{label}.log")  # noqa: S108 - a test's own log file
        env = {
            **os.environ,
            "DATABASE_URL": _database_url(connection.settings_dict),
            "SUPEROFFICE_ENVIRONMENT": settings.SUPEROFFICE_ENVIRONMENT,
            "REDIS_KEY_PREFIX": settings.REDIS_KEY_PREFIX,
            "SUPEROFFICE_MAX_ATTEMPTS": str(settings.SUPEROFFICE_MAX_ATTEMPTS),
            "SUPEROFFICE_BACKOFF_BASE_SECONDS": str(settings.SUPEROFFICE_BACKOFF_BASE_SECONDS),
            "SUPEROFFICE_BACKOFF_CAP_SECONDS": str(settings.SUPEROFFICE_BACKOFF_CAP_SECONDS),
            **extra_env,
        }
        self._log_file = self.log.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "synchronizer",
                "worker",
                "--pool",
                "prefork",
                "--concurrency",
                "1",
                "-Q",
                queue,
                "-n",
                self.node,
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=REPOSITORY_ROOT,
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )

    def wait_until_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"The worker exited:\n{self.output()}")
            if app.control.ping(destination=[self.node], timeout=0.5):
                return
        raise RuntimeError(
            f"The worker did not answer within {READY_TIMEOUT_SECONDS} s:\n{self.output()}"
        )

    def pool_child_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def kill_pool_child(self) -> int:
        """SIGKILL the process running the task, as the OOM killer would."""
        [child] = self.pool_child_pids()
        os.kill(child, signal.SIGKILL)
        return child

    def kill(self) -> None:
        """SIGKILL the whole worker, its main process and its pool, as a lost machine
        would: the message of the task it ran stays unacknowledged at the broker."""
        children = self.pool_child_pids()
        self.process.kill()
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        self.process.wait()

    def output(self) -> str:
        self._log_file.flush()
        return self.log.read_text()

    def stop(self) -> None:
        if self.process.poll() is not None:
            self._log_file.close()
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log_file.close()


def tasks_routed_to_a_fresh_queue(monkeypatch: pytest.MonkeyPatch, *, label: str) -> str:
    """Send this test's run tasks to a queue of its own, which only its workers consume."""
    from syncengine import tasks

    queue = f"{label}-{uuid.uuid4().hex[:12]}"
    for task in (tasks.sync_run_task, tasks.sync_run_apply_held_deletions_task):
        monkeypatch.setattr(
            task, "delay", lambda *args, task=task: task.apply_async(args, queue=queue)
        )
    return queue


@pytest.fixture
def celery_worker(
    transactional_db: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[WorkerProcess]:
    """A worker consuming a fresh queue, which this test's tasks are sent to."""
    queue = tasks_routed_to_a_fresh_queue(monkeypatch, label="test")
    worker = WorkerProcess(queue=queue, extra_env={})
    try:
        worker.wait_until_ready()
        yield worker
    finally:
        worker.stop()


@pytest.fixture
def more_workers(celery_worker: WorkerProcess) -> Iterator[Callable[[], WorkerProcess]]:
    """Start further workers on the `celery_worker`'s queue, each a process of its own."""
    started: list[WorkerProcess] = []

    def start() -> WorkerProcess:
        worker = WorkerProcess(queue=celery_worker.queue, extra_env={}, name=f"w{len(started) + 2}")
        started.append(worker)
        worker.wait_until_ready()
        return worker

    try:
        yield start
    finally:
        for worker in started:
            worker.stop()
