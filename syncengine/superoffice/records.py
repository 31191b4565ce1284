"""What the engine reads from SuperOffice, as plain immutable values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(frozen=True)
class Address:
    """The street address of a person's company (SuperOffice's StructuredAddress):
    up to three street lines, postcode, city, and the region (state, else county)."""

    street_lines: tuple[str, ...]
    zip_code: str
    city: str
    region: str


@dataclass(frozen=True)
class PersonRecord:
    """One SuperOffice person with every field a contact card can show.

    `job_title` is the person's own title text (SuperOffice's Person.Title), `salutation`
    the Mr/Mrs field (Person.Mrmrs), `department` the company's department.
    """

    person_id: int
    first_name: str
    middle_name: str
    last_name: str
    job_title: str
    salutation: str
    company_id: int
    company_name: str
    department: str
    emails: tuple[str, ...]
    office_phones: tuple[str, ...]
    mobile_phones: tuple[str, ...]
    private_phones: tuple[str, ...]
    birth_date: date | None
    retired: bool
    updated_at: datetime | None
    # The company's street address; None when the company has none.
    address: Address | None = None

    @property
    def full_name(self) -> str:
        parts = (self.first_name, self.middle_name, self.last_name)
        return " ".join(part for part in parts if part)


@dataclass(frozen=True)
class SourceMembers:
    """Every person one source names, with the details of those its archive carried."""

    person_ids: frozenset[int]
    persons: Mapping[int, PersonRecord] = field(default_factory=dict)

    @classmethod
    def of(cls, persons: Mapping[int, PersonRecord]) -> SourceMembers:
        return cls(person_ids=frozenset(persons), persons=persons)


@dataclass(frozen=True)
class SelectionInfo:
    """A selection found by name: what Person Synchronization needs to know about it."""

    selection_id: int
    name: str
    selection_type: str  # "Static", "Dynamic" or "Combined"
    target_table: str  # "person", "contact", "sale", …
    member_count: int


@dataclass(frozen=True)
class SyncWindow:
    """The appointment window: from `start` (inclusive) to `end` (exclusive)."""

    start: datetime
    end: datetime
