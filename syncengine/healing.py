"""Converge on the real state (DESIGN §8): our mapping rows are a cache of what we wrote;
the target's own listing is the truth. A healing pass compares the two before a run
reconciles, and prepares the mapping so that the run's ordinary writes heal every
difference:

- a mapped card missing from the listing (deleted in the mailbox) is created again while
  a source wants its person; otherwise only its row goes;
- a mapped card whose etag moved (edited in the mailbox) and still carries our mark is
  overwritten with the CRM's version, with If-Match on the listed etag (CRM wins);
- a card with our mark for this tenant at our own deterministic place that no row claims
  (a lost row, a wiped table) is taken back into the mapping with every source the user
  has as provenance: the run keeps it while a source names it and deletes it otherwise.
  Those deletions count against the mass-delete guard like any other, so lost state
  never deletes what the sources still want, and never deletes much unasked;
- a card at our deterministic place that lost our mark (a client rewrote it) is adopted,
  rewritten with our mark, when a source read in this run names its person; otherwise it
  is left as it is, its row (if any) forgotten, and the run says so in words;
- when the mapping is empty, every card carrying our mark is read once, to find ours
  wherever they are: our own card (deterministic UID and href) is preferred over a copy
  that kept our mark, and the copy is reported, never touched.

Targets that name their objects themselves (Microsoft Graph) have no deterministic place:
there the marks of the contacts no row claims are read, and a row written ahead of a
create whose answer never came finds its contact by them.

Between full runs, a target with a change feed (Graph's delta) tells each regular run
which contacts were edited or deleted in the mailbox (`mailbox_changes_heal`): ours are
rewritten or re-created at once, instead of at the next housekeeping.

A card without our mark is never changed or deleted, except at our own deterministic
place. Cost: one listing request (CardDAV: PROPFIND Depth 1, etags only);
cards are read only where the listing shows a difference.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from syncengine.models import PersonMapping, SyncRun
from syncengine.reconciler import Mapped, Reconciliation
from syncengine.rendering import ContactCard, contact_person_id, contact_uid
from syncengine.targets.base import OwnContact, Target

logger = logging.getLogger(__name__)

# Notes kept on a run: enough to act on, never a flood.
MAX_NOTES = 50


@dataclass
class Healing:
    """What a comparison with the target found, by person id, and notes for a person."""

    missing: set[int] = field(default_factory=set)
    edited: set[int] = field(default_factory=set)
    adopted: set[int] = field(default_factory=set)
    taken_back: set[int] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)

    def mapped(self, existing: Mapping[int, PersonMapping]) -> dict[int, Mapped]:
        """The mapping as the reconciler sees it: rows whose card is gone are not present."""
        return {
            pid: Mapped(
                person_id=pid,
                provenance=frozenset(m.provenance),
                content_hash=m.content_hash,
                present=pid not in self.missing,
            )
            for pid, m in existing.items()
        }

    def counts(self, reconciliation: Reconciliation) -> dict[str, Any]:
        """What the run heals, by kind (only kinds that occurred), and the notes."""
        created = {card.person_id for card, _ in reconciliation.creates}
        updated = {card.person_id for card, _ in reconciliation.updates}
        deleted, held = set(reconciliation.deletes), set(reconciliation.held_deletes)
        counts: dict[str, Any] = {
            "recreated": len(self.missing & created),
            "forgotten": len(self.missing & set(reconciliation.forgets)),
            "overwritten": len(self.edited & updated),
            "adopted": len(self.adopted & updated),
            "strays_deleted": len(self.taken_back & deleted),
            "strays_held": len(self.taken_back & held),
            "taken_back": len(self.taken_back - deleted - held),
        }
        counts = {kind: count for kind, count in counts.items() if count}
        if self.notes:
            counts["notes"] = self.notes[:MAX_NOTES]
        return counts

    def record(self, *, run: SyncRun, reconciliation: Reconciliation) -> None:
        """Save on the run what it heals (before its writes: a write that then fails is
        counted as failed, with its reason)."""
        healed = self.counts(reconciliation)
        if healed or run.healed:  # an earlier attempt's record never outlives this one
            run.healed = healed
            run.save(update_fields=["healed"])
        if healed:
            logger.info("sync run heals drift", extra={"healed": healed})


def _same_version(listed: str, stored: str) -> bool:
    """Etags as a listing and a write's answer give them: some servers differ in quoting
    or weakness between the two, which must not read as an edit on every run."""

    def bare(etag: str) -> str:
        return etag.strip().removeprefix("W/").strip('"')

    return bare(listed) == bare(stored)


def _note(healing: Healing, cards: Mapping[int, ContactCard], person_id: int, text: str) -> None:
    card = cards.get(person_id)
    who = f"{card.display_name} (person {person_id})" if card else f"Person {person_id}"
    healing.notes.append(f"{who}: {text}")


@dataclass
class _Comparison:
    """One healing pass over one user's address book."""

    run: SyncRun
    target: Target
    existing: dict[int, PersonMapping]
    cards: Mapping[int, ContactCard]
    provenance: frozenset[str]
    context_identifier: str
    healing: Healing = field(default_factory=Healing)
    listed: dict[str, str] = field(default_factory=dict)
    changed: dict[int, PersonMapping] = field(default_factory=dict)
    added: dict[int, PersonMapping] = field(default_factory=dict)
    forgotten: set[int] = field(default_factory=set)

    def uid(self, person_id: int) -> str:
        return contact_uid(context_identifier=self.context_identifier, person_id=person_id)

    def person_at(self, ref: str) -> int | None:
        """The person whose card our deterministic naming puts at `ref`, for this tenant."""
        uid = self.target.uid_at(ref)
        if uid is None:
            return None
        return contact_person_id(uid=uid, context_identifier=self.context_identifier)

    def ours(self, mark: OwnContact | None, person_id: int) -> bool:
        return mark is not None and mark.person_id == person_id and mark.uid == self.uid(person_id)

    def run_pass(self) -> Healing:
        listed = self.listed = self.target.listing()
        mapped_refs = {m.target_ref: pid for pid, m in self.existing.items()}
        moved = {
            pid
            for pid, m in self.existing.items()
            if m.target_ref in listed and not _same_version(listed[m.target_ref], m.etag)
        }
        unclaimed = listed.keys() - mapped_refs.keys()
        unknown = {ref: pid for ref in unclaimed if (pid := self.person_at(ref)) is not None}
        to_read = {self.existing[pid].target_ref for pid in moved} | unknown.keys()
        own: list[OwnContact] = []
        if unclaimed and self.target.ref_for(self.uid(0)) is None:
            # The target names its objects (Graph, Google): no ref tells whose contact it
            # is, so the marks of the contacts no row claims are read too (few: the folder
            # is ours), and ours are taken back like cards found away from their place.
            marks = self.target.marks(to_read | unclaimed)
            own = [
                mark
                for ref in unclaimed
                if (mark := marks.get(ref)) is not None and self.ours(mark, mark.person_id)
            ]
        elif not self.existing and unknown:
            # Nothing mapped, yet cards of ours are there: read every card with our mark
            # once, to find ours wherever they are (and copies of them).
            own = [o for o in self.target.list_own() if self.ours(o, o.person_id)]
            by_ref = {o.ref: o for o in own}
            marks = {ref: by_ref.get(ref) for ref in unknown}
        else:
            marks = self.target.marks(to_read) if to_read else {}

        for pid in sorted(self.existing):
            mapping = self.existing[pid]
            if mapping.target_ref not in listed or (
                pid in moved and mapping.target_ref not in marks
            ):
                self.missing(pid)
            elif pid in moved:
                self.moved(pid, marks[mapping.target_ref], listed[mapping.target_ref])
        for ref, pid in sorted(unknown.items()):
            if ref in marks:
                self.unknown(pid, ref, marks[ref], listed[ref])
        self.copies(own)
        self.save()
        return self.healing

    def missing(self, person_id: int) -> None:
        mapping = self.existing[person_id]
        self.healing.missing.add(person_id)
        mapping.content_hash = ""
        self.changed[person_id] = mapping

    def moved(self, person_id: int, mark: OwnContact | None, listed_etag: str) -> None:
        mapping = self.existing[person_id]
        if self.ours(mark, person_id):
            assert mark is not None
            self.healing.edited.add(person_id)
            mapping.etag, mapping.content_hash = mark.etag, ""
        elif mapping.target_ref == self.target.ref_for(mapping.target_uid) and (
            person_id in self.cards
        ):
            self.healing.adopted.add(person_id)
            mapping.etag, mapping.content_hash = listed_etag, ""
        else:
            _note(
                self.healing,
                self.cards,
                person_id,
                f"the contact at {mapping.target_ref} no longer carries Synchronizer's mark, "
                "so it is no longer synced and was left as it is.",
            )
            self.forgotten.add(person_id)
            return
        self.changed[person_id] = mapping

    def unknown(self, person_id: int, ref: str, mark: OwnContact | None, listed_etag: str) -> None:
        """A card at our deterministic place for `person_id` that no row claims."""
        mapping = self.existing.get(person_id)
        if self.ours(mark, person_id):
            assert mark is not None
            if mapping is not None:
                # Mapped to a card elsewhere: our own card, at its own place, wins.
                if mapping.target_ref in self.listed:
                    _note(
                        self.healing,
                        self.cards,
                        person_id,
                        f"a copy carrying Synchronizer's mark at {mapping.target_ref} was left "
                        f"as it is; the contact at {ref} is the one synced.",
                    )
                for found in (self.healing.missing, self.healing.edited, self.healing.adopted):
                    found.discard(person_id)
                self.forgotten.discard(person_id)
                mapping.target_ref, mapping.etag, mapping.content_hash = ref, mark.etag, ""
                self.changed[person_id] = mapping
            else:
                self.added[person_id] = self.row(person_id, ref, mark.etag)
            self.healing.taken_back.add(person_id)
        elif mapping is None and person_id in self.cards:
            self.added[person_id] = self.row(person_id, ref, listed_etag)
            self.healing.adopted.add(person_id)
        else:
            elsewhere = f" (the synced one is at {mapping.target_ref})" if mapping else ""
            _note(
                self.healing,
                self.cards,
                person_id,
                f"the contact at {ref} does not carry Synchronizer's mark{elsewhere}; it was "
                "left as it is.",
            )

    def copies(self, own: list[OwnContact]) -> None:
        """Cards with our mark away from our deterministic place (read when nothing was
        mapped, or on targets that name their objects): ours when the person has no other
        card, otherwise reported copies."""
        for mark in sorted(own, key=lambda o: (o.person_id, o.ref)):
            kept = self.added.get(mark.person_id) or self.existing.get(mark.person_id)
            if kept is not None and kept.target_ref == mark.ref:
                continue
            if kept is None:
                self.added[mark.person_id] = self.row(mark.person_id, mark.ref, mark.etag)
                self.healing.taken_back.add(mark.person_id)
                continue
            if kept.target_ref not in self.listed and mark.person_id in self.healing.missing:
                # Its row lost its contact, or was written ahead of a create whose answer
                # never came: this contact is the one.
                self.healing.missing.discard(mark.person_id)
                self.healing.taken_back.add(mark.person_id)
                kept.target_ref, kept.etag, kept.content_hash = mark.ref, mark.etag, ""
                self.changed[mark.person_id] = kept
                continue
            _note(
                self.healing,
                self.cards,
                mark.person_id,
                f"a copy carrying Synchronizer's mark at {mark.ref} was left as it is; the "
                f"contact at {kept.target_ref} is the one synced.",
            )

    def row(self, person_id: int, ref: str, etag: str) -> PersonMapping:
        # Every source the user has: a run that reads them all keeps exactly the persons
        # still named; any other run keeps them all. The empty hash rewrites the card once.
        return PersonMapping(
            linked_user_id=self.run.linked_user_id,
            person_id=person_id,
            provenance=sorted(self.provenance),
            target_uid=self.uid(person_id),
            target_ref=ref,
            etag=etag,
            content_hash="",
        )

    def save(self) -> None:
        if self.forgotten:
            PersonMapping.objects.filter(
                linked_user_id=self.run.linked_user_id, person_id__in=self.forgotten
            ).delete()
            for person_id in self.forgotten:
                del self.existing[person_id]
        if self.changed:
            PersonMapping.objects.bulk_update(
                self.changed.values(), ["target_ref", "etag", "content_hash"]
            )
        if self.added:
            PersonMapping.objects.bulk_create(self.added.values(), ignore_conflicts=True)
            # Read back: rows made with ignore_conflicts carry no primary key.
            self.existing.update(
                (m.person_id, m)
                for m in PersonMapping.objects.filter(
                    linked_user_id=self.run.linked_user_id, person_id__in=self.added
                )
            )


