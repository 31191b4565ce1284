"""Contract tests: what the sandbox answers validates against SuperOffice's Swagger 2.0.

The definitions come from ``../shared/superoffice-openapi`` beside the repository; the
tests skip when that folder is absent (a fresh clone has no shared/ folder).

Swagger 2.0 schemas are JSON Schema draft 4 with extensions. SuperOffice's carriers are
.NET classes, so nullability follows .NET unless ``x-nullable`` says otherwise: value
types (integers, numbers, booleans, enums and date-times) are never null; reference types
(text, arrays, objects, nested carriers) may be. Definitions are made strict
(``additionalProperties: false``) so a misspelt field name fails the test.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from sandbox.testing import SandboxControl
from tests.sandbox.tenant_client import TenantApi

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
CONTRACT_DIR = REPOSITORY_ROOT.parent / "shared" / "superoffice-openapi"

pytestmark = pytest.mark.skipif(
    not CONTRACT_DIR.is_dir(),
    reason=f"SuperOffice Swagger files not found at {CONTRACT_DIR}; contract tests need shared/",
)

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
def definitions() -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for path in sorted(CONTRACT_DIR.glob("Swagger-v1-*.json")):
        for name, schema in json.loads(path.read_text())["definitions"].items():
            merged.setdefault(name, to_json_schema(schema, strict=True))
    return merged


def validate(instance: Any, definition: str) -> None:
    schema = {"$ref": f"#/definitions/{definition}", "definitions": definitions()}
    jsonschema.Draft4Validator(schema).validate(instance)


def test_person_entity(api: TenantApi) -> None:
    for person_id in (1, 10, 20, 103):
        validate(
            api.get(f"Person/{person_id}").json(),
            "SuperOffice.WebApi.v1.Carriers.PersonCarriers.PersonEntityWithLinks",
        )


def test_person_without_optional_fields(api: TenantApi, sandbox: SandboxControl) -> None:
    sandbox.edit_person(
        tenant=api.tenant, person_id=11, email="", mobilePhone="", birthDate="", title=""
    )

    validate(
        api.get("Person/11").json(),
        "SuperOffice.WebApi.v1.Carriers.PersonCarriers.PersonEntityWithLinks",
    )


def test_flat_person(api: TenantApi) -> None:
    validate(api.get("Person/10/Simple").json(), "SuperOffice.CRM.Services.Person")


def test_contact_entity(api: TenantApi) -> None:
    for contact_id in (1, 2, 100):
        validate(
            api.get(f"Contact/{contact_id}").json(),
            "SuperOffice.WebApi.v1.Carriers.ContactCarriers.ContactEntityWithLinks",
        )


def test_selection_entities(api: TenantApi) -> None:
    rows = api.rows("Selection", **{"$select": "selectionId"})
    for row in rows:
        validate(
            api.get(f"Selection/{row['selectionId']}").json(),
            "SuperOffice.WebApi.v1.Carriers.SelectionCarriers.SelectionEntityWithLinks",
        )


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
        validate(
            api.get(f"Appointment/{row['appointmentId']}").json(),
            "SuperOffice.WebApi.v1.Carriers.AppointmentCarriers.AppointmentEntityWithLinks",
        )


def test_current_principal_and_associate(api: TenantApi) -> None:
    validate(api.get("User/currentPrincipal").json(), "SuperOffice.CRM.Services.SoPrincipalCarrier")
    validate(api.get("User/currentAssociate").json(), "SuperOffice.CRM.Services.Associate")


def test_favourites_agent(api: TenantApi) -> None:
    favourites = api.post(
        "Agents/Favourite/GetFavourites", json={"TableName": "person", "AssociateId": 1}
    ).json()

    for favourite in favourites:
        validate(favourite, "SuperOffice.CRM.Services.Favourite")


@pytest.mark.parametrize(
    "path",
    [
        "Person?$top=5",
        "User",
        "Selection",
        "Appointment?$top=5",
        "Contact/3/Persons",
        "Archive/personfavourites",
        "Archive/contactfavourites",
        "Archive/ContactPersonStaticSelectionV2?$filter=selectionId = 2",
    ],
)
def test_archive_envelopes(api: TenantApi, path: str) -> None:
    """Archive rows have no definition of their own; the envelope is ODataSlimResponse.

    Its ``value`` items declare ``additionalProperties: {type: object}``, which no real
    answer meets (row values are text, numbers and booleans), so rows are checked for
    being objects only.
    """
    body = api.get(path).json()
    envelope = dict(definitions()["SuperOffice.Services.WebApi.OData.ODataSlimResponse"])
    envelope["properties"] = {
        **envelope["properties"],
        "value": {"type": "array", "items": {"type": "object"}},
    }

    jsonschema.Draft4Validator(envelope).validate(body)
    assert body["value"]
    assert all(isinstance(row["PrimaryKey"], str) and row["EntityName"] for row in body["value"])


def test_contract_catches_a_misspelt_field() -> None:
    with pytest.raises(jsonschema.ValidationError):
        validate(
            {"PersonId": 1, "FirstName": "Typo"},
            "SuperOffice.WebApi.v1.Carriers.PersonCarriers.PersonEntityWithLinks",
        )
    with pytest.raises(jsonschema.ValidationError):
        validate(
            {"PersonId": None},
            "SuperOffice.WebApi.v1.Carriers.PersonCarriers.PersonEntityWithLinks",
        )
