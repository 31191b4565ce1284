"""The control API: every change shows in the tenant API, bad input is refused, reset restores."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import requests

from sandbox.testing import SandboxControl, SandboxControlError
from tests.sandbox.tenant_client import TENANT, TenantApi


def favourite_person_ids(api: TenantApi, associate_id: int = 1) -> set[int]:
    rows = api.rows(
        "Archive/personfavourites",
        **{
            "$select": "personId",
            "$filter": f"favouriteAssociateId associateIsOneOf ({associate_id})",
        },
    )
    return {int(row["personId"]) for row in rows}


def selection_id(api: TenantApi, name: str) -> int:
    return int(
        api.rows("Selection", **{"$select": "selectionId", "$filter": f"name is '{name}'"})[0][
            "selectionId"
        ]
    )


def member_ids(api: TenantApi, selection: int) -> set[int]:
    rows = api.rows(f"Selection/{selection}/Members", **{"$select": "personId"})
    return {int(row["personId"]) for row in rows}


def test_mark_and_unmark_favourite_person(api: TenantApi, sandbox: SandboxControl) -> None:
    assert 30 not in favourite_person_ids(api)

    assert sandbox.set_favourite(tenant=TENANT, associate_id=1, kind="person", record_id=30) is True
    assert 30 in favourite_person_ids(api)

    assert (
        sandbox.set_favourite(
            tenant=TENANT, associate_id=1, kind="person", record_id=30, favourite=False
        )
        is True
    )
    assert 30 not in favourite_person_ids(api)


def test_mark_favourite_company(api: TenantApi, sandbox: SandboxControl) -> None:
    sandbox.set_favourite(tenant=TENANT, associate_id=1, kind="contact", record_id=150)

    rows = api.rows(
        "Archive/contactfavourites",
        **{"$select": "contactId", "$filter": "favouriteAssociateId currentAssociate"},
    )
    assert 150 in {row["contactId"] for row in rows}


def test_add_and_remove_selection_members(api: TenantApi, sandbox: SandboxControl) -> None:
    selection = selection_id(api, "Styret")
    before = api.get(f"Selection/{selection}").json()["LastMembershipChange"]

    sandbox.add_selection_member(tenant=TENANT, selection_id=selection, person_id=42)
    assert 42 in member_ids(api, selection)
    assert api.get(f"Selection/{selection}").json()["LastMembershipChange"] >= before

    sandbox.remove_selection_member(tenant=TENANT, selection_id=selection, person_id=42)
    assert 42 not in member_ids(api, selection)


def test_members_cannot_be_added_to_dynamic_selections(
    api: TenantApi, sandbox: SandboxControl
) -> None:
    with pytest.raises(SandboxControlError, match="static"):
        sandbox.add_selection_member(
            tenant=TENANT, selection_id=selection_id(api, "Aktive kunder (dynamisk)"), person_id=42
        )


def test_retire_and_unretire(api: TenantApi, sandbox: SandboxControl) -> None:
    sandbox.set_retired(tenant=TENANT, person_id=20)
    assert api.get("Person/20").json()["Retired"] is True

    sandbox.set_retired(tenant=TENANT, person_id=20, retired=False)
    assert api.get("Person/20").json()["Retired"] is False


def test_edit_person(api: TenantApi, sandbox: SandboxControl) -> None:
    changed = sandbox.edit_person(
        tenant=TENANT,
        person_id=20,
        firstName="Åse",
        lastName="Ødegård",
        email="ase@example.org",
        birthDate="1980-02-03",
    )

    person = api.get("Person/20").json()
    assert changed == ["birthDate", "email", "firstName", "lastName"]
    assert (person["Firstname"], person["Lastname"]) == ("Åse", "Ødegård")
    assert person["Emails"][0]["Value"] == "ase@example.org"
    assert person["BirthDate"] == "1980-02-03T00:00:00"


@pytest.mark.parametrize(
    "fields", [{"shoeSize": "44"}, {"birthDate": "someday"}, {"contactId": 999999}, {}]
)
def test_bad_person_edits_change_nothing(
    api: TenantApi, sandbox: SandboxControl, fields: dict[str, object]
) -> None:
    before = api.get("Person/20").json()

    with pytest.raises(SandboxControlError):
        sandbox.edit_person(tenant=TENANT, person_id=20, **fields)

    assert api.get("Person/20").json() == before


def test_create_and_delete_an_appointment_with_participants(
    api: TenantApi, sandbox: SandboxControl
) -> None:
    start = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT10:00:00")

    appointment_id = sandbox.create_appointment(
        tenant=TENANT,
        associate_id=1,
        person_id=25,
        start=start,
        title="Review",
        participant_associate_ids=(3,),
        participant_person_ids=(26, 27),
    )

    entity = api.get(f"Appointment/{appointment_id}").json()
    assert entity["Person"]["PersonId"] == 25
    assert entity["StartDate"] == start
    assert sorted(p["PersonId"] for p in entity["Participants"] if not p["AssociateId"]) == [26, 27]
    diary = api.rows(
        "Appointment",
        **{
            "$select": "appointmentId",
            "$filter": "associateId associateIsOneOf (3) and rawStatus = 5",
        },
    )
    assert any(row["appointmentId"] > appointment_id for row in diary)

    assert sandbox.delete_appointment(tenant=TENANT, appointment_id=appointment_id) == 4
    assert api.get(f"Appointment/{appointment_id}").status_code == 404


def test_selection_made_dynamic_loses_static_members(
    api: TenantApi, sandbox: SandboxControl
) -> None:
    selection = selection_id(api, "Styret")

    sandbox.set_selection_type(tenant=TENANT, selection_id=selection, selection_type="Dynamic")

    assert api.get(f"Selection/{selection}").json()["SelectionType"] == "Dynamic"
    rows = api.rows(
        "Archive/ContactPersonStaticSelectionV2",
        **{"$select": "personId", "$filter": f"selectionId = {selection}"},
    )
    assert rows == []


def test_deleted_selection_is_gone(api: TenantApi, sandbox: SandboxControl) -> None:
    selection = selection_id(api, "Styret")

    sandbox.delete_selection(tenant=TENANT, selection_id=selection)

    assert api.get(f"Selection/{selection}").status_code == 404
    assert api.rows("Selection", **{"$filter": "name is 'Styret'"}) == []


def test_reset_restores_the_seeded_state(api: TenantApi, sandbox: SandboxControl) -> None:
    original = api.get("Person/20").json()
    original_favourites = favourite_person_ids(api)
    sandbox.edit_person(tenant=TENANT, person_id=20, lastName="Changed")
    sandbox.set_favourite(tenant=TENANT, associate_id=1, kind="person", record_id=31)
    sandbox.delete_selection(tenant=TENANT, selection_id=selection_id(api, "Styret"))

    started = time.perf_counter()
    sandbox.reset()
    elapsed = time.perf_counter() - started

    assert api.get("Person/20").json() == original
    assert favourite_person_ids(api) == original_favourites
    assert selection_id(api, "Styret")
    assert elapsed < 1.0


def test_reset_with_another_size(api: TenantApi, sandbox: SandboxControl) -> None:
    try:
        sandbox.reset(persons=12000)
        big = max(
            int(row["memberCount"]) for row in api.rows("Selection", **{"$select": "memberCount"})
        )
        assert big >= 10000
    finally:
        sandbox.reset(persons=6000)


def test_control_api_refuses_bad_input(sandbox: SandboxControl) -> None:
    with pytest.raises(SandboxControlError, match="tenant"):
        sandbox.set_favourite(tenant="", associate_id=1, kind="person", record_id=1)
    with pytest.raises(SandboxControlError):
        sandbox.set_favourite(tenant=TENANT, associate_id=1, kind="sale", record_id=1)
    with pytest.raises(SandboxControlError):
        sandbox.set_retired(tenant=TENANT, person_id=999999)
    with pytest.raises(SandboxControlError):
        sandbox.set_selection_type(tenant=TENANT, selection_id=1, selection_type="Fuzzy")
    response = requests.post(
        f"{sandbox.base_url}/_sandbox/appointments", json={"tenant": TENANT}, timeout=10
    )
    assert response.status_code == 400
    assert "associate_id" in response.json()["error"]
