"""The tenant REST API: principal, users, entities, selections, appointments, auth errors."""

from __future__ import annotations

import requests

from sandbox.testing import SandboxControl
from tests.sandbox.tenant_client import ADMIN_EMAIL, OTHER_TENANT, TENANT, TenantApi


def test_requests_without_a_token_get_401_error_json(api: TenantApi) -> None:
    response = requests.get(api.url("User/currentPrincipal"), timeout=10)

    assert response.status_code == 401
    body = response.json()
    assert body["Error"] is True
    assert body["ErrorType"]
    assert body["ErrorMessage"]
    assert body["ErrorSource"]


def test_unknown_token_gets_401(api: TenantApi) -> None:
    response = requests.get(
        api.url("User/currentPrincipal"),
        headers={"Authorization": f"Bearer 8A:{TENANT}.made-up"},
        timeout=10,
    )

    assert response.status_code == 401


def test_token_of_another_tenant_gets_403(api: TenantApi) -> None:
    response = api.get("User/currentPrincipal", tenant=OTHER_TENANT)

    assert response.status_code == 403
    assert response.json()["Error"] is True


def test_current_principal(api: TenantApi) -> None:
    principal = api.get("User/currentPrincipal").json()

    assert principal["AssociateId"] == 1
    assert principal["EMailAddress"] == ADMIN_EMAIL
    assert principal["UserName"] == ADMIN_EMAIL
    assert principal["FullName"] == "Ingrid Haugen"
    assert principal["Associate"] == "IH"
    assert principal["DatabaseContextIdentifier"] == TENANT
    assert principal["PersonId"] > 0
    assert principal["ContactId"] > 0


def test_paths_are_case_insensitive(api: TenantApi) -> None:
    assert api.get("user/CURRENTPRINCIPAL").json()["AssociateId"] == 1


def test_user_list_gives_ids_and_emails_for_linking(api: TenantApi, other_api: TenantApi) -> None:
    users = api.rows(
        "User",
        **{
            "$select": "associateDbId,fullName,personEmail,userName,isActive,assocType",
            "$output": "Logical",
        },
    )
    by_email = {row["personEmail"]: row for row in users}

    assert by_email[ADMIN_EMAIL]["associateDbId"] == 1
    assert by_email[ADMIN_EMAIL]["assocType"] == 1  # UserType.InternalAssociate
    assert by_email[ADMIN_EMAIL]["isActive"] is True
    assert by_email["tor.bakke@nordlys-demo.example"]["isActive"] is False
    assert all(row["userName"] == row["personEmail"] for row in users)
    assert len(api.rows("Archive/AllUsers")) == len(users)
    other_emails = {
        row["personEmail"] for row in other_api.rows("User", **{"$select": "personEmail"})
    }
    assert ADMIN_EMAIL not in other_emails


def test_current_associate(api: TenantApi) -> None:
    associate = api.get("User/currentAssociate").json()

    assert associate["AssociateId"] == 1
    assert associate["Name"] == "IH"


def test_person_entity_with_last_modified_and_304(api: TenantApi) -> None:
    response = api.get("Person/10")

    assert response.status_code == 200
    person = response.json()
    assert person["PersonId"] == 10
    assert isinstance(person["Retired"], bool)
    assert person["Contact"]["ContactId"] > 0
    assert person["_Links"]["Self"].endswith("/Person/10")
    last_modified = response.headers["Last-Modified"]
    assert last_modified.endswith("GMT")

    unchanged = api.get("Person/10", headers={"If-Modified-Since": last_modified})
    assert unchanged.status_code == 304
    assert unchanged.content == b""


def test_person_change_defeats_if_modified_since(api: TenantApi, sandbox: SandboxControl) -> None:
    last_modified = api.get("Person/10").headers["Last-Modified"]

    sandbox.edit_person(tenant=TENANT, person_id=10, title="Chief Tester")

    changed = api.get("Person/10", headers={"If-Modified-Since": last_modified})
    assert changed.status_code == 200
    assert changed.json()["Title"] == "Chief Tester"