def mappings_heal(
    *,
    run: SyncRun,
    target: Target,
    existing: dict[int, PersonMapping],
    cards: Mapping[int, ContactCard],
    provenance: Collection[str],
) -> Healing:
    """Compare the mapping with the target's listing and prepare `existing` (in place, and
    in the database) so that reconciling against `Healing.mapped(existing)` heals the
    differences. `cards`: the persons named in this run; `provenance`: every source the
    user has, given to cards taken back from their marks."""
    comparison = _Comparison(
        run=run,
        target=target,
        existing=existing,
        cards=cards,
        provenance=frozenset(provenance),
        context_identifier=run.linked_user.tenant.context_identifier,
    )
    healing = comparison.run_pass()
    found = len(healing.missing | healing.edited | healing.adopted | healing.taken_back)
    if found or healing.notes:
        logger.info(
            "mapping compared with the address book",
            extra={
                "missing": len(healing.missing),
                "edited": len(healing.edited),
                "adopted": len(healing.adopted),
                "taken_back": len(healing.taken_back),
                "notes": len(healing.notes),
            },
        )
    return healing


def mailbox_changes_heal(*, target: Target, existing: dict[int, PersonMapping]) -> Healing:
    """Between full runs: contacts of ours the mailbox's change feed reports edited or
    deleted are written again by this run (CRM wins; the update's stale etag makes the
    target check our mark first). Our own writes come back from the feed with the version
    we recorded, and are left alone."""
    healing = Healing()
    changes = target.changes()
    if changes is None:
        return healing
    by_ref = {m.target_ref: m for m in existing.values() if m.target_ref}
    changed: list[PersonMapping] = []
    for ref, version in changes.items():
        mapping = by_ref.get(ref)
        if mapping is None:
            continue  # not ours, or not ours to know about
        if version is None:
            healing.missing.add(mapping.person_id)
        elif not _same_version(version, mapping.etag):
            healing.edited.add(mapping.person_id)
        else:
            continue
        mapping.content_hash = ""
        changed.append(mapping)
    PersonMapping.objects.bulk_update(changed, ["content_hash"])
    target.changes_acknowledge()
    if changed:
        logger.info(
            "mailbox reported changes to our contacts",
            extra={"missing": len(healing.missing), "edited": len(healing.edited)},
        )
    return healing
