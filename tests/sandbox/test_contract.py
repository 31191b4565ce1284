"""Contract tests: what the sandbox answers validates against SuperOffice's Swagger 2.0.

The definitions come from ``sandbox/superoffice_facts/swagger_definitions.json`` in the
repository (written by ``scripts/superoffice_facts.py`` from SuperOffice's Swagger files),
so the tests run from a plain clone. A definition missing from that file fails the test
that needs it, naming the definition.

Swagger 2.0 schemas are JSON Schema draft 4 with extensions. SuperOffice's carriers are
.NET classes, so nullability follows .NET unless ``x-nullable`` says otherwise: value
types (integers, numbers, booleans, enums and date-times) are never null; reference types
(text, arrays, objects, nested carriers) may be. Definitions are made strict
(``additionalProperties: false``) so a misspelt field name fails the test.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema
import pytest

from sandbox.testing import SandboxControl
from tests.sandbox.tenant_client import TenantApi

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
FACTS_DIR = REPOSITORY_ROOT / "sandbox" / "superoffice_facts"
SWAGGER_DEFINITIONS = FACTS_DIR / "swagger_definitions.json"
ARCHIVE_PROVIDERS = FACTS_DIR / "archive_providers.json"

PERSON_ENTITY = "SuperOffice.WebApi.v1.Carriers.PersonCarriers.PersonEntityWithLinks"
FLAT_PERSON = "SuperOffice.CRM.Services.Person"
CONTACT_ENTITY = "SuperOffice.WebApi.v1.Carriers.ContactCarriers.ContactEntityWithLinks"
SELECTION_ENTITY = "SuperOffice.WebApi.v1.Carriers.SelectionCarriers.SelectionEntityWithLinks"
APPOINTMENT_ENTITY = "SuperOffice.WebApi.v1.Carriers.AppointmentCarriers.AppointmentEntityWithLinks"
PRINCIPAL = "SuperOffice.CRM.Services.SoPrincipalCarrier"
ASSOCIATE = "SuperOffice.CRM.Services.Associate"
FAVOURITE = "SuperOffice.CRM.Services.Favourite"
ARCHIVE_ENVELOPE = "SuperOffice.Services.WebApi.OData.ODataSlimResponse"
# Every definition these tests validate against (tests/test_superoffice_facts.py checks
# that the committed facts hold each of them).
USED_DEFINITIONS = (
    PERSON_ENTITY,
    FLAT_PERSON,
    CONTACT_ENTITY,
    SELECTION_ENTITY,
    APPOINTMENT_ENTITY,
    PRINCIPAL,
    ASSOCIATE,
    FAVOURITE,
    ARCHIVE_ENVELOPE,
)
REFERENCE = re.compile(r"#/definitions/(?P<name>.+)")

SCHEMA_KEYWORDS = {
    "type",
    "properties",
    "items",
    "additionalProperties",
    "enum",
    "format",
    "required",
    "allOf",
    "$ref",
}


def nullable(schema: dict[str, Any], *, value_type: bool) -> bool:
    if "x-nullable" in schema:
        return bool(schema["x-nullable"])
    return not value_type


def to_json_schema(schema: dict[str, Any], *, strict: bool) -> dict[str, Any]:
    """Translate one Swagger schema to draft 4, with .NET nullability."""
    if "$ref" in schema:
        reference = {"$ref": schema["$ref"]}
        return (
            {"anyOf": [reference, {"type": "null"}]}
            if nullable(schema, value_type=False)
            else reference
        )
    converted: dict[str, Any] = {
        key: value for key, value in schema.items() if key in SCHEMA_KEYWORDS
    }
    kind = schema.get("type")
    if "properties" in schema:
        converted["properties"] = {
            name: to_json_schema(child, strict=strict)
            for name, child in schema["properties"].items()
        }
        if strict and "additionalProperties" not in schema:
            converted["additionalProperties"] = False
    if isinstance(schema.get("additionalProperties"), dict):
        converted["additionalProperties"] = to_json_schema(
            schema["additionalProperties"], strict=strict
        )
    if isinstance(schema.get("items"), dict):
        converted["items"] = to_json_schema(schema["items"], strict=strict)
    value_type = (
        kind in {"integer", "number", "boolean"}
        or "enum" in schema
        or schema.get("format") == "date-time"
    )
    if kind and nullable(schema, value_type=value_type):
        converted["type"] = [kind, "null"]
        if "enum" in converted:
            converted["enum"] = [*converted["enum"], None]
    return converted


@cache
def swagger_definitions() -> dict[str, Any]:
    """SuperOffice's Swagger definitions as committed, untranslated."""
    if not SWAGGER_DEFINITIONS.is_file():
        pytest.fail(f"{SWAGGER_DEFINITIONS} is missing; run scripts/superoffice_facts.py")
    loaded: dict[str, Any] = json.loads(SWAGGER_DEFINITIONS.read_text(encoding="utf-8"))
    return loaded


