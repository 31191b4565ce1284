"""Celery tasks of preferences: ids in, one service call."""

from __future__ import annotations

from celery import shared_task


@shared_task(ignore_result=True)
def preference_change_impact_task(change_id: int, computation: int) -> None:
    """Compute what a held administrator's change would add and remove. Idempotent: only
    the latest computation of a change still waiting for it saves figures."""
    from preferences.impact import preference_change_impact_compute

    preference_change_impact_compute(change_id=change_id, computation=computation)
