"""Archive providers: $select, $filter operators, $orderBy, $entities, $top/$skip.

Rows are read with ``$output=Logical`` (booleans true/false, ids as numbers) unless a test
is about display values; tests/sandbox/test_archive_documentation.py covers what
SuperOffice's pages decide (columns, operators per type, sorting, $output, $mode).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.sandbox.tenant_client import TenantApi

PERSON_COLUMNS = (
    "personId,firstName,lastName,fullName,contactId,retired,birthdate,title,mrMrs,personUpdatedDate"
)


def persons(api: TenantApi, filter_text: str, **extra: str) -> list[dict[str, Any]]:
    return api.rows(
        "Person",
        **{
            "$select": PERSON_COLUMNS,
            "$filter": filter_text,
            "$top": "1000",
            "$output": "Logical",
            **extra,
        },
    )


def test_slim_shape_and_select(api: TenantApi) -> None:
    response = api.get(
        "Person",
        {
            "$select": "personId,fullName,retired,email/emailAddress,personContact/name",
            "$top": "2",
            "$output": "Logical",
        },
    )
    body = response.json()

    assert set(body) == {"odata.metadata", "odata.nextLink", "value"}
    assert body["odata.nextLink"] is None
    row = body["value"][0]
    assert set(row) == {
        "PrimaryKey",
        "EntityName",
        "personId",
        "fullName",
        "retired",
        "email/emailAddress",
        "personContact/name",
    }
    assert row["PrimaryKey"] == str(row["personId"])
    assert isinstance(row["personId"], int)
    assert isinstance(row["retired"], bool)


def test_json_safe_names(api: TenantApi) -> None:
    row = api.rows("Person", **{"$select": "email/emailAddress", "$top": "1", "$jsonSafe": "true"})[
        0
    ]

    assert "email_emailAddress" in row


def test_unknown_select_column_is_400(api: TenantApi) -> None:
    response = api.get("Person", {"$select": "personId,shoeSize"})

    assert response.status_code == 400
    assert "shoeSize" in response.json()["ErrorMessage"]


@pytest.mark.parametrize(
    ("filter_text", "check"),
    [
        ("personId eq 10", lambda row: row["personId"] == 10),
        ("personId = 10", lambda row: row["personId"] == 10),
        ("personId equals 10", lambda row: row["personId"] == 10),
        ("contactId ne 2", lambda row: row["contactId"] != 2),
        ("contactId != 2", lambda row: row["contactId"] != 2),
        ("contactId unequals 2", lambda row: row["contactId"] != 2),
        ("personId lt 20", lambda row: row["personId"] < 20),
        ("personId less 20", lambda row: row["personId"] < 20),
        ("personId le 20", lambda row: row["personId"] <= 20),
        ("personId gt 5990", lambda row: row["personId"] > 5990),
        ("personId greater 5990", lambda row: row["personId"] > 5990),
        ("personId ge 5990", lambda row: row["personId"] >= 5990),
        ("personId between (100, 110)", lambda row: 100 <= row["personId"] <= 110),
        ("retired set true", lambda row: row["retired"] is True),
        ("retired set false", lambda row: row["retired"] is False),
        ("retired equals true", lambda row: row["retired"] is True),
        ("title isNull", lambda row: row["title"] == ""),
        ("title isNotNull", lambda row: row["title"] != ""),
        ("mrMrs is 'Fru'", lambda row: row["mrMrs"] == "Fru"),
        ("mrMrs isNot 'Fru'", lambda row: row["mrMrs"] != "Fru"),
        ("mrMrs in ('Fru', 'Herr')", lambda row: row["mrMrs"] in {"Fru", "Herr"}),
        ("lastName begins 'han'", lambda row: row["lastName"].lower().startswith("han")),
        ("lastName contains 'sen'", lambda row: "sen" in row["lastName"].lower()),
        ("lastName notBegins 'h'", lambda row: not row["lastName"].lower().startswith("h")),
        ("birthYear lt 1960", lambda row: (row["birthdate"] or "9") < "1960-01-01"),
        ("birthYear between (1970, 1970)", lambda row: (row["birthdate"] or "").startswith("1970")),
        (
            "lastName begins 'Ha' and retired set false",
            lambda row: row["lastName"].lower().startswith("ha") and not row["retired"],
        ),
    ],
)
def test_filter_operators(api: TenantApi, filter_text: str, check: Any) -> None:
    rows = persons(api, filter_text)

    assert rows, f"{filter_text} matched nothing"
    assert all(check(row) for row in rows), filter_text
    assert not all(check(row) for row in persons(api, "")), f"{filter_text} restricts nothing"


def test_string_matching_ignores_case_in_other_scripts(api: TenantApi) -> None:
    cyrillic = [
        row for row in persons(api, "") if any("\u0430" <= ch <= "\u044f" for ch in row["lastName"])
    ]
    sample = cyrillic[0]["lastName"]

    found = persons(api, f"lastName is '{sample.upper()}'")

    assert sample in {row["lastName"] for row in found}


def test_quotes_inside_values(api: TenantApi) -> None:
    assert persons(api, "lastName is 'O''Brien-does-not-exist'") == []


def updated_dates(api: TenantApi, filter_text: str = "") -> list[str]:
    rows = api.rows(
        "Person", **{"$select": "personUpdatedDate", "$filter": filter_text, "$top": "1000"}
    )
    return [str(row["personUpdatedDate"])[:10] for row in rows]


def test_date_operators_compare_by_day(api: TenantApi) -> None:
    days = sorted(set(updated_dates(api)))
    middle = days[len(days) // 2]

    assert set(updated_dates(api, f"personUpdatedDate after '{middle}'")) == {
        day for day in days if day > middle
    }
    assert set(updated_dates(api, f"personUpdatedDate from '{middle}'")) == {
        day for day in days if day >= middle
    }
    assert set(updated_dates(api, f"personUpdatedDate before '{middle}'")) == {
        day for day in days if day < middle
    }
    assert set(updated_dates(api, f"personUpdatedDate to '{middle}'")) == {
        day for day in days if day <= middle
    }
    assert set(updated_dates(api, f"personUpdatedDate date '{middle}'")) == {middle}
    assert set(updated_dates(api, f"personUpdatedDate equals '{middle}T23:00:00'")) == {middle}
    # personUpdatedDate is a date column: the date-and-time operators are not for it.
    assert (
        api.get("Person", {"$filter": f"personUpdatedDate afterTime '{middle}'"}).status_code == 400
    )


@pytest.mark.parametrize(
    "filter_text",
    [
        "personId eq 1 or personId eq 2",
        "startswith(lastName, 'A')",
        "shoeSize eq 42",
        "personId eq 'ten'",
        "personId oneOf (1, 2)",
        "personId <= 3",
        "lastName eq 'Hansen'",
        "retired set maybe",
        "personId between (1)",
        "personId frobnicates 3",
        "lastName is",
        "birthdate before 'not a date'",
        "retired contains 'x'",
    ],
)
def test_unsupported_filters_are_400_error_json(api: TenantApi, filter_text: str) -> None:
    response = api.get("Person", {"$filter": filter_text})

    assert response.status_code == 400
    body = response.json()
    assert body["Error"] is True
    assert body["ErrorMessage"]


def test_order_by_and_stable_paging(api: TenantApi) -> None:
    everything = api.rows(
        "Person", **{"$select": "personId,lastName", "$orderBy": "lastName desc", "$top": "1000"}
    )
    pages = []
    for skip in range(0, 600, 150):
        pages += api.rows(
            "Person",
            **{
                "$select": "personId,lastName",
                "$orderBy": "lastName desc",
                "$top": "150",
                "$skip": str(skip),
            },
        )

    names = [row["lastName"].casefold() for row in everything]
    assert names == sorted(names, reverse=True)
    assert [row["personId"] for row in pages] == [row["personId"] for row in everything[:600]]
    assert len({row["personId"] for row in pages}) == 600


def test_top_is_capped_at_1000_with_a_next_link(api: TenantApi) -> None:
    response = api.get("Person", {"$select": "personId", "$orderBy": "personId", "$top": "1500"})
    body = response.json()

    assert len(body["value"]) == 1000
    assert body["odata.nextLink"]
    following = api.get(body["odata.nextLink"].split("/api/v1/", 1)[1]).json()
    assert len(following["value"]) == 500
    assert following["value"][0]["personId"] > body["value"][-1]["personId"]


def test_bad_order_by_is_400(api: TenantApi) -> None:
    assert api.get("Person", {"$orderBy": "lastName sideways"}).status_code == 400
    assert api.get("Person", {"$orderBy": "nope"}).status_code == 400


def test_person_entities_split_former_employees(api: TenantApi) -> None:
    logical = {"$select": "retired", "$output": "Logical"}
    retired = api.rows("Person", **logical, **{"$entities": "retiredPerson", "$top": "1000"})
    current = api.rows("Person", **logical, **{"$entities": "person", "$top": "100"})

    assert retired
    assert all(row["retired"] and row["EntityName"] == "retiredPerson" for row in retired)
    assert current
    assert not any(row["retired"] for row in current)
    assert api.get("Person", {"$entities": "dragons"}).status_code == 400


def test_archive_accepts_post_with_form_parameters(api: TenantApi) -> None:
    response = api.post(
        "Archive/Person",
        data={
            "$select": "personId",
            "$filter": "personId between (4, 5)",
            "$orderBy": "personId",
            "$output": "Logical",
        },
    )

    assert [row["personId"] for row in response.json()["value"]] == [4, 5]


def test_person_favourites_of_the_current_associate(api: TenantApi) -> None:
    mine = api.rows(
        "Archive/personfavourites",
        **{
            "$select": "personId,retired,favouriteAssociateId",
            "$filter": "favouriteAssociateId currentAssociate",
            "$output": "Logical",
        },
    )
    by_id = api.rows(
        "Archive/personfavourites",
        **{"$select": "personId", "$filter": "favouriteAssociateId associateIsOneOf (1)"},
    )
    current_only = api.rows(
        "Archive/personfavourites",
        **{
            "$select": "personId,retired",
            "$filter": "favouriteAssociateId currentAssociate and retired set false",
            "$output": "Logical",
        },
    )

    assert len(mine) == 8
    assert {row["favouriteAssociateId"] for row in mine} == {1}
    assert {row["personId"] for row in by_id} == {row["personId"] for row in mine}
    assert any(row["retired"] for row in mine)
    assert len(current_only) == 7


def test_contact_favourites(api: TenantApi) -> None:
    rows = api.rows(
        "Archive/contactfavourites",
        **{
            "$select": "contactId,name,department,favouriteAssociateId",
            "$filter": "favouriteAssociateId associateIsOneOf (2)",
        },
    )

    assert len(rows) == 4
    assert all(row["EntityName"] == "contact" and row["name"] for row in rows)


def test_static_selection_provider(api: TenantApi) -> None:
    selection_id = api.rows(
        "Selection", **{"$select": "selectionId", "$filter": "name is 'Partnere'"}
    )[0]["selectionId"]

    everything = api.rows(
        "Archive/ContactPersonStaticSelectionV2",
        **{
            "$select": "personId,contactId,name,firstName,lastName,retired",
            "$filter": f"selectionId = {selection_id}",
        },
    )
    persons_only = api.rows(
        "Archive/ContactPersonStaticSelectionV2",
        **{
            "$select": "personId,contactId",
            "$filter": f"selectionId = {selection_id} and retired set false",
            "$entities": "staticPerson",
            "$orderBy": "personId",
        },
    )

    company_rows = [row for row in everything if row["EntityName"] == "staticContact"]
    assert len(company_rows) == 2
    assert all(row["personId"] == 0 for row in company_rows)
    assert persons_only
    assert [row["personId"] for row in persons_only] == sorted(
        row["personId"] for row in persons_only
    )
    assert len(persons_only) < len(everything) - len(company_rows)


def test_static_selection_provider_needs_a_selection(api: TenantApi) -> None:
    assert api.get("Archive/ContactPersonStaticSelectionV2").status_code == 400


def test_appointments_in_a_window(api: TenantApi) -> None:
    today = datetime.now(UTC).date()
    start, end = today - timedelta(days=7), today + timedelta(days=180)

    rows = api.rows(
        "Appointment",
        **{
            "$select": (
                "appointmentId,date,endDate,text,associateId,personId,contactId,"
                "invitedPersonId,rawType,rawStatus,booking,updatedDate"
            ),
            "$filter": f"associateId associateIsOneOf (1) and date between ('{start}', '{end}')",
            "$orderBy": "appointmentId",
            "$top": "500",
            "$output": "Logical",
        },
    )
    everything = api.rows(
        "Appointment", **{"$select": "date", "$filter": "associateId associateIsOneOf (1)"}
    )

    assert rows
    assert all(str(start) <= row["date"][:10] <= str(end) for row in rows)
    assert {row["associateId"] for row in rows} == {1}
    assert any(row["booking"] for row in rows)
    assert any(row["personId"] for row in rows)
    assert len(everything) > len(rows)


def test_invitations_show_in_the_invitees_diary(api: TenantApi) -> None:
    invitations = api.rows(
        "Appointment",
        **{
            "$select": "appointmentId,rawStatus,booking",
            "$filter": "associateId associateIsOneOf (2) and rawStatus = 5",
            "$output": "Logical",
        },
    )

    assert invitations
    assert all(row["booking"] for row in invitations)


def test_all_users_provider_filters(api: TenantApi) -> None:
    active = api.rows(
        "Archive/AllUsers",
        **{
            "$select": "associateDbId,isActive",
            "$filter": "isActive set true",
            "$output": "Logical",
        },
    )
    admins_domain = api.rows(
        "Archive/AllUsers",
        **{"$select": "personEmail", "$filter": "personEmail contains '@nordlys-demo.example'"},
    )

    assert all(row["isActive"] for row in active)
    assert len(admins_domain) == 5
