"""The HTML admin page renders, and its forms change what the tenant API answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import requests

from sandbox.testing import SandboxControl
from tests.sandbox.tenant_client import ADMIN_EMAIL, TENANT, TenantApi


def post_form(sandbox: SandboxControl, action: str, **fields: str) -> requests.Response:
    response = requests.post(
        f"{sandbox.base_url}/_sandbox/admin/{action}",
        data={"tenant": TENANT, "associate": "1", **fields},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response


def test_page_renders_with_labelled_forms(sandbox: SandboxControl) -> None:
    response = requests.get(
        f"{sandbox.base_url}/_sandbox/admin/",
        params={"tenant": TENANT, "associate": "1"},
        timeout=10,
    )

    assert response.status_code == 200
    page = response.text
    for heading in ("Favourites", "Selections", "Persons", "Appointments of this associate"):
        assert heading in page
    assert ADMIN_EMAIL in page
    assert "<label>Person id" in page
    assert "Nøkkelkunder Oslo" in page


def test_favourite_form(api: TenantApi, sandbox: SandboxControl) -> None:
    result = post_form(sandbox, "favourite", kind="person", record_id="33", favourite="1")

    rows = api.rows(
        "Archive/personfavourites",
        **{"$select": "personId", "$filter": "favouriteAssociateId currentAssociate"},
    )
    assert 33 in {row["personId"] for row in rows}
    assert "Favourites updated." in result.text


def test_member_form(api: TenantApi, sandbox: SandboxControl) -> None:
    selection = api.rows(
        "Selection", **{"$select": "selectionId", "$filter": "name is 'Tom liste'"}
    )[0]["selectionId"]

    post_form(sandbox, "member", selection_id=str(selection), person_id="44", change="add")

    assert [
        row["personId"]
        for row in api.rows(f"Selection/{selection}/Members", **{"$select": "personId"})
    ] == [44]


def test_retire_and_edit_forms(api: TenantApi, sandbox: SandboxControl) -> None:
    post_form(sandbox, "retire", person_id="50", retired="1")
    post_form(sandbox, "edit", person_id="50", field="title", value="Head of Tests")

    person = api.get("Person/50").json()
    assert person["Retired"] is True
    assert person["Title"] == "Head of Tests"


def test_appointment_form(api: TenantApi, sandbox: SandboxControl) -> None:
    start = (datetime.now(UTC) + timedelta(days=5)).strftime("%Y-%m-%dT09:30")

    result = post_form(
        sandbox,
        "appointment",
        person_id="60",
        start=start,
        title="Admin page meeting",
        participant_person_ids="61 62",
    )

    rows = api.rows(
        "Appointment",
        **{
            "$select": "appointmentId,text,personId",
            "$filter": "text is 'Admin page meeting'",
            "$output": "Logical",
        },
    )
    assert rows[0]["personId"] == 60
    assert "Created appointment" in result.text
    participants = api.get(f"Appointment/{rows[0]['appointmentId']}").json()["Participants"]
    assert {61, 62} <= {p["PersonId"] for p in participants}


def test_bad_form_input_shows_a_message_and_changes_nothing(
    api: TenantApi, sandbox: SandboxControl
) -> None:
    before = api.get("Person/50").json()

    result = post_form(sandbox, "edit", person_id="50", field="birthDate", value="not a date")

    assert "Not a date" in result.text
    assert api.get("Person/50").json() == before


def test_revoke_consent_form(api: TenantApi, sandbox: SandboxControl) -> None:
    assert api.get("User/currentPrincipal").status_code == 200

    result = post_form(sandbox, "revoke-consent", client_id="")

    assert "Consent revoked" in result.text
    assert api.get("User/currentPrincipal").status_code == 401