def test_missing_person_is_404_error_json(api: TenantApi) -> None:
    response = api.get("Person/999999")

    assert response.status_code == 404
    assert response.json()["ErrorType"] == "SoNotFoundException"
    assert "999999" in response.json()["ErrorMessage"]


def test_contact_and_its_persons(api: TenantApi) -> None:
    contact = api.get("Contact/5").json()
    rows = api.rows("Contact/5/Persons", **{"$select": "personId,fullName,contactId,retired"})

    assert contact["ContactId"] == 5
    assert contact["Name"]
    assert {person["PersonId"] for person in contact["Persons"]} == {
        row["personId"] for row in rows
    }
    assert all(row["contactId"] == 5 for row in rows)
    assert api.get("Contact/999999").status_code == 404
    assert api.get("Contact/999999/Persons").status_code == 404


def test_contact_persons_can_leave_out_former_employees(api: TenantApi) -> None:
    logical = {"$select": "personId,retired", "$output": "Logical"}
    everyone = api.rows("Contact/3/Persons", **logical)
    current = api.rows("Contact/3/Persons", **logical, **{"$filter": "retired set false"})

    assert any(row["retired"] for row in everyone)
    assert current
    assert not any(row["retired"] for row in current)
    assert len(current) < len(everyone)


def find_selection(api: TenantApi, name: str) -> list[dict[str, object]]:
    return api.rows(
        "Selection",
        **{
            "$select": "selectionId,name,kind,targetTableNumber,memberCount",
            "$filter": f"name is '{name}'",
            "$output": "Logical",
        },
    )


def test_selection_by_name_and_by_id(api: TenantApi) -> None:
    rows = find_selection(api, "Styret")

    assert len(rows) == 1
    row = rows[0]
    assert row["kind"] == 0  # Static
    assert row["targetTableNumber"] == 6
    entity = api.get(f"Selection/{row['selectionId']}").json()
    assert entity["Name"] == "Styret"
    assert entity["SelectionType"] == "Static"
    assert entity["TargetTableNumber"] == 6
    assert entity["MemberCount"] == row["memberCount"] == 8


def test_selection_name_lookup_ignores_case_and_finds_duplicates(api: TenantApi) -> None:
    assert len(find_selection(api, "vip")) == 2
    assert find_selection(api, "Nøkkelkunder Oslo")[0]["memberCount"] == 25
    assert find_selection(api, "No such selection") == []


def test_static_selection_members(api: TenantApi) -> None:
    selection_id = find_selection(api, "Styret")[0]["selectionId"]

    members = api.rows(
        f"Selection/{selection_id}/Members",
        **{"$select": "personId,contactId,retired", "$output": "Logical"},
    )

    assert len(members) == 8
    assert sum(1 for row in members if row["retired"]) == 2
    assert all(row["EntityName"] == "staticPerson" for row in members)


def test_dynamic_selection_members_are_evaluated_on_read(api: TenantApi) -> None:
    selection = find_selection(api, "Aktive kunder (dynamisk)")[0]

    members = api.rows(
        f"Selection/{selection['selectionId']}/Members",
        **{"$select": "personId,lastName,retired", "$output": "Logical"},
    )

    assert selection["kind"] == 1  # Dynamic
    assert members
    assert all(row["lastName"].lower().startswith("ha") for row in members)
    assert not any(row["retired"] for row in members)


def test_combined_selection_is_the_union_of_its_parts(api: TenantApi) -> None:
    combined = find_selection(api, "Nøkkelkunder + Partnere")[0]
    left = find_selection(api, "Nøkkelkunder Oslo")[0]["selectionId"]
    right = find_selection(api, "Partnere")[0]["selectionId"]

    members = {
        row["personId"]
        for row in api.rows(
            f"Selection/{combined['selectionId']}/Members", **{"$select": "personId"}
        )
    }
    left_ids = {
        row["personId"] for row in api.rows(f"Selection/{left}/Members", **{"$select": "personId"})
    }
    right_ids = {
        row["personId"]
        for row in api.rows(f"Selection/{right}/Members", **{"$select": "personId"})
        if row["personId"]
    }

    assert combined["kind"] == 2  # Combined
    assert members == left_ids | right_ids


