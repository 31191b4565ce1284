"""What the sync engine reads from SuperOffice, each as a few archive queries.

Every query uses only what SuperOffice documents for the provider: its columns, the
operators listed for each column's type, sorts on sortable columns, and logical output
parsed by type (`cells`). Integer columns take no `oneOf`, so ids are read as ranges
(`personId between (a,b)`) and the rows of a range that were not asked for are dropped.

Person details come with the source wherever its archive carries them: a selection's
members (`selections`), favourite persons and the persons at favourite companies arrive
with every card field in the same pages (a 5,000-member selection costs about 6
requests). Only the persons of appointments are read by id afterwards.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from syncengine.superoffice.cells import (
    bool_cell,
    comparable_name,
    datetime_cell,
    id_cell,
    text_cell,
)
from syncengine.superoffice.client import DEFAULT_PAGE_SIZE, SuperOfficeClient
from syncengine.superoffice.person_rows import PERSON_ARCHIVE_COLUMNS, person_records
from syncengine.superoffice.records import PersonRecord, SyncWindow

# Ids further apart than a page are read in separate ranges: the rows between them would
# cost more pages than one more request (a range holds at most one row per person id).
PERSON_RANGE_GAP = DEFAULT_PAGE_SIZE
# Companies have several persons each, so their ranges close sooner.
COMPANY_RANGE_GAP = 50

# `assocType` ids follow SuperOffice's UserType (Unknown, InternalAssociate, Resource…).
INTERNAL_ASSOCIATE = 1


# --- small helpers -------------------------------------------------------------------------


def _between(low: int, high: int) -> str:
    """The bounds of `between` for ids low..high. The pages do not say whether `between`
    includes its ends; one id more on each side is right either way (rows outside the
    wanted ids are dropped anyway)."""
    return f"({low - 1},{high + 1})"


def id_ranges(ids: Iterable[int], *, widest_gap: int) -> list[tuple[int, int]]:
    """Sorted ids as inclusive ranges, a new range wherever the gap exceeds `widest_gap`."""
    ranges: list[tuple[int, int]] = []
    for value in sorted(set(ids)):
        if ranges and value - ranges[-1][1] <= widest_gap:
            ranges[-1] = (ranges[-1][0], value)
        else:
            ranges.append((value, value))
    return ranges


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- favourites ----------------------------------------------------------------------------


def _favourite_filter(associate_id: int) -> str:
    return f"favouriteAssociateId associateIsOneOf ({int(associate_id)})"


def favourite_company_ids(*, client: SuperOfficeClient, associate_id: int) -> frozenset[int]:
    """The companies the associate starred."""
    rows = client.archive(
        "contactfavourites",
        select=("contactId",),
        filter=_favourite_filter(associate_id),
        order_by="contactId",
    )
    return frozenset(company_id for row in rows if (company_id := id_cell(row, "contactId")))


def favourite_persons(*, client: SuperOfficeClient, associate_id: int) -> dict[int, PersonRecord]:
    """The persons the associate starred, former employees included (starred on purpose)."""
    rows = client.archive(
        "personfavourites",
        select=PERSON_ARCHIVE_COLUMNS.select(),
        filter=_favourite_filter(associate_id),
        order_by="personId",
    )
    return {
        record.person_id: record for record in person_records(rows, columns=PERSON_ARCHIVE_COLUMNS)
    }


def persons_at_companies(
    *, client: SuperOfficeClient, company_ids: Iterable[int]
) -> dict[int, PersonRecord]:
    """The current employees of these companies; former employees (retired) are left out."""
    wanted = set(company_ids)
    found: dict[int, PersonRecord] = {}
    for low, high in id_ranges(wanted, widest_gap=COMPANY_RANGE_GAP):
        rows = client.archive(
            "Person",
            select=PERSON_ARCHIVE_COLUMNS.select(),
            filter=f"contactId between {_between(low, high)}",
            # The `person` entity is the current employees; `retiredPerson` the former.
            entities=("person",),
            order_by="personId",
        )
        for record in person_records(rows, columns=PERSON_ARCHIVE_COLUMNS):
            if record.company_id in wanted and not record.retired:
                found[record.person_id] = record
    return found


# --- appointments --------------------------------------------------------------------------


class ParticipantsCache(Protocol):
    """Remembers a booking's external participants for one version of the booking."""

    def get(self, key: str) -> frozenset[int] | None: ...

    def set(self, key: str, person_ids: frozenset[int]) -> None: ...


