"""A target in memory that records every call: for tests and the engine benchmark."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from syncengine.rendering import ContactCard
from syncengine.targets.base import (
    ContactExists,
    ContactGone,
    OwnContact,
    Target,
    TargetError,
    Write,
    WriteOutcome,
    WrittenContact,
)


@dataclass
class _Stored:
    card: ContactCard
    etag: str
    # False once a mailbox client rewrote the card without our mark, or for someone else's.
    marked: bool = True


@dataclass
class RecordingTarget(Target):
    """Keeps cards by ref; `calls` lists the writes ("create" | "update" | "delete", person
    id), `reads` the reads ("listing" | "marks" | "list_own"). Like a CardDAV server, a
    write whose etag is current goes through; with a stale etag only a card that still
    carries our mark is changed. `mailbox_*` change the book as a mailbox user would."""

    contacts: dict[str, _Stored] = field(default_factory=dict)
    calls: list[tuple[str, int]] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)
    # Writes handed over at once, and the size of every group the engine handed over.
    batch_size: int = 1
    groups: list[int] = field(default_factory=list)
    # Like Microsoft Graph: the target names its contacts (no deterministic place, so a
    # retried create makes a second copy unless the engine looks the mark up first).
    names_objects: bool = False
    # Like Graph's delta: `changes()` reports what changed since it was last asked.
    change_feed: bool = False
    _changed: dict[str, str | None] = field(default_factory=dict)
    _versions: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def _etag(self) -> str:
        return f'"{next(self._versions)}"'

    def _put(self, ref: str, stored: _Stored) -> _Stored:
        self.contacts[ref] = stored
        self._changed[ref] = stored.etag
        return stored

    def _remove(self, ref: str) -> None:
        del self.contacts[ref]
        self._changed[ref] = None

    def write_many(self, writes: Sequence[Write]) -> list[WriteOutcome]:
        self.groups.append(len(writes))
        return super().write_many(writes)

    def create(self, *, card: ContactCard) -> WrittenContact:
        ref = self.ref_for(card.uid) or f"/contacts/id-{next(self._ids)}"
        self.calls.append(("create", card.person_id))
        if ref in self.contacts:
            stored = self.contacts[ref]
            if not stored.marked:
                raise TargetError(f"A contact that Synchronizer did not create is at {ref}.")
            raise ContactExists(WrittenContact(ref=ref, etag=stored.etag))
        stored = self._put(ref, _Stored(card=card, etag=self._etag()))
        return WrittenContact(ref=ref, etag=stored.etag)

    def find(self, uid: str) -> WrittenContact | None:
        if not self.names_objects:
            return super().find(uid)
        self.reads.append("find")
        return next(
            (
                WrittenContact(ref=ref, etag=s.etag)
                for ref, s in self.contacts.items()
                if s.marked and s.card.uid == uid
            ),
            None,
        )

    def changes(self) -> dict[str, str | None] | None:
        if not self.change_feed:
            return None
        self.reads.append("changes")
        changed, self._changed = self._changed, {}
        return changed

    def update(self, *, ref: str, etag: str, card: ContactCard) -> WrittenContact:
        self.calls.append(("update", card.person_id))
        stored = self.contacts.get(ref)
        if stored is None:
            raise ContactGone(f"No contact at {ref}.")
        if etag != stored.etag and not stored.marked:
            raise TargetError(f"The contact at {ref} no longer carries Synchronizer's mark.")
        stored = self._put(ref, _Stored(card=card, etag=self._etag()))
        return WrittenContact(ref=ref, etag=stored.etag)

    def delete(self, *, ref: str, etag: str, uid: str) -> None:
        stored = self.contacts.get(ref)
        self.calls.append(("delete", stored.card.person_id if stored else -1))
        if stored is None:
            raise ContactGone(f"No contact at {ref}.")
        if etag != stored.etag and not stored.marked:
            raise ContactGone(f"The contact at {ref} is no longer ours; it was left untouched.")
        self._remove(ref)

    def list_own(self) -> list[OwnContact]:
        self.reads.append("list_own")
        return [
            OwnContact(uid=s.card.uid, person_id=s.card.person_id, ref=ref, etag=s.etag)
            for ref, s in self.contacts.items()
            if s.marked
        ]

    def listing(self) -> dict[str, str]:
        self.reads.append("listing")
        return {ref: stored.etag for ref, stored in self.contacts.items()}

    def marks(self, refs: Collection[str]) -> dict[str, OwnContact | None]:
        self.reads.append("marks")
        return {
            ref: (
                OwnContact(uid=s.card.uid, person_id=s.card.person_id, ref=ref, etag=s.etag)
                if s.marked
                else None
            )
            for ref in refs
            if (s := self.contacts.get(ref)) is not None
        }

    def ref_for(self, uid: str) -> str | None:
        return None if self.names_objects else f"/contacts/{uid}.vcf"

    def uid_at(self, ref: str) -> str | None:
        if not self.names_objects and ref.startswith("/contacts/") and ref.endswith(".vcf"):
            return ref.removeprefix("/contacts/").removesuffix(".vcf")
        return None

    # -- the mailbox's user ------------------------------------------------------------------

    def mailbox_edit(self, ref: str, *, keep_mark: bool = True) -> None:
        """A user edits the card in the mailbox (and their client may drop our mark)."""
        stored = self.contacts[ref]
        edited = dataclasses.replace(stored.card, display_name=f"{stored.card.display_name}!")
        self._put(ref, _Stored(card=edited, etag=self._etag(), marked=keep_mark))

    def mailbox_remove(self, ref: str) -> None:
        self._remove(ref)

    def mailbox_put(self, ref: str, card: ContactCard, *, marked: bool = True) -> None:
        """A card the mailbox's user put at `ref`: a copy of ours, or their own."""
        self._put(ref, _Stored(card=card, etag=self._etag(), marked=marked))

    # -- for assertions ------------------------------------------------------------------------

    @property
    def person_ids(self) -> set[int]:
        return {stored.card.person_id for stored in self.contacts.values()}

    def card_of(self, person_id: int) -> ContactCard:
        return next(s.card for s in self.contacts.values() if s.card.person_id == person_id)

    def writes(self) -> int:
        return len(self.calls)

    def requests(self) -> int:
        """Every request a real target would have received: writes and reads."""
        return len(self.calls) + len(self.reads)
