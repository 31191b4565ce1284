from __future__ import annotations

from enum import StrEnum

from django.dispatch import Signal


class InitiatedBy(StrEnum):
    """Who made a change: a user's own edit, or an administrator's (the profile's
    defaults, an overwrite, the users-can-edit switch, another user's preferences)."""

    USER = "user"
    ADMIN = "admin"


# Sent when a linked user's *effective* Person Synchronization values change, by their own
# edit, by the profile's defaults or by an overwrite. Arguments: linked_user_id (int),
# old and new (preferences.selectors.EffectivePreferences), and initiated_by
# (InitiatedBy). syncengine answers it with a catch-up run, enqueued after commit.
preferences_changed = Signal()