def appointment_person_ids(
    *,
    client: SuperOfficeClient,
    associate_id: int,
    window: SyncWindow,
    participants_cache: ParticipantsCache | None = None,
) -> frozenset[int]:
    """Persons linked to the associate's appointments that start inside the window.

    Every row in the associate's diary counts: own appointments, bookings they own and
    invitations to others' bookings. Each names the person the meeting is with; a booking
    also has participants, of whom the external persons count (associates do not).

    SuperOffice answers participants one booking at a time, so with a cache they are read
    only for bookings that are new or changed since (keyed by the booking's updated date):
    a regular run over an unchanged diary costs one appointment query.
    """
    # `between` compares whole days; the exact window is applied to each row below.
    start, end = _utc(window.start), _utc(window.end)
    first_day, last_day = start.date().isoformat(), end.date().isoformat()
    rows = client.archive(
        "FindAppointment",
        select=("appointmentId", "date", "personId", "booking", "updatedDate"),
        filter=(
            f"associateId associateIsOneOf ({int(associate_id)}) "
            f"and date between ('{first_day}','{last_day}')"
        ),
        order_by="appointmentId",
    )
    person_ids: set[int] = set()
    bookings: list[tuple[int, str]] = []
    for row in rows:
        starts = datetime_cell(row, "date")
        if starts is None or not start <= starts < end:
            continue
        # A list column: in logical output, the person's id.
        if person_id := id_cell(row, "personId"):
            person_ids.add(person_id)
        if bool_cell(row, "booking"):
            bookings.append((id_cell(row, "appointmentId"), text_cell(row, "updatedDate")))
    # The appointment archive has no column linking an invitee's row to its booking, so
    # participants are read per booking (one query each, however many participants);
    # plain appointments, most of a diary, cost nothing here.
    for booking_id, updated in bookings:
        key = f"{client.context_identifier}:{booking_id}:{updated}"
        cached = participants_cache.get(key) if participants_cache and updated else None
        if cached is None:
            cached = _booking_participant_ids(client=client, booking_id=booking_id)
            if participants_cache is not None and updated:
                participants_cache.set(key, cached)
        person_ids.update(cached)
    return frozenset(person_ids)


def _booking_participant_ids(*, client: SuperOfficeClient, booking_id: int) -> frozenset[int]:
    participants = client.archive(
        "Participants",
        # `personId` is documented (int); `participantPersonId` has no documented type.
        select=("personId",),
        filter=f"appointmentRestrictionId = {booking_id}",
        entities=("externalPerson",),
        # The only sortable column of this archive; a booking's participants fit one page.
        order_by="fullName",
    )
    return frozenset(
        person_id for participant in participants if (person_id := id_cell(participant, "personId"))
    )


# --- person details ------------------------------------------------------------------------


def persons_by_ids(
    *, client: SuperOfficeClient, person_ids: Iterable[int]
) -> dict[int, PersonRecord]:
    """Details of these persons, read as id ranges; persons that no longer exist are
    absent."""
    wanted = set(person_ids)
    persons: dict[int, PersonRecord] = {}
    for low, high in id_ranges(wanted, widest_gap=PERSON_RANGE_GAP):
        rows = client.archive(
            "Person",
            select=PERSON_ARCHIVE_COLUMNS.select(),
            filter=f"personId between {_between(low, high)}",
            # Former employees too: a person selected or starred on purpose is synced.
            entities=("person", "retiredPerson"),
            order_by="personId",
        )
        for record in person_records(rows, columns=PERSON_ARCHIVE_COLUMNS):
            if record.person_id in wanted:
                persons[record.person_id] = record
    return persons


# --- users ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AssociateInfo:
    """A SuperOffice user (associate) of the tenant, as an administrator links them."""

    associate_id: int
    full_name: str
    email: str
    user_name: str
    is_active: bool
    # SuperOffice's UserType as its id; resources, external and system users differ.
    user_type: int

    @property
    def can_be_linked(self) -> bool:
        """Only active, ordinary users sign in and have a mailbox to fill."""
        return self.is_active and self.user_type == INTERNAL_ASSOCIATE and bool(self.email)


def associates_list(*, client: SuperOfficeClient) -> list[AssociateInfo]:
    """Every user of the tenant, active or not, by name (the `AllUsers` archive)."""
    rows = client.archive(
        "AllUsers",
        select=("associateDbId", "fullName", "personEmail", "userName", "isActive", "assocType"),
        entities=("all",),
        order_by="associateDbId",
    )
    associates = [
        AssociateInfo(
            # An associate column: in logical output, the associate's id.
            associate_id=associate_id,
            full_name=text_cell(row, "fullName"),
            email=text_cell(row, "personEmail"),
            user_name=text_cell(row, "userName"),
            is_active=bool_cell(row, "isActive"),
            user_type=id_cell(row, "assocType"),
        )
        for row in rows
        if (associate_id := id_cell(row, "associateDbId"))
    ]
    return sorted(associates, key=lambda info: (comparable_name(info.full_name), info.associate_id))
