from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache

from syncengine.heartbeat import HEARTBEAT_CACHE_KEY, beat_heartbeat_last
from synchronizer.celery import app

REPO = Path(__file__).resolve().parents[2]


def test_configuration_is_safe_for_idempotent_tasks() -> None:
    conf = app.conf

    assert conf.accept_content == ["json"]
    assert conf.task_serializer == "json"
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert 0 < conf.task_soft_time_limit < conf.task_time_limit
    assert conf.broker_transport_options["visibility_timeout"] > conf.task_time_limit
    assert conf.broker_url == os.environ["REDIS_URL"]


def test_every_scheduled_task_exists() -> None:
    app.loader.import_default_modules()

    for name, entry in app.conf.beat_schedule.items():
        assert entry["task"] in app.tasks, f"schedule {name} names an unknown task"


@pytest.fixture
def worker() -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "synchronizer",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=REPO,
        env={**os.environ, "REDIS_KEY_PREFIX": settings.REDIS_KEY_PREFIX},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    yield process
    process.terminate()
    process.wait(timeout=20)


def test_a_real_worker_runs_the_heartbeat_task(worker: subprocess.Popen[str], db: None) -> None:
    from syncengine.tasks import record_beat_heartbeat

    cache.delete(HEARTBEAT_CACHE_KEY)
    record_beat_heartbeat.delay()

    deadline = time.monotonic() + 60
    while beat_heartbeat_last() is None:
        assert worker.poll() is None, worker.stderr.read() if worker.stderr else ""
        assert time.monotonic() < deadline, "the worker never ran the task"
        time.sleep(0.2)
