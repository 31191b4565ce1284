from __future__ import annotations

from django.dispatch import Signal

# Sent when something a linked user's first run waits for may have become true: linked,
# enabled or undeleted, signed in (we hold a token), mailbox credentials verified.
# Argument: linked_user_id (int). syncengine answers by queueing the first run when
# every condition holds.
link_readiness_changed = Signal()