@cache
def definitions() -> dict[str, Any]:
    return {
        name: to_json_schema(schema, strict=True) for name, schema in swagger_definitions().items()
    }


def references(schema: Any) -> list[str]:
    """The definition names a Swagger schema refers to, at any depth."""
    if isinstance(schema, dict):
        found = []
        if isinstance(schema.get("$ref"), str):
            match = REFERENCE.fullmatch(schema["$ref"])
            found.append(match["name"] if match else schema["$ref"])
        for value in schema.values():
            found.extend(references(value))
        return found
    if isinstance(schema, list):
        return [name for item in schema for name in references(item)]
    return []


def definition(name: str) -> dict[str, Any]:
    """One translated definition; fails, naming it, when it or what it uses is missing."""
    known = swagger_definitions()
    pending, seen = [name], set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        if current not in known:
            needed = "" if current == name else f" (referenced from {name})"
            pytest.fail(
                f"Swagger definition {current}{needed} is missing from {SWAGGER_DEFINITIONS};"
                " add it to CHECKED_DEFINITIONS in scripts/superoffice_facts.py and rerun it"
            )
        pending.extend(references(known[current]))
    schema: dict[str, Any] = definitions()[name]
    return schema


def validate(instance: Any, name: str) -> None:
    definition(name)
    schema = {"$ref": f"#/definitions/{name}", "definitions": definitions()}
    jsonschema.Draft4Validator(schema).validate(instance)


@cache
def documented_columns(provider: str) -> set[str]:
    providers = json.loads(ARCHIVE_PROVIDERS.read_text(encoding="utf-8"))["providers"]
    if provider not in providers:
        pytest.fail(f"archive provider {provider} is missing from {ARCHIVE_PROVIDERS}")
    return set(providers[provider]["columns"])


def test_person_entity(api: TenantApi) -> None:
    for person_id in (1, 10, 20, 103):
        validate(api.get(f"Person/{person_id}").json(), PERSON_ENTITY)


def test_person_without_optional_fields(api: TenantApi, sandbox: SandboxControl) -> None:
    sandbox.edit_person(
        tenant=api.tenant, person_id=11, email="", mobilePhone="", birthDate="", title=""
    )

    validate(api.get("Person/11").json(), PERSON_ENTITY)


def test_flat_person(api: TenantApi) -> None:
    validate(api.get("Person/10/Simple").json(), FLAT_PERSON)


def test_contact_entity(api: TenantApi) -> None:
    for contact_id in (1, 2, 100):
        validate(api.get(f"Contact/{contact_id}").json(), CONTACT_ENTITY)


def test_a_companys_address_is_its_street_address_and_post_city(api: TenantApi) -> None:
    rows = api.rows(
        "Archive/contactfavourites",
        **{
            "$select": "contactId,postAddress/city,streetAddress/line1,streetAddress/line2,"
            "streetAddress/zip,streetAddress/city",
            "$filter": "favouriteAssociateId associateIsOneOf (1, 2, 3)",
        },
    )
    row = next(row for row in rows if row["streetAddress/line1"])

    contact = api.get(f"Contact/{row['contactId']}").json()
    person_id = contact["Persons"][0]["PersonId"]
    nested = api.get(f"Person/{person_id}").json()["Contact"]

    validate(contact, CONTACT_ENTITY)
    street = contact["Address"]["Street"]
    assert street["AtypeIdx"] == "ContactStreetAddress"
    assert (street["Address1"], street["Address2"], street["Zipcode"], street["City"]) == (
        row["streetAddress/line1"],
        row["streetAddress/line2"],
        row["streetAddress/zip"],
        row["streetAddress/city"],
    )
    assert contact["Address"]["Postal"]["City"] == row["postAddress/city"]
    assert nested["Address"] == contact["Address"]
    assert nested["FormattedAddress"] == contact["Address"]["Formatted"]
    assert row["streetAddress/line1"] in nested["FormattedAddress"]


