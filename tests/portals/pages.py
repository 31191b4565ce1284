"""What the portal tests read from pages and send to them, written once."""

from __future__ import annotations

from typing import Any

from preferences.forms import SWITCHES
from profiles.models import SyncProfile


def messages_of(response: Any) -> list[str]:
    """The flash messages a response carries, as text."""
    return [str(message) for message in response.context["messages"]]


def defaults_form(profile: SyncProfile, **changes: str) -> dict[str, str]:
    """The profile's Person Synchronization form as it stands, with `changes` ("off"
    unticks a switch)."""
    data = {name: "on" for name in SWITCHES if getattr(profile, name)}
    data.update({"static_selections": "", "overwrite": "keep"})
    data.update(changes)
    return {key: value for key, value in data.items() if value != "off"}
