"""The Celery application. Its configuration is the CELERY_* part of settings.py;
every periodic schedule is declared here, in one place."""

from __future__ import annotations

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "synchronizer.settings")

app = Celery("synchronizer")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    # Every minute: queue the regular (15 min) and housekeeping (24 h) runs that are due.
    "dispatch-due-runs": {
        "task": "syncengine.tasks.sync_dispatch_task",
        "schedule": crontab(),
    },
    # Daily at 03:17 (https://crontab.guru/#17_3_*_*_*): prune old runs.
    "prune-old-runs": {
        "task": "syncengine.tasks.sync_runs_prune_task",
        "schedule": crontab(minute="17", hour="3"),
    },
    # Every minute (https://crontab.guru/#*_*_*_*_*): proves to the health check that
    # beat is alive and that a worker consumes the queue.
    "beat-heartbeat": {
        "task": "syncengine.tasks.record_beat_heartbeat",
        "schedule": crontab(),
    },
}
