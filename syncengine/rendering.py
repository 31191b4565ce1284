"""A SuperOffice person as a contact card, honouring the user's field choices.

The card is what every target writes (vCard, Graph contact, Google person); its hash
is stored after a write, so an unchanged person causes no write at all.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import date

from preferences.selectors import EffectivePreferences
from syncengine.superoffice.records import Address, PersonRecord

CATEGORY = "SuperOffice Person"


@dataclass(frozen=True)
class Phone:
    number: str
    kind: str  # "work", "cell" or "home"
    preferred: bool


@dataclass(frozen=True)
class PostalAddress:
    """A business address as cards hold it: the street lines joined by newlines, the
    postcode, city, region (state or county) and country (empty when unknown)."""

    street: str
    zip_code: str
    city: str
    region: str
    country: str = ""


@dataclass(frozen=True)
class ContactCard:
    uid: str
    person_id: int
    display_name: str
    first_name: str
    middle_name: str
    last_name: str
    salutation: str
    job_title: str
    organization: str
    department: str
    emails: tuple[str, ...]
    phones: tuple[Phone, ...]
    birthday: date | None
    # The person's company's street address.
    business_address: PostalAddress | None = None
    categories: tuple[str, ...] = (CATEGORY,)

    @property
    def content_hash(self) -> str:
        canonical = json.dumps(asdict(self), sort_keys=True, default=str, ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


def _uid_prefix(context_identifier: str) -> str:
    return f"superoffice-{context_identifier.lower()}-person-"


def contact_uid(*, context_identifier: str, person_id: int) -> str:
    """Our mark: the same person always gets the same UID, so a retried create cannot
    make a second copy, and lost state can be rebuilt from the target."""
    return f"{_uid_prefix(context_identifier)}{person_id}"


def contact_person_id(*, uid: str, context_identifier: str) -> int | None:
    """The person whose UID this is, for this tenant; None for any other UID."""
    prefix = _uid_prefix(context_identifier)
    digits = uid[len(prefix) :] if uid.startswith(prefix) else ""
    # Only the UIDs we write: digits, and no leading zeros.
    return int(digits) if digits.isdigit() and str(int(digits)) == digits else None


def _phones(person: PersonRecord, *, personal_first: bool) -> tuple[Phone, ...]:
    personal = [(n, "cell") for n in person.mobile_phones] + [
        (n, "home") for n in person.private_phones
    ]
    office = [(n, "work") for n in person.office_phones]
    ordered = personal + office if personal_first else office + personal
    seen: set[str] = set()
    phones: list[Phone] = []
    for number, kind in ordered:
        number = number.strip()
        if number and number not in seen:
            seen.add(number)
            phones.append(Phone(number=number, kind=kind, preferred=not phones))
    return tuple(phones)


def _postal_address(address: Address | None) -> PostalAddress | None:
    if address is None:
        return None
    lines = [line.strip() for line in address.street_lines if line.strip()]
    card_address = PostalAddress(
        street="\n".join(lines),
        zip_code=address.zip_code.strip(),
        city=address.city.strip(),
        region=address.region.strip(),
    )
    parts = (card_address.street, card_address.zip_code, card_address.city, card_address.region)
    return card_address if any(parts) else None


def render_person(
    *, person: PersonRecord, context_identifier: str, preferences: EffectivePreferences
) -> ContactCard:
    emails = tuple(dict.fromkeys(e.strip() for e in person.emails if e.strip()))
    display_name = (
        person.full_name.strip()
        or (emails[0] if emails else "")
        or person.company_name
        or f"SuperOffice person {person.person_id}"
    )
    return ContactCard(
        uid=contact_uid(context_identifier=context_identifier, person_id=person.person_id),
        person_id=person.person_id,
        display_name=display_name,
        first_name=person.first_name,
        middle_name=person.middle_name,
        last_name=person.last_name,
        salutation=person.salutation if preferences.sync_title else "",
        job_title=person.job_title if preferences.sync_job_title else "",
        organization=person.company_name,
        department=person.department if preferences.sync_department else "",
        emails=emails,
        phones=_phones(person, personal_first=preferences.personal_phone_as_primary),
        birthday=person.birth_date if preferences.sync_birthdays else None,
        business_address=_postal_address(person.address),
    )
