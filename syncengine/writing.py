"""Applying a reconciliation to the target, with the mapping table and the run's counts
kept in step with every write.

Writes go to the target in groups of `Target.batch_size` (one for CardDAV, a few $batch
requests for Microsoft Graph). Around each group:

- creates are written ahead: their mapping rows are saved *before* the group is sent,
  without a ref or hash ("pending"). A worker killed while the group is in flight, or an
  answer that never arrived, leaves a pending row, and whichever run names the person next
  looks our mark up on the target (`Target.find`) before creating, so a contact is
  adopted, never made twice — also on targets that name their objects themselves;
- deletes are written ahead too: the row loses its hash first, so a row whose contact is
  gone is never taken for present;
- what the group did is saved in one transaction after it: each row's ref, version and
  hash, and the run's counts. The counts add up over the attempts of a resumed run.

A write the target refuses for now is counted as failed and the run goes on, unless the
mailbox refuses every write: then the run stops for now. Progress is saved now and then;
it is only a display.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from django.db import connections, models, router, transaction
from django.db.models import F
from django.utils import timezone

from syncengine.models import PersonMapping, SyncRun
from syncengine.reconciler import Reconciliation
from syncengine.rendering import ContactCard
from syncengine.targets.base import (
    ContactExists,
    ContactGone,
    Create,
    Delete,
    Target,
    TargetError,
    Update,
    Write,
    WriteOutcome,
    WrittenContact,
)

logger = logging.getLogger(__name__)

# Writes between two saves of a run's progress (mapping rows are saved with every group).
PROGRESS_SAVE_EVERY = 200
MAPPING_WRITE_FIELDS = ["provenance", "target_ref", "etag", "content_hash", "updated_at"]
# A mailbox that refuses this many writes in a row is treated as unreachable for this run,
# instead of waiting out a timeout for every remaining contact.
MAX_CONSECUTIVE_WRITE_FAILURES = 5

_T = TypeVar("_T")


def _groups(items: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), max(size, 1)):
        yield items[start : start + max(size, 1)]


def mappings_save(rows: Sequence[PersonMapping]) -> None:
    """Save the written fields of existing rows: one UPDATE by id, sent for all rows at once
    (`bulk_update`'s CASE per field and row costs more than the write it records). A row
    deleted meanwhile (an address book moved, a held deletion applied) stays deleted."""
    if not rows:
        return
    meta = PersonMapping._meta
    fields = [meta.get_field(name) for name in MAPPING_WRITE_FIELDS]
    concrete = [field for field in fields if isinstance(field, models.Field)]
    connection = connections[router.db_for_write(PersonMapping)]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(str(field.column))} = %s" for field in concrete)
    where = quote(str(meta.pk.column if meta.pk else "id"))
    # Only quoted table and column names are formatted in; the values travel as parameters.
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {where} = %s"  # noqa: S608
    params = [
        [field.get_db_prep_save(field.pre_save(row, add=False), connection) for field in concrete]
        + [row.pk]
        for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _is_pending(mapping: PersonMapping) -> bool:
    """A row written ahead of a create whose outcome was never recorded."""
    return not mapping.target_ref


@dataclass
class Writer:
    """Writes groups of creates, updates and deletes for one run (see the module's doc)."""

    run: SyncRun
    target: Target
    existing: dict[int, PersonMapping]
    # Called after every group with (done, total), e.g. for a progress bar.
    on_progress: Callable[[int, int], None] | None = None
    # Called before every group: raises when the run must stop (it lost its lock).
    before_write: Callable[[], None] | None = None
    done: int = 0
    consecutive_failures: int = 0
    # Provenance-only changes (no write to the target), saved together at the end.
    pending_updates: list[PersonMapping] = field(default_factory=list)
    done_since_flush: int = 0
    counts: dict[str, int] = field(
        default_factory=lambda: {"created": 0, "updated": 0, "deleted": 0, "failed": 0}
    )
    failures: list[str] = field(default_factory=list)

    # -- groups ------------------------------------------------------------------------------

    def create_all(self, creates: Sequence[tuple[ContactCard, frozenset[str]]]) -> None:
        for group in _groups(creates, self.target.batch_size):
            self._create_group(group)

    def update_all(self, updates: Sequence[tuple[ContactCard, frozenset[str]]]) -> None:
        for group in _groups(updates, self.target.batch_size):
            self._update_group(group)

    def delete_all(self, person_ids: Sequence[int]) -> None:
        for group in _groups(person_ids, self.target.batch_size):
            self._delete_group(group)

    def _create_group(self, group: Sequence[tuple[ContactCard, frozenset[str]]]) -> None:
        self._before_group()
        # Decided before the rows are written ahead: which creates may have landed already.
        writes: list[Write] = [self._create_or_adopt(card) for card, _ in group]
        rows = [self._written_ahead(card, provenance) for card, provenance in group]
        self._save_ahead(rows)
        outcomes = self.target.write_many(writes)
        self._record_group(
            [(card, row) for (card, _), row in zip(group, rows, strict=True)], writes, outcomes
        )

    def _update_group(self, group: Sequence[tuple[ContactCard, frozenset[str]]]) -> None:
        self._before_group()
        rows: list[PersonMapping] = []
        writes: list[Write] = []
        for card, provenance in group:
            row = self.existing[card.person_id]
            row.provenance = sorted(provenance)
            rows.append(row)
            if _is_pending(row):
                writes.append(self._create_or_adopt(card))
            else:
                writes.append(Update(ref=row.target_ref, etag=row.etag, card=card))
        outcomes = self.target.write_many(writes)
        self._record_group(
            [(card, row) for (card, _), row in zip(group, rows, strict=True)], writes, outcomes
        )

    def _delete_group(self, person_ids: Sequence[int]) -> None:
        self._before_group()
        rows = [self.existing[pid] for pid in person_ids]
        # Written ahead: if the worker dies before the group is recorded, the rows say "not
        # known to be written", so whichever run names a person next rewrites the card.
        PersonMapping.objects.filter(pk__in=[row.pk for row in rows]).update(content_hash="")
        writes: list[tuple[PersonMapping, Delete]] = []
        gone: list[PersonMapping] = []
        for row in rows:
            found = self._ref_of(row)
            if found is None:
                gone.append(row)  # never written, or already gone: only the row remains
            else:
                writes.append((row, Delete(ref=found.ref, etag=found.etag, uid=row.target_uid)))
        outcomes = self.target.write_many([write for _, write in writes]) if writes else []
        deleted = list(gone)
        for (row, _), outcome in zip(writes, outcomes, strict=True):
            if isinstance(outcome, TargetError) and not isinstance(outcome, ContactGone):
                self._failed(f"delete person {row.person_id}", outcome)
            else:
                deleted.append(row)
                self.consecutive_failures = 0
        with transaction.atomic():
            PersonMapping.objects.filter(pk__in=[row.pk for row in deleted]).delete()
            self._count(deleted=len(deleted))
        self._after_group(len(person_ids))

    # -- one group's parts ---------------------------------------------------------------------

    def _before_group(self) -> None:
        if self.before_write is not None:
            self.before_write()

    def _written_ahead(self, card: ContactCard, provenance: frozenset[str]) -> PersonMapping:
        row = self.existing.get(card.person_id)
        if row is None:
            row = PersonMapping(
                linked_user_id=self.run.linked_user_id,
                person_id=card.person_id,
                target_uid=card.uid,
            )
        row.provenance = sorted(provenance)
        if not _is_pending(row):
            # A create for a mapped person: its contact is gone from the mailbox.
            row.target_ref, row.etag, row.content_hash = "", "", ""
        return row

    def _save_ahead(self, rows: list[PersonMapping]) -> None:
        new = [row for row in rows if row.pk is None]
        known = [row for row in rows if row.pk is not None]
        with transaction.atomic():
            if known:
                mappings_save(known)
            if new:
                PersonMapping.objects.bulk_create(new)
        for row in new:
            self.existing[row.person_id] = row

    def _ref_of(self, row: PersonMapping) -> WrittenContact | None:
        """Where the row's contact is: its ref, or for a pending row, wherever our mark is."""
        if not _is_pending(row):
            return WrittenContact(ref=row.target_ref, etag=row.etag)
        return self.target.find(row.target_uid)

    def _create_or_adopt(self, card: ContactCard) -> Write:
        """A create, unless an earlier create of this card may have landed unrecorded: then
        our mark is looked up first, and a contact found is updated instead."""
        row = self.existing.get(card.person_id)
        if row is not None and _is_pending(row):
            found = self.target.find(card.uid)
            if found is not None:
                return Update(ref=found.ref, etag=found.etag, card=card)
        return Create(card=card)

    def _record_group(
        self,
        written: list[tuple[ContactCard, PersonMapping]],
        writes: list[Write],
        outcomes: list[WriteOutcome],
        *,
        recreating: bool = False,
    ) -> None:
        saved: list[PersonMapping] = []
        gone: list[tuple[ContactCard, PersonMapping]] = []
        created = updated = 0
        now = timezone.now()
        for (card, row), write, outcome in zip(written, writes, outcomes, strict=True):
            if isinstance(outcome, ContactGone) and isinstance(write, Update):
                gone.append((card, row))  # deleted in the mailbox: made again below
                continue
            result = self._settle(card, write, outcome)
            if result is None:
                continue
            row.target_ref, row.etag, row.content_hash = result.ref, result.etag, card.content_hash
            row.updated_at = now
            saved.append(row)
            # Rewriting a contact that was there (adopted, or made again after a mailbox
            # delete) is an update, not a creation.
            if isinstance(write, Create) and not isinstance(outcome, ContactExists):
                if recreating:
                    updated += 1
                else:
                    created += 1
            else:
                updated += 1
        with transaction.atomic():
            mappings_save(saved)
            self._count(created=created, updated=updated)
        if gone:
            self._recreate_group(gone)
        if not recreating:
            self._after_group(len(written))

    def _recreate_group(self, gone: list[tuple[ContactCard, PersonMapping]]) -> None:
        """Contacts the CRM still wants that someone deleted in the mailbox: created again,
        their rows written ahead as pending first, like any create."""
        for _, row in gone:
            row.target_ref, row.etag, row.content_hash = "", "", ""
        mappings_save([row for _, row in gone])
        writes: list[Write] = [Create(card=card) for card, _ in gone]
        outcomes = self.target.write_many(writes)
        self._record_group(gone, writes, outcomes, recreating=True)

    def _settle(
        self, card: ContactCard, write: Write, outcome: WriteOutcome
    ) -> WrittenContact | None:
        """The contact one write left, adopting one that exists already; None when the
        write failed for now."""
        label = f"{'create' if isinstance(write, Create) else 'update'} person {card.person_id}"
        try:
            if isinstance(outcome, ContactExists):
                result = self.target.update(
                    ref=outcome.existing.ref, etag=outcome.existing.etag, card=card
                )
            elif isinstance(outcome, TargetError):
                raise outcome
            else:
                assert outcome is not None
                result = outcome
        except TargetError as error:
            self._failed(label, error)
            return None
        self.consecutive_failures = 0
        return result

    def _failed(self, label: str, error: TargetError) -> None:
        if error.permanent:
            raise error
        self.counts["failed"] += 1
        self.failures.append(f"{label}: {error}")
        logger.warning("target write failed: %s", error, extra={"operation": label})
        self.consecutive_failures += 1
        if self.consecutive_failures >= MAX_CONSECUTIVE_WRITE_FAILURES:
            raise TargetError(
                f"the mailbox refused {self.consecutive_failures} writes in a row ({error}); "
                "nothing more was written in this run, and the next run tries again",
                permanent=True,
            ) from error

    def _count(self, **counts: int) -> None:
        """Count writes on the run; called inside the group's mapping transaction."""
        changes = {f"{kind}_count": F(f"{kind}_count") + n for kind, n in counts.items() if n}
        # A held deletion applied after its run was pruned is counted on no run.
        if changes and self.run.pk is not None:
            SyncRun.objects.filter(pk=self.run.pk).update(**changes)
        for outcome, n in counts.items():
            self.counts[outcome] += n

    def _after_group(self, size: int) -> None:
        self.done_since_flush += size
        self.done += size
        if self.on_progress is not None:
            self.on_progress(self.done, self.run.progress_total)
        if self.done_since_flush >= PROGRESS_SAVE_EVERY:
            self.flush()

    def flush(self) -> None:
        with transaction.atomic():
            mappings_save(self.pending_updates)
            if self.run.pk is not None:
                SyncRun.objects.filter(pk=self.run.pk).update(
                    progress_done=F("progress_done") + self.done_since_flush,
                    heartbeat_at=timezone.now(),
                )
        self.pending_updates = []
        self.done_since_flush = 0


def reconciliation_write(
    *,
    run: SyncRun,
    target: Target,
    existing: dict[int, PersonMapping],
    reconciliation: Reconciliation,
    on_progress: Callable[[int, int], None] | None,
    before_write: Callable[[], None] | None,
) -> str:
    """Apply the reconciliation; returns error text when the target refused us for good."""
    run.progress_total = reconciliation.writes
    run.unchanged_count = reconciliation.unchanged
    run.held_deletions = sorted(reconciliation.held_deletes)
    run.save(update_fields=["progress_total", "unchanged_count", "held_deletions"])
    writer = Writer(
        run=run,
        target=target,
        existing=existing,
        on_progress=on_progress,
        before_write=before_write,
    )
    error_text = ""
    try:
        writer.create_all(reconciliation.creates)
        writer.update_all(reconciliation.updates)
        writer.delete_all(reconciliation.deletes)
    except TargetError as error:
        error_text = f"The address book refused our changes: {error}"
    finally:
        if reconciliation.forgets:
            PersonMapping.objects.filter(
                linked_user_id=run.linked_user_id, person_id__in=reconciliation.forgets
            ).delete()
        now = timezone.now()
        for person_id, provenance in reconciliation.provenance_only.items():
            mapping = existing[person_id]
            mapping.provenance, mapping.updated_at = sorted(provenance), now
            writer.pending_updates.append(mapping)
        writer.flush()
        # Created, updated and deleted were counted with each group (over every attempt);
        # failures describe this attempt: writes still refused, which a resume retries.
        run.refresh_from_db(fields=["created_count", "updated_count", "deleted_count"])
        run.failed_count = writer.counts["failed"]
        run.target_requests = writer.done
        run.save(update_fields=["failed_count", "target_requests"])
        run.warnings += [{"source": "target", "message": m} for m in writer.failures[:50]]
    return error_text