def test_sale_selection_members_are_sales(api: TenantApi) -> None:
    selection = find_selection(api, "Salg Q3 - pipeline")[0]

    members = api.rows(f"Selection/{selection['selectionId']}/Members")

    assert selection["targetTableNumber"] == 13
    assert len(members) == 12
    assert {row["EntityName"] for row in members} == {"sale"}


def test_selection_members_can_be_added_through_the_rest_api(api: TenantApi) -> None:
    selection_id = find_selection(api, "Tom liste")[0]["selectionId"]

    response = api.post(
        f"Selection/{selection_id}/Members/AddPerson", json=[{"ContactId": 0, "PersonId": 20}]
    )

    assert response.status_code == 204
    assert [
        row["personId"]
        for row in api.rows(f"Selection/{selection_id}/Members", **{"$select": "personId"})
    ] == [20]


def first_booking(api: TenantApi) -> dict[str, object]:
    rows = api.rows(
        "Appointment",
        **{
            "$select": "appointmentId,booking,personId,associateId",
            "$filter": "associateId currentAssociate and booking set true",
            "$orderBy": "appointmentId",
            "$top": "1",
            "$output": "Logical",
        },
    )
    return rows[0]


def test_appointment_with_person_and_participants(api: TenantApi) -> None:
    booking = first_booking(api)

    entity = api.get(f"Appointment/{booking['appointmentId']}").json()

    assert entity["AppointmentId"] == booking["appointmentId"]
    assert entity["Person"]["PersonId"] == booking["personId"]
    assert entity["Type"] == "BookingForDiary"
    participant_associates = [p["AssociateId"] for p in entity["Participants"] if p["AssociateId"]]
    participant_persons = [p["PersonId"] for p in entity["Participants"] if not p["AssociateId"]]
    assert 1 in participant_associates
    assert len(participant_associates) >= 2
    assert len(participant_persons) == 2


def test_participants_archive_of_a_booking(api: TenantApi) -> None:
    booking = first_booking(api)

    rows = api.rows(
        f"Appointment/{booking['appointmentId']}/Participants",
        **{"$select": "participantAssociateId,participantPersonId,personId,fullName"},
    )
    via_archive = api.rows(
        "Archive/Participants",
        **{
            "$select": "participantPersonId",
            "$filter": f"appointmentRestrictionId = {booking['appointmentId']}",
            "$entities": "externalPerson",
        },
    )

    assert {row["EntityName"] for row in rows} == {"associate", "externalPerson"}
    external = {row["personId"] for row in rows if row["EntityName"] == "externalPerson"}
    assert {row["participantPersonId"] for row in via_archive} == external
    assert len(external) == 2


def test_participants_archive_needs_an_appointment(api: TenantApi) -> None:
    response = api.get("Archive/Participants")

    assert response.status_code == 400
    assert "appointmentRestrictionId" in response.json()["ErrorMessage"]


def test_get_favourites_agent(api: TenantApi) -> None:
    response = api.post(
        "Agents/Favourite/GetFavourites", json={"TableName": "contact", "AssociateId": 1}
    )

    assert response.status_code == 200
    favourites = response.json()
    assert len(favourites) == 4
    assert all(item["TableName"] == "contact" and item["AssociateId"] == 1 for item in favourites)


def test_unknown_endpoint_is_404(api: TenantApi) -> None:
    assert api.get("Nothing/Here").status_code == 404
    assert api.get("Archive/NoSuchProvider").status_code == 404


def test_archive_list_names_the_providers(api: TenantApi) -> None:
    providers = api.get("Archive").json()

    assert {
        "Person",
        "personfavourites",
        "contactfavourites",
        "ContactPersonStaticSelectionV2",
        "FindAppointment",
        "AllUsers",
    } <= set(providers)


def test_signed_in_user_of_the_other_tenant_sees_its_own_data(other_api: TenantApi) -> None:
    principal = other_api.get("User/currentPrincipal").json()

    assert principal["DatabaseContextIdentifier"] == OTHER_TENANT
    assert len(find_selection(other_api, "Customers")) == 1