def test_selection_entities(api: TenantApi) -> None:
    rows = api.rows("Selection", **{"$select": "selectionId"})
    for row in rows:
        validate(api.get(f"Selection/{row['selectionId']}").json(), SELECTION_ENTITY)


def test_appointment_entities(api: TenantApi) -> None:
    rows = api.rows(
        "Appointment",
        **{
            "$select": "appointmentId",
            "$filter": "associateId associateIsOneOf (1, 2)",
            "$top": "40",
        },
    )
    for row in rows:
        validate(api.get(f"Appointment/{row['appointmentId']}").json(), APPOINTMENT_ENTITY)


def test_current_principal_and_associate(api: TenantApi) -> None:
    validate(api.get("User/currentPrincipal").json(), PRINCIPAL)
    validate(api.get("User/currentAssociate").json(), ASSOCIATE)


def test_favourites_agent(api: TenantApi) -> None:
    favourites = api.post(
        "Agents/Favourite/GetFavourites", json={"TableName": "person", "AssociateId": 1}
    ).json()

    for favourite in favourites:
        validate(favourite, FAVOURITE)


@pytest.mark.parametrize(
    ("path", "provider"),
    [
        ("Person?$top=5&$select=personId,fullName,contactId", "Person"),
        ("User?$select=associateDbId,fullName,userName", "AllUsers"),
        ("Selection?$select=selectionId,name", "FindSelection"),
        ("Appointment?$top=5&$select=appointmentId,date,text,associateId", "FindAppointment"),
        ("Contact/3/Persons?$select=personId,fullName", "Person"),
        ("Archive/personfavourites?$select=personId,fullName,contactId", "personfavourites"),
        ("Archive/contactfavourites?$select=contactId,name", "contactfavourites"),
        (
            "Archive/ContactPersonStaticSelectionV2?$filter=selectionId = 2"
            "&$select=personId,contactId",
            "ContactPersonStaticSelectionV2",
        ),
    ],
)
def test_archive_envelopes(api: TenantApi, path: str, provider: str) -> None:
    """Archive rows have no definition of their own; the envelope is ODataSlimResponse.

    Its ``value`` items declare ``additionalProperties: {type: object}``, which no real
    answer meets (row values are text, numbers and booleans), so rows are checked for
    being objects only. Each path selects only columns SuperOffice documents for its
    provider, so the request stays valid however strict the sandbox is about columns.
    """
    selected = parse_qs(urlsplit(path).query)["$select"][0].split(",")
    assert set(selected) <= documented_columns(provider), (
        f"undocumented {provider} columns in {path}"
    )

    response = api.get(path)
    assert response.status_code == 200, response.text
    body = response.json()
    envelope = dict(definition(ARCHIVE_ENVELOPE))
    envelope["properties"] = {
        **envelope["properties"],
        "value": {"type": "array", "items": {"type": "object"}},
    }

    jsonschema.Draft4Validator(envelope).validate(body)
    assert body["value"]
    assert all(isinstance(row["PrimaryKey"], str) and row["EntityName"] for row in body["value"])
    assert all(set(selected) <= set(row) for row in body["value"]), body["value"][0]


def test_contract_catches_a_misspelt_field() -> None:
    with pytest.raises(jsonschema.ValidationError):
        validate(
            {"PersonId": 1, "FirstName": "Typo"},
            PERSON_ENTITY,
        )
    with pytest.raises(jsonschema.ValidationError):
        validate(
            {"PersonId": None},
            PERSON_ENTITY,
        )
