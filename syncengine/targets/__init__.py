"""Targets: where contact cards are written. One module per kind, listed in TARGETS."""

from __future__ import annotations

from syncengine.targets.base import Target
from syncengine.targets.memory import RecordingTarget

# Every kind of target, by the name SyncProfile.target_kind uses. Explicit on purpose:
# nothing registers itself at import time.
TARGETS: dict[str, type[Target]] = {
    "memory": RecordingTarget,
}
