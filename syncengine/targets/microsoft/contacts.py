"""A ContactCard as a Microsoft Graph contact, and our mark on it.

Every contact we create carries a single-value extended property (the card's UID, which
holds the tenant and the person id) and the category "SuperOffice Person". The property is
what proves a contact ours; responses never echo it, so it is read with `$expand`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from syncengine.rendering import ContactCard, Phone, PostalAddress

# Our named property in our own namespace (a GUID generated once for Synchronizer). Graph
# matches the name case-sensitively, so this exact string is used everywhere.
MARK_PROPERTY_ID = "String {CB64EFC8-5B8D-4ECE-8D54-92788B472443} Name SuperOfficePersonId"

# Outlook keeps three e-mail addresses, two business and two home numbers and one mobile
# (its fixed contact slots); more would be refused or dropped by the mailbox.
MAX_EMAILS = 3
MAX_BUSINESS_PHONES = 2
MAX_HOME_PHONES = 2


def _text(value: str) -> str | None:
    # null clears a property on PATCH: a field emptied in the CRM is emptied in Outlook.
    return value.strip() or None


def _phones(phones: tuple[Phone, ...]) -> dict[str, Any]:
    """Graph has no "primary" flag on a number, only a business list, a home list and one
    mobile. The card's first phone is the preferred one (with *personal phone as primary*,
    the user's mobile or private number, else an office number): it goes first in its own
    list, so Outlook shows it as that kind's main number (Business Phone, Home Phone,
    Mobile). Numbers beyond Outlook's slots are left out."""
    business: list[str] = []
    home: list[str] = []
    mobiles: list[str] = []
    lists = {"work": business, "home": home, "cell": mobiles}
    for phone in phones:
        number = phone.number.strip()
        if not number:
            continue
        target = lists.get(phone.kind, business)
        if phone.preferred:
            target.insert(0, number)
        else:
            target.append(number)
    return {
        "businessPhones": business[:MAX_BUSINESS_PHONES],
        "homePhones": home[:MAX_HOME_PHONES],
        "mobilePhone": mobiles[0] if mobiles else None,
    }


def _physical_address(address: PostalAddress | None) -> dict[str, str] | None:
    """A physicalAddress; null when the CRM has none, which clears Outlook's."""
    if address is None:
        return None
    return {
        "street": address.street,
        "city": address.city,
        "state": address.region,
        "postalCode": address.zip_code,
        "countryOrRegion": address.country,
    }


def contact_json(*, card: ContactCard) -> dict[str, Any]:
    """Every property we own, empty ones as null or []: sent whole on create and on update,
    since a PATCH changes only what it is given."""
    emails = [address.strip() for address in card.emails if address.strip()][:MAX_EMAILS]
    body: dict[str, Any] = {
        "givenName": _text(card.first_name),
        "middleName": _text(card.middle_name),
        "surname": _text(card.last_name),
        "displayName": card.display_name.strip(),
        "companyName": _text(card.organization),
        "jobTitle": _text(card.job_title),
        "department": _text(card.department),
        "title": _text(card.salutation),
        "emailAddresses": [
            {"address": address, "name": card.display_name.strip() or address} for address in emails
        ],
        **_phones(card.phones),
        # DateTimeOffset at midnight UTC: Outlook shows the date itself in every time zone.
        "birthday": f"{card.birthday.isoformat()}T00:00:00Z" if card.birthday else None,
        "businessAddress": _physical_address(card.business_address),
        "categories": [c for c in card.categories if c.strip()],
    }
    return body


def create_json(*, card: ContactCard) -> dict[str, Any]:
    """A new contact: our properties (nulls left out), the mark and the category."""
    body = {key: value for key, value in contact_json(card=card).items() if value is not None}
    body["singleValueExtendedProperties"] = [{"id": MARK_PROPERTY_ID, "value": card.uid}]
    return body


def mark_of(contact: Mapping[str, Any]) -> str | None:
    """Our mark on a contact read with MARK_EXPAND, or None when it carries none."""
    for prop in contact.get("singleValueExtendedProperties") or []:
        if prop.get("id", "").lower() == MARK_PROPERTY_ID.lower() and prop.get("value"):
            return str(prop["value"])
    return None


def person_id_of(uid: str) -> int | None:
    """The person id our UIDs end with ("superoffice-<ctx>-person-<id>")."""
    head, separator, digits = uid.rpartition("-person-")
    if not separator or not head.startswith("superoffice-") or not digits.isdigit():
        return None
    return int(digits)


def etag_of(contact: Mapping[str, Any]) -> str:
    """The contact's version: its `@odata.etag`, else its changeKey in etag form."""
    etag = contact.get("@odata.etag")
    if etag:
        return str(etag)
    change_key = contact.get("changeKey")
    return f'W/"{change_key}"' if change_key else ""


def odata_string(value: str) -> str:
    """A string literal for $filter: single quotes doubled (OData's escape)."""
    return "'" + value.replace("'", "''") + "'"


MARK_EXPAND = f"singleValueExtendedProperties($filter=id eq {odata_string(MARK_PROPERTY_ID)})"


def mark_filter(uid: str) -> str:
    """The documented filter for contacts whose mark holds this UID."""
    return (
        f"singleValueExtendedProperties/Any(ep: ep/id eq {odata_string(MARK_PROPERTY_ID)} "
        f"and ep/value eq {odata_string(uid)})"
    )


def query(params: Mapping[str, str]) -> str:
    """A query string with spaces, colons and slashes percent-encoded, as Graph asks for
    its $filter and $expand values; `$` and `,` stay readable."""
    return "&".join(f"{key}={quote(value, safe=',()=$')}" for key, value in params.items())
