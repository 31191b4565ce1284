"""The desired persons against what we wrote before: creates, updates and deletes.

Pure functions over plain values; syncengine.services applies the result.

Rules (DESIGN §5):
- A source read in this run gives its complete membership: persons it no longer names
  lose its key. A source that failed to read, or was not read, keeps its keys.
- A source the user no longer has (a removed selection, a favourites switch turned off)
  loses its keys in every run.
- A person with no key left is deleted from the target (only contacts we created).
- The mass-delete guard holds deletions when there are too many, except those that
  follow directly from a source the user removed themselves (an administrator's
  removal is guarded like any other loss) and those a user or admin confirmed.
- A contact someone chose to keep when the guard held it carries the key "kept": it
  stays, unwritten, and is neither held nor deleted again. Kept ends when a source
  names the person again (from then on the usual rules apply, deletion included) or
  when the card is gone from the mailbox (someone deleted it there: it is forgotten).
- A person whose card the target no longer holds (deleted in the mailbox) is created
  again while wanted; when no longer wanted, only its record goes, outside the guard:
  nothing in the mailbox is lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from syncengine.rendering import ContactCard

# The provenance of a contact kept by a decision (syncengine.held): no source names it.
KEPT_KEY = "kept"


@dataclass(frozen=True)
class Mapped:
    """What we know about a person already written to the target."""

    person_id: int
    provenance: frozenset[str]
    # Of the card last written; empty when it must be written again (edited in the
    # mailbox, taken back from the target's listing, or not known to be written).
    content_hash: str
    # False when the target's listing lacks the card: it must be created again.
    present: bool = True


@dataclass(frozen=True)
class SourceOutcome:
    """One source as read in this run: the persons it names, or why it could not be read."""

    key: str
    person_ids: frozenset[int] = frozenset()
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class MassDeleteGuard:
    """Hold deletions above `max_percent` of the synced contacts *and* above `max_count`."""

    max_percent: int
    max_count: int

    def holds(self, *, deletions: int, synced: int) -> bool:
        return deletions > self.max_count and deletions * 100 > synced * self.max_percent


@dataclass
class Reconciliation:
    creates: list[tuple[ContactCard, frozenset[str]]] = field(default_factory=list)
    updates: list[tuple[ContactCard, frozenset[str]]] = field(default_factory=list)
    deletes: list[int] = field(default_factory=list)
    # Deletions the guard held back: these persons keep their contact, with no provenance.
    held_deletes: list[int] = field(default_factory=list)
    # Persons whose card is unchanged but whose provenance changed.
    provenance_only: dict[int, frozenset[str]] = field(default_factory=dict)
    unchanged: int = 0
    # Named by a source, but SuperOffice returned no details for them (deleted meanwhile).
    missing: list[int] = field(default_factory=list)
    # Wanted by no source, and their card is already gone from the target: only our
    # record of them goes (nothing to delete, nothing counted as deleted).
    forgets: list[int] = field(default_factory=list)

    @property
    def writes(self) -> int:
        return len(self.creates) + len(self.updates) + len(self.deletes)


def reconcile(
    *,
    mapped: Mapping[int, Mapped],
    outcomes: list[SourceOutcome],
    enabled: frozenset[str],
    cards: Mapping[int, ContactCard],
    guard: MassDeleteGuard,
    removed_by_user: frozenset[str] = frozenset(),
    confirmed: frozenset[int] = frozenset(),
    keep: frozenset[int] = frozenset(),
) -> Reconciliation:
    """`removed_by_user`: sources the user removed themselves; persons lost only to them
    are deleted outside the guard. `confirmed`, `keep`: persons of a decided held
    deletion (syncengine.held) not carried out yet, to delete, or to keep."""
    read = frozenset(outcome.key for outcome in outcomes if outcome.ok)
    named: dict[int, set[str]] = {}
    for outcome in outcomes:
        if outcome.ok:
            for person_id in outcome.person_ids:
                named.setdefault(person_id, set()).add(outcome.key)

    result = Reconciliation()
    guarded_deletes: list[int] = []
    exempt_deletes: list[int] = []
    for person_id in sorted(mapped.keys() | named.keys()):
        before = mapped.get(person_id)
        old = before.provenance if before else frozenset()
        kept = KEPT_KEY in old or person_id in keep
        sources = old - {KEPT_KEY}
        new = ((sources & enabled) - read) | frozenset(named.get(person_id, ()))
        card = cards.get(person_id)
        if before is None:
            if card is None:
                result.missing.append(person_id)
            else:
                result.creates.append((card, new))
        elif not new and kept and before.present and person_id not in confirmed:
            if old != {KEPT_KEY}:
                result.provenance_only[person_id] = frozenset({KEPT_KEY})
            result.unchanged += 1
        elif not new and not before.present:
            result.forgets.append(person_id)
        elif not new:
            # Lost only to sources the user removed: a deliberate choice, never held.
            # Confirmed by a user or admin once held.
            lost_to_user = bool(sources) and sources <= removed_by_user
            exempt = lost_to_user or person_id in confirmed
            (exempt_deletes if exempt else guarded_deletes).append(person_id)
        elif card is not None and not before.present:
            result.creates.append((card, new))
        elif card is not None and card.content_hash != before.content_hash:
            result.updates.append((card, new))
        else:
            result.unchanged += 1
            if new != old:
                result.provenance_only[person_id] = new

    result.deletes = exempt_deletes
    synced = sum(1 for before in mapped.values() if before.present)
    if guard.holds(deletions=len(guarded_deletes), synced=synced):
        result.held_deletes = guarded_deletes
        for person_id in guarded_deletes:
            if mapped[person_id].provenance:
                result.provenance_only[person_id] = frozenset()
    else:
        result.deletes = exempt_deletes + guarded_deletes
    return result
