"""A fixture for tests that submit an administrator's change: the impact task runs in the
test's process when it would be published (after commit), instead of reaching the broker.

Import it into a test module (`from tests.preferences.impact_task import
impact_task_runs_at_once`); it is autouse there."""

from __future__ import annotations

import pytest

from preferences import tasks


@pytest.fixture(autouse=True)
def impact_task_runs_at_once(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """(change id, computation) of every computation queued, each run at once."""
    queued: list[tuple[int, int]] = []

    def delay(change_id: int, computation: int) -> None:
        queued.append((change_id, computation))
        tasks.preference_change_impact_task.apply(args=(change_id, computation))

    monkeypatch.setattr(tasks.preference_change_impact_task, "delay", delay)
    return queued
