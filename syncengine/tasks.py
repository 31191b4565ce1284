"""Celery tasks: ids in, one service call, retry policy here."""

from __future__ import annotations

from celery import shared_task


@shared_task(ignore_result=True)
def record_beat_heartbeat() -> None:
    from syncengine.heartbeat import beat_heartbeat_record

    beat_heartbeat_record()
