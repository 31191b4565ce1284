"""The interface every target implements (CardDAV, Microsoft Graph, Google People)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from syncengine.rendering import ContactCard


@dataclass(frozen=True)
class WrittenContact:
    """Where a contact lives on the target, and its version (etag) after our write."""

    ref: str
    etag: str


@dataclass(frozen=True)
class OwnContact:
    """A contact on the target that carries our mark."""

    uid: str
    person_id: int
    ref: str
    etag: str


class TargetError(Exception):
    """A write the target refused or could not take. `permanent`: retrying cannot help
    (bad credentials, address book gone); otherwise the next run tries again."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class ContactExists(TargetError):
    """A create found a contact with our UID already there (a retried create): adopt it."""

    def __init__(self, existing: WrittenContact) -> None:
        super().__init__("A contact with this UID exists already.")
        self.existing = existing


class ContactGone(TargetError):
    """The contact we meant to change or delete is no longer on the target."""


class Target(ABC):
    """Writes contact cards into one user's address book; touches nothing without our mark."""

    @abstractmethod
    def create(self, *, card: ContactCard) -> WrittenContact:
        """Create the card; raise ContactExists when a contact with its UID is there."""

    @abstractmethod
    def update(self, *, ref: str, etag: str, card: ContactCard) -> WrittenContact:
        """Replace our contact at `ref` (CRM wins over edits made in the mailbox)."""

    @abstractmethod
    def delete(self, *, ref: str, etag: str, uid: str) -> None:
        """Delete our contact at `ref`; raise ContactGone if it is not there."""

    @abstractmethod
    def list_own(self) -> list[OwnContact]:
        """Every contact that carries our mark (to rebuild lost mapping state)."""

    def close(self) -> None:  # noqa: B027 - most targets have nothing to release
        """Release connections."""
