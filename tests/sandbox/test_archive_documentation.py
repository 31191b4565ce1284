"""What SuperOffice's archive pages decide, the sandbox does: columns and their types,
operators per restriction type, sorting, refusals with SuperOffice's error JSON, and
``$output`` / ``$mode`` rendering.

The facts are read straight from sandbox/superoffice_facts/archive_providers.json (made
from SuperOffice's pages by scripts/superoffice_facts.py), not through the sandbox's own
loader, so a sandbox column that drifts from the pages fails here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from sandbox.archive_providers import PROVIDERS, ArchiveProvider
from tests.sandbox.tenant_client import TenantApi

FACTS: dict[str, Any] = json.loads(
    (
        Path(__file__).resolve().parents[2] / "sandbox/superoffice_facts/archive_providers.json"
    ).read_text(encoding="utf-8")
)
KIND_TYPES = {
    "int": {"int", "decimal"},
    "string": {"string", "stringorPK", "positiveString"},
    "list": {"listAny"},
    "associate": {"associate"},
    "date": {"date"},
    "datetime": {"datetime"},
    "bool": {"bool"},
}
STREET_ADDRESS_PARTS = ("line1", "line2", "line3", "zip", "city", "county", "state")
ISO_WITHOUT_OFFSET = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")

# Columns the product reads; each must be served under SuperOffice's name.
NEEDED = {
    "Person": {
        "personId",
        "firstName",
        "middleName",
        "lastName",
        "mrMrs",
        "title",
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
        *(f"personContact/streetAddress/{part}" for part in STREET_ADDRESS_PARTS),
    },
    "ContactPersonStaticSelectionV2": {
        "personId",
        "firstName",
        "middleName",
        "lastName",
        "mrMrs",
        "title",
        "retired",
        "personUpdatedDate",
        "birthdate",
        "personEmail/emailAddress",
        "personDirectPhone/formattedNumber",
        "personMobilePhone/formattedNumber",
        "personPrivate/formattedNumber",
        "contactId",
        "name",
        "department",
        *(f"streetAddress/{part}" for part in STREET_ADDRESS_PARTS),
    },
}
NEEDED["personfavourites"] = NEEDED["Person"]


@pytest.mark.parametrize("provider", list(PROVIDERS.values()), ids=lambda item: item.name)
def test_every_column_is_documented_with_its_type_and_sort_mark(
    provider: ArchiveProvider,
) -> None:
    documented = FACTS["providers"][provider.name]

    for column in provider.columns.values():
        assert column.name in documented["columns"], f"{provider.name}.{column.name}"
        restriction, sortable = documented["columns"][column.name]
        assert column.restriction == restriction, f"{provider.name}.{column.name}"
        assert column.sortable == sortable, f"{provider.name}.{column.name}"
        if restriction is not None:
            assert restriction in KIND_TYPES[column.kind], f"{provider.name}.{column.name}"
    assert set(provider.entities) <= {name.lower() for name in documented["entities"]}
    assert NEEDED.get(provider.name, set()) <= {column.name for column in provider.columns.values()}


def test_the_columns_named_in_superoffices_pages() -> None:
    selection = PROVIDERS["findselection"].columns
    appointment = PROVIDERS["findappointment"].columns
    participants = PROVIDERS["participants"].columns
    members = PROVIDERS["contactpersonstaticselectionv2"].columns

    assert "targettablename" not in selection
    assert selection["targettablenumber"].restriction == "listAny"
    assert appointment["personid"].restriction == appointment["contactid"].restriction == "listAny"
    assert PROVIDERS["allusers"].columns["associatedbid"].restriction == "associate"
    assert members["selectionmemberid"].restriction is None
    assert not members["selectionmemberid"].sortable
    assert participants["participantpersonid"].restriction is None
    assert [column.name for column in participants.values() if column.sortable] == ["fullName"]


# One column per restriction type the sandbox serves, with a value and a pair of values.
SAMPLES = {
    "int": ("Person", "personId", "10", "(1, 20)"),
    "string": ("Person", "lastName", "'Hansen'", "('A', 'H')"),
    "stringorPK": ("Person", "fullName", "'Ola Berg'", "('A', 'H')"),
    "positiveString": ("personfavourites", "text", "'Ola Berg'", "('A', 'H')"),
    "listAny": ("FindSelection", "kind", "0", "(0, 1)"),
    "associate": ("FindAppointment", "associateId", "1", "(1, 2)"),
    "date": ("Person", "personUpdatedDate", "'2024-01-01'", "('2024-01-01', '2030-01-01')"),
    "bool": ("Person", "retired", "true", "(true, false)"),
}
NO_VALUE = {"isnull", "isnotnull", "currentassociate", "today", "aftertoday", "beforetoday"}
TWO_VALUES = {"between", "datebetween", "oneof", "notoneof", "in"}
TWO_VALUES |= {"associateisoneof", "associateisnotoneof"}


def clause(restriction: str, operator: str) -> tuple[str, str]:
    provider, column, value, pair = SAMPLES[restriction]
    lowered = operator.lower()
    if lowered in NO_VALUE:
        return provider, f"{column} {operator}"
    if lowered == "set":
        return provider, f"{column} set true"
    if lowered in TWO_VALUES:
        return provider, f"{column} {operator} {pair}"
    return provider, f"{column} {operator} {value}"


DOCUMENTED_CLAUSES = [
    clause(restriction, operator)
    for restriction in SAMPLES
    for operator in [*FACTS["operators"][restriction], *FACTS["operators"]["*"]]
]


@pytest.mark.parametrize(("provider", "filter_text"), DOCUMENTED_CLAUSES)
def test_every_documented_operator_is_accepted(
    api: TenantApi, provider: str, filter_text: str
) -> None:
    response = api.get(f"Archive/{provider}", {"$filter": filter_text, "$top": "5"})

    assert response.status_code == 200, response.text


def assert_refused(response: Any, *words: str) -> None:
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"Error", "ErrorType", "ErrorMessage", "ErrorSource"}
    assert body["Error"] is True
    assert body["ErrorType"] == "SoArgumentException"
    for word in words:
        assert word in body["ErrorMessage"]


@pytest.mark.parametrize(
    ("provider", "params", "words"),
    [
        ("Person", {"$select": "personId,shoeSize"}, ("shoeSize",)),
        ("Person", {"$filter": "shoeSize eq 42"}, ("shoeSize",)),
        ("Person", {"$orderBy": "shoeSize"}, ("shoeSize",)),
        ("FindSelection", {"$select": "targetTableName"}, ("targetTableName",)),
        ("Person", {"$filter": "personId oneOf (1, 2)"}, ("oneOf", "personId")),
        ("Person", {"$filter": "personId associateIsOneOf (1)"}, ("associateIsOneOf",)),
        ("Person", {"$filter": "lastName set true"}, ("set", "lastName")),
        ("Person", {"$filter": "retired = 1"}, ("=", "retired")),
        ("Person", {"$filter": "personId >= 3"}, (">=", "personId")),
        ("FindSelection", {"$filter": "kind is 'Static'"}, ("is", "kind")),
        ("Person", {"$filter": "birthdate before '1960-01-01'"}, ("birthdate",)),
        (
            "ContactPersonStaticSelectionV2",
            {"$filter": "selectionId = 1 and selectionMemberId = 3"},
            ("selectionMemberId",),
        ),
        (
            "ContactPersonStaticSelectionV2",
            {"$filter": "selectionId = 1", "$orderBy": "selectionMemberId"},
            ("selectionMemberId", "sort"),
        ),
        (
            "Participants",
            {"$filter": "appointmentRestrictionId = 1", "$orderBy": "participantPersonId"},
            ("participantPersonId", "sort"),
        ),
        (
            "Participants",
            {"$filter": "appointmentRestrictionId = 1 and status is 'Accepted'"},
            ("status",),
        ),
        ("Person", {"$filter": "personId eq 1 or personId eq 2"}, ("and",)),
        ("Person", {"$entities": "dragons"}, ("dragons",)),
        ("AllUsers", {"$entities": "superoffice_ten-sales"}, ("superoffice_ten-sales",)),
        ("Person", {"$output": "Pretty"}, ("$output",)),
        ("Person", {"$mode": "Wide"}, ("$mode",)),
    ],
)
def test_refused_like_superoffice(
    api: TenantApi, provider: str, params: dict[str, str], words: tuple[str, ...]
) -> None:
    assert_refused(api.get(f"Archive/{provider}", params), *words)


def test_sortable_columns_sort(api: TenantApi) -> None:
    booking = api.rows(
        "Appointment",
        **{"$select": "appointmentId", "$filter": "booking set true", "$top": "1"},
    )[0]

    rows = api.rows(
        "Archive/Participants",
        **{
            "$select": "fullName",
            "$filter": f"appointmentRestrictionId = {booking['appointmentId']}",
            "$orderBy": "fullName desc",
        },
    )

    names = [row["fullName"].casefold() for row in rows]
    assert len(names) >= 2
    assert names == sorted(names, reverse=True)


def test_documented_entities_the_sandbox_has_no_rows_for(api: TenantApi) -> None:
    booking = api.rows(
        "Appointment", **{"$select": "appointmentId", "$filter": "booking set true", "$top": "1"}
    )[0]

    rows = api.rows(
        "Archive/Participants",
        **{
            "$filter": f"appointmentRestrictionId = {booking['appointmentId']}",
            "$entities": "resource,emailParticipant",
        },
    )

    assert rows == []


def both_outputs(api: TenantApi, path: str, **params: str) -> tuple[list[Any], list[Any]]:
    logical = api.rows(path, **params, **{"$output": "logical"})
    display = api.rows(path, **params, **{"$output": "DISPLAY"})
    assert api.rows(path, **params) == display  # Display is the default
    return logical, display


def test_bool_output(api: TenantApi) -> None:
    logical, display = both_outputs(
        api, "Person", **{"$select": "personId,retired", "$orderBy": "personId", "$top": "1000"}
    )

    assert {row["retired"] for row in logical} == {True, False}
    assert {row["retired"] for row in display} == {"[I:checked]", "[I:unchecked]"}
    assert [row["retired"] for row in logical] == [
        row["retired"] == "[I:checked]" for row in display
    ]


def test_associate_output(api: TenantApi) -> None:
    params = {"$select": "associateId", "$filter": "associateId associateIsOneOf (1)", "$top": "5"}
    logical, display = both_outputs(api, "Appointment", **params)
    users_logical, users_display = both_outputs(
        api, "User", **{"$select": "associateDbId", "$orderBy": "associateDbId"}
    )

    assert {row["associateId"] for row in logical} == {1}
    assert {row["associateId"] for row in display} == {"IH"}
    assert [row["associateDbId"] for row in users_logical][:2] == [1, 2]
    assert [row["associateDbId"] for row in users_display][:2] == ["IH", "OB"]


def test_list_output_selection_kind_and_target(api: TenantApi) -> None:
    params = {"$select": "name,kind,targetTableNumber", "$orderBy": "selectionId"}
    logical, display = both_outputs(api, "Selection", **params)
    by_name = {row["name"]: (row["kind"], row["targetTableNumber"]) for row in logical}
    shown = {row["name"]: (row["kind"], row["targetTableNumber"]) for row in display}

    assert by_name["Styret"] == (0, 6)
    assert shown["Styret"] == ("Static", "person")
    assert by_name["Aktive kunder (dynamisk)"] == (1, 5)
    assert shown["Aktive kunder (dynamisk)"] == ("Dynamic", "contact")
    assert by_name["Nøkkelkunder + Partnere"][0] == 2
    assert shown["Salg Q3 - pipeline"] == ("Static", "sale")
    dynamic = api.rows("Selection", **{"$select": "name", "$filter": "kind oneOf (1)"})
    assert [row["name"] for row in dynamic] == [row["name"] for row in logical if row["kind"] == 1]


def test_list_output_appointment_person_and_company(api: TenantApi) -> None:
    params = {
        "$select": "personId,contactId,person/fullName,contact/name",
        "$filter": "associateId associateIsOneOf (1) and personId notOneOf (0)",
        "$orderBy": "appointmentId",
        "$top": "20",
    }
    logical, display = both_outputs(api, "Appointment", **params)

    assert logical
    for ids, shown in zip(logical, display, strict=True):
        assert isinstance(ids["personId"], int)
        assert ids["personId"] > 0
        assert isinstance(ids["contactId"], int)
        assert shown["personId"] == shown["person/fullName"]
        assert shown["contactId"] == shown["contact/name"]
    first = logical[0]["personId"]
    matched = api.rows(
        "Appointment",
        **{"$select": "personId", "$filter": f"personId oneOf ({first})", "$output": "Logical"},
    )
    assert matched
    assert {row["personId"] for row in matched} == {first}


def test_list_output_user_type(api: TenantApi) -> None:
    logical, display = both_outputs(api, "User", **{"$select": "assocType"})

    assert {row["assocType"] for row in logical} == {1}  # UserType.InternalAssociate
    assert {row["assocType"] for row in display} == {"User"}


def test_dates_are_iso_text_in_both_outputs(api: TenantApi) -> None:
    params = {"$select": "personUpdatedDate,birthdate", "$orderBy": "personId", "$top": "300"}
    logical, display = both_outputs(api, "Person", **params)

    assert logical == display
    assert all(ISO_WITHOUT_OFFSET.match(row["personUpdatedDate"]) for row in logical)
    assert any(row["birthdate"] is None for row in logical)
    assert all(ISO_WITHOUT_OFFSET.match(row["birthdate"]) for row in logical if row["birthdate"])


def test_full_mode_gives_raw_and_display_values(api: TenantApi) -> None:
    response = api.get(
        "Person",
        {"$select": "personId,retired,personUpdatedBy", "$orderBy": "personId", "$top": "2"},
    )
    full = api.get(
        "Person",
        {
            "$select": "personId,retired,personUpdatedBy",
            "$orderBy": "personId",
            "$top": "2",
            "$mode": "FULL",
        },
    ).json()["value"]

    slim = response.json()["value"]
    assert [row["PrimaryKey"] for row in full] == [int(row["PrimaryKey"]) for row in slim]
    cells = full[0]["Column"]
    assert set(cells["retired"]) == {"RawValue", "DisplayValue", "LinkHint", "TooltipHint"}
    assert cells["retired"]["RawValue"] in {True, False}
    assert cells["retired"]["DisplayValue"] == slim[0]["retired"]
    assert isinstance(cells["personUpdatedBy"]["RawValue"], int)
    assert cells["personUpdatedBy"]["DisplayValue"] == slim[0]["personUpdatedBy"]
