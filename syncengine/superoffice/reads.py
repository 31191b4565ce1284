"""What the sync engine reads from SuperOffice, each as a few archive queries.

Ids come in pages of 1,000; person details in `oneOf` chunks of 999 ids, so 5,000
selection members cost about 6 requests for their ids and 6 for their details, never
one request per person.

Selections: SuperOffice keeps company and person selections in one kind of selection
(target table `contact`, archive `ContactPersonStaticSelectionV2`), whose members are rows
of a company and, optionally, one of its persons; older databases also have selections on
the `person` table. Both are accepted; their person rows are what we sync, and rows that
name only a company are not expanded to the company's persons.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol

from syncengine.superoffice.client import SuperOfficeClient
from syncengine.superoffice.errors import PermanentError, SelectionRefused
from syncengine.superoffice.records import PersonRecord, SelectionInfo, SyncWindow

ID_PAGE_SIZE = 1000
# One short of a page, so a chunk's answer always fits one page and the client never asks
# for an empty next page. Long `oneOf` lists go as a form POST (see the client).
DETAIL_CHUNK_SIZE = ID_PAGE_SIZE - 1

PERSON_TARGET_TABLES = {"person", "contact"}
TARGET_TABLE_WORDS = {
    "sale": "sales",
    "project": "projects",
    "appointment": "follow-ups",
    "document": "documents",
    "ticket": "requests",
    "mailing": "mailings",
    "product": "products",
}

PERSON_DETAIL_COLUMNS = (
    "personId",
    "firstName",
    "middleName",
    "lastName",
    "title",
    "mrMrs",
    "contactId",
    "personContact/name",
    "personContact/department",
    "email/emailAddress",
    "personDirectPhone/formattedNumber",
    "personMobilePhone/formattedNumber",
    "personPrivate/formattedNumber",
    "birthdate",
    "retired",
    "personUpdatedDate",
)


# --- small helpers for the OData text ------------------------------------------------------


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _id_list(ids: Iterable[int]) -> str:
    return "(" + ",".join(str(int(value)) for value in ids) + ")"


def _chunks(ids: Iterable[int], *, size: int) -> Iterator[list[int]]:
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _comparable_name(name: str) -> str:
    return unicodedata.normalize("NFC", " ".join(name.split())).casefold()


def _so_datetime(value: Any) -> datetime | None:
    """SuperOffice sends dates as ISO text without an offset, in UTC."""
    text = _text(value)
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _birth_date(value: Any) -> date | None:
    moment = _so_datetime(value)
    # Year 1 means no birth date and year 2 "day and month, year unknown": a card needs
    # a whole date, so both count as none.
    if moment is None or moment.year <= 2:
        return None
    return moment.date()


# --- selections ----------------------------------------------------------------------------


def selection_find_static(*, client: SuperOfficeClient, name: str) -> SelectionInfo:
    """The one static person selection with this name (case and spaces ignored).

    Raises SelectionRefused with a reason a user can read when no selection, or several,
    have the name, or when the one found cannot be synced.
    """
    wanted = name.strip()
    if not wanted:
        raise SelectionRefused(name, "Type the name of a selection.")
    # `contains`, then an exact comparison here: stored names can carry stray spaces
    # that `is` would not forgive.
    rows = [
        row
        for row in client.archive(
            "FindSelection",
            select=("selectionId", "name", "kind", "targetTableName", "memberCount"),
            filter=f"name contains {_quoted(wanted)}",
            order_by="selectionId",
            page_size=ID_PAGE_SIZE,
        )
        if _comparable_name(_text(row.get("name"))) == _comparable_name(wanted)
    ]
    if not rows:
        raise SelectionRefused(name, f"No selection is called “{wanted}”.")
    if len(rows) > 1:
        ids = ", ".join(str(_int(row.get("selectionId"))) for row in rows)
        raise SelectionRefused(
            name,
            f"{len(rows)} selections are called “{wanted}”: ids {ids}; rename one in SuperOffice.",
        )
    row = rows[0]
    info = SelectionInfo(
        selection_id=_int(row.get("selectionId")),
        name=_text(row.get("name")),
        selection_type=_text(row.get("kind")),
        target_table=_text(row.get("targetTableName")).lower(),
        member_count=_int(row.get("memberCount")),
    )
    refusal = _refusal_reason(info=info)
    if refusal is None and info.target_table == "contact" and info.member_count != 0:
        refusal = _companies_only_reason(client=client, info=info)
    if refusal is not None:
        raise SelectionRefused(name, refusal)
    return info


def _refusal_reason(*, info: SelectionInfo) -> str | None:
    if info.target_table not in PERSON_TARGET_TABLES:
        things = TARGET_TABLE_WORDS.get(info.target_table, f"{info.target_table or 'unknown'}s")
        return (
            f"“{info.name}” is a selection of {things}, not persons; "
            "choose a static selection of persons or companies."
        )
    if info.selection_type == "Dynamic":
        return (
            f"“{info.name}” is a dynamic selection: its members follow search criteria. "
            "Only static selections can be synced."
        )
    if info.selection_type == "Combined":
        return (
            f"“{info.name}” is a combined selection (made from two others). "
            "Only static selections can be synced."
        )
    if info.selection_type != "Static":
        return f"“{info.name}” is not a static selection. Only static selections can be synced."
    return None


def _companies_only_reason(*, client: SuperOfficeClient, info: SelectionInfo) -> str | None:
    """A company selection whose members are all companies names no person to sync.

    An empty selection is accepted: persons can be added to it later.
    """

    def has_member(entity: str) -> bool:
        rows = client.archive(
            "ContactPersonStaticSelectionV2",
            select=("selectionMemberId",),
            filter=f"selectionId = {info.selection_id}",
            entities=(entity,),
            order_by="selectionMemberId",
            page_size=1,
        )
        return next(rows, None) is not None

    if has_member("staticPerson") or not has_member("staticContact"):
        return None
    # MemberCount is SuperOffice's estimate, and -1 when it does not know.
    listed = f"{info.member_count} companies" if info.member_count > 0 else "only companies"
    return (
        f"“{info.name}” is a selection of companies, not persons: it lists {listed} "
        "and none of their contact persons. Add the persons to it in SuperOffice, or choose "
        "another selection."
    )


def selection_member_person_ids(*, client: SuperOfficeClient, selection_id: int) -> frozenset[int]:
    """Every person in a static selection (its company-only rows name no person).

    Raises NotFound when the selection is gone, PermanentError when it is no longer a static
    selection of persons, so the engine keeps what the source named before.
    """
    selection = client.get_json(f"Selection/{int(selection_id)}")
    info = SelectionInfo(
        selection_id=int(selection_id),
        name=_text(selection.get("Name")),
        selection_type=_text(selection.get("SelectionType")),
        target_table=_text(selection.get("TargetTableName")).lower(),
        member_count=_int(selection.get("MemberCount")),
    )
    refusal = _refusal_reason(info=info)
    if refusal is not None:
        raise PermanentError(refusal)
    rows = client.archive(
        "ContactPersonStaticSelectionV2",
        select=("personId",),
        filter=f"selectionId = {int(selection_id)}",
        entities=("staticPerson",),
        order_by="selectionMemberId",
        page_size=ID_PAGE_SIZE,
    )
    return frozenset(person_id for row in rows if (person_id := _int(row.get("personId"))))


# --- favourites ----------------------------------------------------------------------------


def _favourite_ids(
    *, client: SuperOfficeClient, provider: str, column: str, associate_id: int
) -> frozenset[int]:
    rows = client.archive(
        provider,
        select=(column,),
        filter=f"favouriteAssociateId associateIsOneOf ({int(associate_id)})",
        order_by=column,
        page_size=ID_PAGE_SIZE,
    )
    return frozenset(record_id for row in rows if (record_id := _int(row.get(column))))


def favourite_company_ids(*, client: SuperOfficeClient, associate_id: int) -> frozenset[int]:
    """The companies the associate starred."""
    return _favourite_ids(
        client=client, provider="contactfavourites", column="contactId", associate_id=associate_id
    )


def favourite_person_ids(*, client: SuperOfficeClient, associate_id: int) -> frozenset[int]:
    """The persons the associate starred, former employees included (starred on purpose)."""
    return _favourite_ids(
        client=client, provider="personfavourites", column="personId", associate_id=associate_id
    )


def person_ids_at_companies(
    *, client: SuperOfficeClient, company_ids: Iterable[int]
) -> frozenset[int]:
    """The current employees of these companies; former employees (retired) are left out."""
    found: set[int] = set()
    for chunk in _chunks(company_ids, size=DETAIL_CHUNK_SIZE):
        rows = client.archive(
            "Person",
            select=("personId",),
            filter=f"contactId oneOf {_id_list(chunk)} and retired set false",
            entities=("person",),
            order_by="personId",
            page_size=ID_PAGE_SIZE,
        )
        found.update(person_id for row in rows if (person_id := _int(row.get("personId"))))
    return frozenset(found)


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
        page_size=ID_PAGE_SIZE,
    )
    person_ids: set[int] = set()
    bookings: list[tuple[int, str]] = []
    for row in rows:
        starts = _so_datetime(row.get("date"))
        if starts is None or not start <= starts < end:
            continue
        if person_id := _int(row.get("personId")):
            person_ids.add(person_id)
        if row.get("booking"):
            bookings.append((_int(row.get("appointmentId")), str(row.get("updatedDate") or "")))
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
        select=("participantPersonId",),
        filter=f"appointmentRestrictionId = {booking_id}",
        entities=("externalPerson",),
        order_by="participantPersonId",
        page_size=ID_PAGE_SIZE,
    )
    return frozenset(
        person_id
        for participant in participants
        if (person_id := _int(participant.get("participantPersonId")))
    )


# --- person details ------------------------------------------------------------------------


def persons_by_ids(
    *, client: SuperOfficeClient, person_ids: Iterable[int]
) -> dict[int, PersonRecord]:
    """Details of these persons, 999 per request; persons that no longer exist are absent."""
    persons: dict[int, PersonRecord] = {}
    for chunk in _chunks(person_ids, size=DETAIL_CHUNK_SIZE):
        rows = client.archive(
            "Person",
            select=PERSON_DETAIL_COLUMNS,
            filter=f"personId oneOf {_id_list(chunk)}",
            # Former employees too: a person selected or starred on purpose is synced.
            entities=("person", "retiredPerson"),
            order_by="personId",
            page_size=ID_PAGE_SIZE,
        )
        for row in rows:
            record = _person_record(row=row)
            persons[record.person_id] = record
    return persons


def _present(value: Any) -> tuple[str, ...]:
    # The archive gives each person's primary address and number of each kind.
    text = _text(value)
    return (text,) if text else ()


def _person_record(*, row: dict[str, Any]) -> PersonRecord:
    return PersonRecord(
        person_id=_int(row.get("personId")),
        first_name=_text(row.get("firstName")),
        middle_name=_text(row.get("middleName")),
        last_name=_text(row.get("lastName")),
        job_title=_text(row.get("title")),
        salutation=_text(row.get("mrMrs")),
        company_id=_int(row.get("contactId")),
        company_name=_text(row.get("personContact/name")),
        department=_text(row.get("personContact/department")),
        emails=_present(row.get("email/emailAddress")),
        office_phones=_present(row.get("personDirectPhone/formattedNumber")),
        mobile_phones=_present(row.get("personMobilePhone/formattedNumber")),
        private_phones=_present(row.get("personPrivate/formattedNumber")),
        birth_date=_birth_date(row.get("birthdate")),
        retired=bool(row.get("retired")),
        updated_at=_so_datetime(row.get("personUpdatedDate")),
    )


# --- users ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AssociateInfo:
    """A SuperOffice user (associate) of the tenant, as an administrator links them."""

    associate_id: int
    full_name: str
    email: str
    user_name: str
    is_active: bool
    # "User" for an ordinary (internal) user; resources, external and system users differ.
    assoc_type: str

    @property
    def can_be_linked(self) -> bool:
        """Only active, ordinary users sign in and have a mailbox to fill."""
        return self.is_active and self.assoc_type == "User" and bool(self.email)


def associates_list(*, client: SuperOfficeClient) -> list[AssociateInfo]:
    """Every user of the tenant, active or not, by name (the `AllUsers` archive)."""
    rows = client.archive(
        "AllUsers",
        select=("associateDbId", "fullName", "personEmail", "userName", "isActive", "assocType"),
        entities=("all",),
        order_by="associateDbId",
        page_size=ID_PAGE_SIZE,
    )
    associates = [
        AssociateInfo(
            associate_id=associate_id,
            full_name=_text(row.get("fullName")),
            email=_text(row.get("personEmail")),
            user_name=_text(row.get("userName")),
            is_active=bool(row.get("isActive")),
            assoc_type=_text(row.get("assocType")),
        )
        for row in rows
        if (associate_id := _int(row.get("associateDbId")))
    ]
    return sorted(
        associates, key=lambda info: (_comparable_name(info.full_name), info.associate_id)
    )
