"""syncengine's answers to other apps' signals: catch-up runs and first runs."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from preferences.selectors import EffectivePreferences
from preferences.signals import InitiatedBy, preferences_changed
from profiles.signals import link_readiness_changed
from syncengine.models import RunKind
from syncengine.orchestration import first_run_queue_if_ready, sync_run_request
from syncengine.planner import PreferenceChange


@receiver(preferences_changed, dispatch_uid="syncengine-catch-up-run")
def queue_catch_up_run(
    sender: Any,
    *,
    linked_user_id: int,
    old: EffectivePreferences,
    new: EffectivePreferences,
    initiated_by: InitiatedBy = InitiatedBy.ADMIN,
    **kwargs: Any,
) -> None:
    # Runs inside the caller's transaction; the task is published only after commit. A
    # sender that does not say who made the change gets the guard (an admin's change).
    sync_run_request(
        linked_user_id=linked_user_id,
        kind=RunKind.PREFERENCE_CHANGE,
        change=PreferenceChange(old=old, new=new, initiated_by=InitiatedBy(initiated_by)),
    )


@receiver(link_readiness_changed, dispatch_uid="syncengine-first-run")
def queue_first_run(sender: Any, *, linked_user_id: int, **kwargs: Any) -> None:
    first_run_queue_if_ready(linked_user_id=linked_user_id)
