"""A target in memory that records every call: for tests and the engine benchmark."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from syncengine.rendering import ContactCard
from syncengine.targets.base import (
    ContactExists,
    ContactGone,
    OwnContact,
    Target,
    WrittenContact,
)


@dataclass
class _Stored:
    card: ContactCard
    etag: str


@dataclass
class RecordingTarget(Target):
    """Keeps cards by ref; `calls` lists ("create" | "update" | "delete", person id)."""

    contacts: dict[str, _Stored] = field(default_factory=dict)
    calls: list[tuple[str, int]] = field(default_factory=list)
    _versions: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def _etag(self) -> str:
        return f'"{next(self._versions)}"'

    def create(self, *, card: ContactCard) -> WrittenContact:
        ref = f"/contacts/{card.uid}.vcf"
        self.calls.append(("create", card.person_id))
        if ref in self.contacts:
            raise ContactExists(WrittenContact(ref=ref, etag=self.contacts[ref].etag))
        stored = self.contacts[ref] = _Stored(card=card, etag=self._etag())
        return WrittenContact(ref=ref, etag=stored.etag)

    def update(self, *, ref: str, etag: str, card: ContactCard) -> WrittenContact:
        self.calls.append(("update", card.person_id))
        if ref not in self.contacts:
            raise ContactGone(f"No contact at {ref}.")
        stored = self.contacts[ref] = _Stored(card=card, etag=self._etag())
        return WrittenContact(ref=ref, etag=stored.etag)

    def delete(self, *, ref: str, etag: str, uid: str) -> None:
        stored = self.contacts.get(ref)
        self.calls.append(("delete", stored.card.person_id if stored else -1))
        if stored is None:
            raise ContactGone(f"No contact at {ref}.")
        del self.contacts[ref]

    def list_own(self) -> list[OwnContact]:
        return [
            OwnContact(uid=s.card.uid, person_id=s.card.person_id, ref=ref, etag=s.etag)
            for ref, s in self.contacts.items()
        ]

    @property
    def person_ids(self) -> set[int]:
        return {stored.card.person_id for stored in self.contacts.values()}

    def card_of(self, person_id: int) -> ContactCard:
        return next(s.card for s in self.contacts.values() if s.card.person_id == person_id)

    def writes(self) -> int:
        return len(self.calls)
