"""Graph: users, contact folders, contacts (CRUD, etag, validation), extended properties,
and the answers for missing, expired or revoked permission."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.microsoft.testing import MicrosoftControl, MicrosoftProcess
from tests.sandbox.microsoft.conftest import PROPERTY_ID, Directory, Graph

CONTACT = {
    "givenName": "Åse",
    "surname": "Lund",
    "emailAddresses": [{"address": "ase@example.org", "name": "Åse Lund"}],
    "businessPhones": ["+47 22 00 00 00"],
    "mobilePhone": "+47 900 00 000",
    "birthday": "1980-05-17T00:00:00Z",
    "categories": ["SuperOffice"],
    "companyName": "Nordlys AS",
}


def folder_id(graph: Graph, user: str, name: str = "SuperOffice") -> str:
    answer = graph.post(f"/users/{user}/contactFolders", json={"displayName": name})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def create(graph: Graph, user: str, folder: str, **extra: Any) -> dict[str, Any]:
    answer = graph.post(
        f"/users/{user}/contactFolders/{folder}/contacts", json={**CONTACT, **extra}
    )
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


def test_users_paging_and_filter(graph: Graph, contoso: Directory) -> None:
    first = graph.get("/users", params={"$top": "2", "$select": "id,mail"}).json()
    second = graph.get(first["@odata.nextLink"]).json()
    found = graph.get("/users", params={"$filter": "mail eq 'BO@contoso.example'"}).json()

    assert [set(user) for user in first["value"]] == [{"id", "mail"}] * 2
    assert len(second["value"]) == 1
    assert "@odata.nextLink" not in second
    assert [user["id"] for user in found["value"]] == [contoso.user["id"]]
    assert graph.get("/users", params={"$top": "1000"}).status_code == 400
    assert graph.get(f"/users/{contoso.user['mail']}").json()["id"] == contoso.user["id"]
    assert graph.get("/users/nobody@contoso.example").status_code == 404


def test_me_needs_a_delegated_token(graph: Graph) -> None:
    assert graph.get("/me").status_code == 400


def test_folders_create_filter_and_duplicate(graph: Graph, contoso: Directory) -> None:
    user = contoso.user["id"]
    created = folder_id(graph, user)

    duplicate = graph.post(f"/users/{user}/contactFolders", json={"displayName": "superoffice"})
    listed = graph.get(
        f"/users/{user}/contactFolders", params={"$filter": "displayName eq 'SuperOffice'"}
    ).json()

    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["code"] == "ErrorFolderExists"
    assert [folder["id"] for folder in listed["value"]] == [created]
    assert (
        graph.get(f"/users/{user}/contactFolders/{created}").json()["displayName"] == "SuperOffice"
    )
    assert graph.delete(f"/users/{user}/contactFolders/{created}").status_code == 204
    assert graph.get(f"/users/{user}/contactFolders/{created}").status_code == 404


def test_contact_crud_with_etags(
    graph: Graph, contoso: Directory, microsoft: MicrosoftControl
) -> None:
    user = contoso.user["mail"]
    folder = folder_id(graph, user)
    contact = create(graph, user, folder)
    path = f"/users/{user}/contacts/{contact['id']}"

    assert contact["displayName"] == "Åse Lund"
    assert contact["@odata.etag"] == f'W/"{contact["changeKey"]}"'
    assert contact["parentFolderId"] == folder
    assert contact["homeAddress"] == {}
    assert contact["homePhones"] == []
    updated = graph.patch(
        path, json={"jobTitle": "CEO"}, headers={"If-Match": contact["@odata.etag"]}
    )
    assert updated.status_code == 200
    assert updated.json()["changeKey"] != contact["changeKey"]
    assert updated.json()["jobTitle"] == "CEO"
    assert updated.json()["surname"] == "Lund"
    stale = graph.patch(
        path, json={"jobTitle": "CFO"}, headers={"If-Match": contact["@odata.etag"]}
    )
    assert stale.status_code == 412
    assert stale.json()["error"]["code"] == "ErrorIrresolvableConflict"
    selected = graph.get(path, params={"$select": "givenName"}).json()
    assert set(selected) == {"@odata.etag", "id", "givenName"}
    in_folder = graph.get(f"/users/{user}/contactFolders/{folder}/contacts/{contact['id']}")
    assert in_folder.status_code == 200
    assert graph.delete(path, headers={"If-Match": contact["@odata.etag"]}).status_code == 412
    assert graph.delete(path).status_code == 204
    assert graph.get(path).json()["error"]["code"] == "ErrorItemNotFound"
    assert microsoft.contacts_of(user=user) == []


@pytest.mark.parametrize(
    "body",
    [
        {"nickname": "x"},
        {"birthday": "17.05.1980"},
        {"businessPhones": "+47 1"},
        {"emailAddresses": [{"address": "a@b.c", "type": "work"}]},
        {"categories": [1]},
        {"homeAddress": {"street": "x", "country": "NO"}},
        {"singleValueExtendedProperties": [{"id": "nonsense", "value": "1"}]},
    ],
)
def test_invalid_bodies_are_refused(graph: Graph, contoso: Directory, body: dict[str, Any]) -> None:
    answer = graph.post(f"/users/{contoso.user['id']}/contacts", json=body)

    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "RequestBodyRead"


def test_extended_property_filter_and_expand(
    graph: Graph, contoso: Directory, microsoft: MicrosoftControl
) -> None:
    user = contoso.user["id"]
    folder = folder_id(graph, user)
    ours = create(
        graph,
        user,
        folder,
        singleValueExtendedProperties=[{"id": PROPERTY_ID, "value": "Person-42"}],
    )
    create(
        graph,
        user,
        folder,
        singleValueExtendedProperties=[{"id": PROPERTY_ID, "value": "Person-7"}],
    )
    microsoft.contact_add(user=contoso.user["mail"], folder="SuperOffice", givenName="Foreign")

    lowered_value = (
        f"singleValueExtendedProperties/Any(ep: ep/id eq '{PROPERTY_ID}'"
        " and ep/value eq 'person-42')"
    )
    other_case_name = lowered_value.replace("SuperOfficePersonId", "superofficepersonid")
    found = graph.get(
        f"/users/{user}/contactFolders/{folder}/contacts", params={"$filter": lowered_value}
    )
    missed = graph.get(
        f"/users/{user}/contactFolders/{folder}/contacts", params={"$filter": other_case_name}
    )
    expand = f"singleValueExtendedProperties($filter=id eq '{PROPERTY_ID}')"
    expanded = graph.get(f"/users/{user}/contacts/{ours['id']}", params={"$expand": expand}).json()

    assert "singleValueExtendedProperties" not in ours
    assert [item["id"] for item in found.json()["value"]] == [ours["id"]]
    assert missed.json()["value"] == []
    assert expanded["singleValueExtendedProperties"] == [{"id": PROPERTY_ID, "value": "Person-42"}]
    in_mailbox = microsoft.contacts_of(user=user)
    assert {item["folder"] for item in in_mailbox} == {"SuperOffice"}
    assert sum(1 for item in in_mailbox if not item["singleValueExtendedProperties"]) == 1


def test_contacts_paging(graph: Graph, contoso: Directory) -> None:
    user = contoso.user["id"]
    for number in range(12):
        assert (
            graph.post(f"/users/{user}/contacts", json={"givenName": f"P{number}"}).status_code
            == 201
        )

    first = graph.get(f"/users/{user}/contacts").json()
    second = graph.get(first["@odata.nextLink"]).json()

    assert len(first["value"]) == 10
    assert len(second["value"]) == 2
    assert "@odata.nextLink" not in second


def test_revoked_consent_answers_403(
    graph: Graph,
    contoso: Directory,
    microsoft: MicrosoftControl,
    microsoft_server: MicrosoftProcess,
) -> None:
    microsoft.consent_set(directory_id=contoso.id, granted=False)

    answer = graph.get(f"/users/{contoso.user['id']}/contacts")

    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "ErrorAccessDenied"
    assert graph.get("/users").json()["error"]["code"] == "Authorization_RequestDenied"


def test_missing_invalid_and_expired_tokens_answer_401(
    microsoft_server: MicrosoftProcess, microsoft: MicrosoftControl, contoso: Directory
) -> None:
    microsoft.token_lifetime_set(seconds=1)
    expired = microsoft_server.app_token_answer(tenant=contoso.id).json()["access_token"]
    import time

    time.sleep(1.1)
    for token in ("", "garbage", expired):
        answer = Graph(base_url=microsoft_server.graph_url, token=token).get("/users")
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_other_directory_users_are_not_found(graph: Graph, microsoft: MicrosoftControl) -> None:
    other = microsoft.directory_create(name="Other", domain="other.example")
    stranger = microsoft.user_create(directory_id=other, display_name="S T", mail="s@other.example")

    assert graph.get(f"/users/{stranger['id']}/contacts").status_code == 404
