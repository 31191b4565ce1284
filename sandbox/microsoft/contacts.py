"""The contact resource: which properties exist (contact.md), their types, how a body is
checked, and how a stored contact is shown. Storage is in ``mailbox``."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sandbox.microsoft.errors import GraphError

STRING = "string"
STRINGS = "strings"
TIMESTAMP = "timestamp"
ADDRESS = "address"
EMAILS = "emails"

WRITABLE: dict[str, str] = {
    "assistantName": STRING, "birthday": TIMESTAMP, "businessAddress": ADDRESS,
    "businessHomePage": STRING, "businessPhones": STRINGS, "categories": STRINGS,
    "children": STRINGS, "companyName": STRING, "department": STRING, "displayName": STRING,
    "emailAddresses": EMAILS, "fileAs": STRING, "generation": STRING, "givenName": STRING,
    "homeAddress": ADDRESS, "homePhones": STRINGS, "imAddresses": STRINGS, "initials": STRING,
    "jobTitle": STRING, "manager": STRING, "middleName": STRING, "mobilePhone": STRING,
    "nickName": STRING, "officeLocation": STRING, "otherAddress": ADDRESS,
    "personalNotes": STRING, "profession": STRING, "spouseName": STRING, "surname": STRING,
    "title": STRING, "yomiCompanyName": STRING, "yomiGivenName": STRING, "yomiSurname": STRING,
}  # fmt: skip
READ_ONLY = ("id", "changeKey", "createdDateTime", "lastModifiedDateTime", "parentFolderId")
ADDRESS_FIELDS = ("street", "city", "state", "countryOrRegion", "postalCode")
EXTENDED = "singleValueExtendedProperties"
PROPERTY_ID = re.compile(
    r"^(?P<type>\w+) (?:\{(?P<guid>[0-9a-fA-F-]{36})\} (?P<how>Name|Id) (?P<name>.+)"
    r"|(?P<tag>0x[0-9a-fA-F]{1,4}))$"
)


def invalid_body(message: str) -> GraphError:
    return GraphError(status=400, code="RequestBodyRead", message=message)


def property_key(*, property_id: str) -> str:
    """What two ids must share to name the same property: the type, GUID and tag fold case,
    the string name does not (Microsoft matches names case-sensitively)."""
    match = PROPERTY_ID.match(property_id.strip())
    if match is None:
        raise invalid_body(f"'{property_id}' is not a single-value extended property id")
    if match["tag"]:
        return f"{match['type'].lower()} {match['tag'].lower()}"
    name = match["name"] if match["how"] == "Name" else match["name"].lower()
    return f"{match['type'].lower()} {{{match['guid'].lower()}}} {match['how'].lower()} {name}"


def timestamp(*, value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid_body(f"'{name}' must be a DateTimeOffset string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise invalid_body(f"Cannot convert '{value}' of '{name}' to DateTimeOffset") from error
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def checked_value(*, name: str, kind: str, value: Any) -> Any:
    """The value as stored, or ``RequestBodyRead`` when its type is wrong."""
    if kind == STRING:
        if value is not None and not isinstance(value, str):
            raise invalid_body(f"'{name}' must be a string")
        return value
    if kind == TIMESTAMP:
        return timestamp(value=value, name=name)
    if kind == STRINGS:
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise invalid_body(f"'{name}' must be a collection of strings")
        return value
    if kind == ADDRESS:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise invalid_body(f"'{name}' must be a physicalAddress object")
        unknown = set(value) - set(ADDRESS_FIELDS) - {"@odata.type"}
        if unknown:
            raise invalid_body(f"'{name}' has unknown properties: {', '.join(sorted(unknown))}")
        for field, item in value.items():
            if field != "@odata.type" and item is not None and not isinstance(item, str):
                raise invalid_body(f"'{name}.{field}' must be a string")
        return {field: value[field] for field in ADDRESS_FIELDS if value.get(field) is not None}
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise invalid_body(f"'{name}' must be a collection of emailAddress objects")
    addresses = []
    for item in value:
        unknown = set(item) - {"address", "name", "@odata.type"}
        if unknown:
            raise invalid_body(f"An emailAddress has unknown properties: {', '.join(unknown)}")
        if any(item.get(key) is not None and not isinstance(item[key], str)
               for key in ("address", "name")):  # fmt: skip
            raise invalid_body("emailAddress address and name must be strings")
        addresses.append({"name": item.get("name"), "address": item.get("address")})
    return addresses


def checked_body(*, body: Any) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """Split a create/update body into contact properties and extended properties."""
    if not isinstance(body, dict):
        raise invalid_body("The body must be a JSON object")
    properties: dict[str, Any] = {}
    extended: list[dict[str, str]] = []
    for name, value in body.items():
        if name.startswith("@odata.") or name in READ_ONLY:
            continue
        if name == EXTENDED:
            extended = checked_extended(value=value)
            continue
        kind = WRITABLE.get(name)
        if kind is None:
            raise invalid_body(
                f"The property '{name}' does not exist on type 'microsoft.graph.contact'."
            )
        properties[name] = checked_value(name=name, kind=kind, value=value)
    return properties, extended


def checked_extended(*, value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list):
        raise invalid_body(f"'{EXTENDED}' must be a collection")
    result = []
    for item in value:
        if not isinstance(item, dict) or set(item) - {"id", "value", "@odata.type"}:
            raise invalid_body("An extended property is an object with 'id' and 'value'")
        if not isinstance(item.get("id"), str) or not isinstance(item.get("value"), str):
            raise invalid_body("An extended property needs a string 'id' and a string 'value'")
        property_key(property_id=item["id"])
        result.append({"id": item["id"], "value": item["value"]})
    return result


def generated_display_name(*, properties: dict[str, Any]) -> str | None:
    parts = [properties.get(name) for name in ("givenName", "middleName", "surname")]
    text = " ".join(part for part in parts if part)
    return text or properties.get("companyName") or None


def empty_value(*, kind: str) -> Any:
    return {STRINGS: [], EMAILS: [], ADDRESS: {}}.get(kind)


def contact_json(
    *, row: Any, properties: dict[str, Any], select: list[str] | None
) -> dict[str, Any]:
    """A contact as Graph shows it: every property (or the selected ones), never the
    extended properties unless expanded."""
    change_key = row["change_key"]
    full: dict[str, Any] = {
        "@odata.etag": f'W/"{change_key}"',
        "id": row["id"],
        "createdDateTime": row["created"],
        "lastModifiedDateTime": row["modified"],
        "changeKey": change_key,
        "parentFolderId": row["folder_id"],
    }
    for name, kind in WRITABLE.items():
        full[name] = properties.get(name, empty_value(kind=kind))
    if select is None:
        return full
    return {key: value for key, value in full.items()
            if key in ("@odata.etag", "id") or key in select}  # fmt: skip
