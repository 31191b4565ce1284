from __future__ import annotations

from django.dispatch import Signal

# Sent when a linked user's *effective* Person Synchronization values change, by their own
# edit, by the profile's defaults or by an overwrite. Arguments: linked_user_id (int),
# old and new (preferences.selectors.EffectivePreferences), and initiated_by ("user" for a
# user's own edit, "admin" for the profile's defaults, an overwrite or the users-can-edit
# switch; preferences.services.InitiatedBy). syncengine answers it with a catch-up run,
# enqueued after commit.
preferences_changed = Signal()
