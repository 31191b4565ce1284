"""The interface every target implements (CardDAV, Microsoft Graph, Google People)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
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


@dataclass(frozen=True)
class Create:
    card: ContactCard


@dataclass(frozen=True)
class Update:
    ref: str
    etag: str
    card: ContactCard


@dataclass(frozen=True)
class Delete:
    ref: str
    etag: str
    uid: str


Write = Create | Update | Delete
# What became of one write: the contact written, None for a delete done, or the error
# that write alone met (ContactExists, ContactGone, or a TargetError to retry later).
WriteOutcome = WrittenContact | TargetError | None


class Target(ABC):
    """Writes contact cards into one user's address book; touches nothing without our mark."""

    # How many writes the engine hands to `write_many` at once: targets that batch
    # requests (Microsoft Graph's $batch) take many, the others one at a time.
    batch_size: int = 1

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

    def write_many(self, writes: Sequence[Write]) -> list[WriteOutcome]:
        """Apply `writes`, each on its own: one outcome per write, in the same order. A
        permanent TargetError (credentials refused, address book gone) is raised instead.
        Targets that batch requests override this; the default writes one by one."""
        outcomes: list[WriteOutcome] = []
        for write in writes:
            try:
                if isinstance(write, Create):
                    outcomes.append(self.create(card=write.card))
                elif isinstance(write, Update):
                    outcomes.append(self.update(ref=write.ref, etag=write.etag, card=write.card))
                else:
                    self.delete(ref=write.ref, etag=write.etag, uid=write.uid)
                    outcomes.append(None)
            except TargetError as error:
                if error.permanent:
                    raise
                outcomes.append(error)
        return outcomes

    def find(self, uid: str) -> WrittenContact | None:
        """Our contact with this UID, looked up by its mark: for a create that was sent but
        never recorded (a lost answer, a killed worker), so it is adopted, not made twice.
        The default reads the mark at the UID's deterministic place."""
        ref = self.ref_for(uid)
        if ref is None:
            return None
        mark = self.marks([ref]).get(ref)
        if mark is None or mark.uid != uid:
            return None
        return WrittenContact(ref=mark.ref, etag=mark.etag)

    def changes(self) -> dict[str, str | None] | None:
        """Contacts changed in the address book since the last call: ref → its version now,
        or None for a contact removed. None when the target cannot tell (no change feed,
        no cursor yet, or the cursor expired): the housekeeping comparison covers those.
        The feed moves on only at `changes_acknowledge`, once the changes are recorded."""
        return None

    def changes_acknowledge(self) -> None:  # noqa: B027 - targets without a feed keep none
        """The changes last returned are recorded: the feed may move past them."""

    def refusal_record(self, *, error: TargetError) -> None:  # noqa: B027 - most keep none
        """A permanent refusal ended the run: remember it where the pages show it and the
        scheduler waits on it (a withdrawn consent), for targets that keep such state."""

    def close(self) -> None:  # noqa: B027 - most targets have nothing to release
        """Release connections."""
