"""Typed SuperOffice errors, so a task knows whether trying again can help."""

from __future__ import annotations


class SuperOfficeError(Exception):
    """Any failure to read SuperOffice. The message is written for a person to read."""


class TransientError(SuperOfficeError):
    """Worth retrying later: rate limits, maintenance, server errors, network trouble."""


class PermanentError(SuperOfficeError):
    """Retrying will not help until someone changes something (a setting, a sign-in, data)."""


class SignInNeeded(PermanentError):
    """We hold no usable token for the user; they must sign in with SuperOffice again."""


class NotFound(PermanentError):
    """The entity does not exist (or is not visible to this user)."""


class SelectionRefused(PermanentError):
    """A selection name that cannot be used for Person Synchronization, and why."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(reason)
        self.name = name
        self.reason = reason
