"""The interface every target implements (CardDAV, Microsoft Graph, Google People)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection
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
        """Every contact that carries our mark, read in full (to rebuild lost mapping state)."""

    @abstractmethod
    def listing(self) -> dict[str, str]:
        """Every contact in the address book: its ref and its version (etag). One cheap
        request where the target allows it: no contents are read."""

    @abstractmethod
    def marks(self, refs: Collection[str]) -> dict[str, OwnContact | None]:
        """Our mark on each contact at `refs`: the mark, or None for a contact without it.
        Refs no longer on the target are left out. Read only for refs that are ours or at
        our own deterministic place (`ref_for`)."""

    @abstractmethod
    def ref_for(self, uid: str) -> str | None:
        """Where a create puts the contact with this UID, for targets whose refs we choose
        (CardDAV's deterministic href); None where the target names objects itself."""

    @abstractmethod
    def uid_at(self, ref: str) -> str | None:
        """The UID whose deterministic place is `ref` (the inverse of `ref_for`), if any."""

    def close(self) -> None:  # noqa: B027 - most targets have nothing to release
        """Release connections."""
