"""The control API, faults on the identity endpoints, stats, the admin page, and state
kept across a restart."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from sandbox.microsoft.testing import MicrosoftControl, MicrosoftControlError, MicrosoftProcess
from tests.sandbox.microsoft.conftest import Directory, Graph


def test_token_endpoint_faults(
    microsoft: MicrosoftControl, microsoft_server: MicrosoftProcess, contoso: Directory
) -> None:
    microsoft.fault_add(path_contains="/oauth2/v2.0/token", status=503, times=1, retry_after=3)
    microsoft.fault_add(path_contains="/oauth2/v2.0/token", kind="lose_response", times=1)

    failed = microsoft_server.app_token_answer(tenant=contoso.id)
    lost = microsoft_server.app_token_answer(tenant=contoso.id)
    fine = microsoft_server.app_token_answer(tenant=contoso.id)

    assert (failed.status_code, failed.headers["Retry-After"]) == (503, "3")
    assert lost.status_code == 504
    assert fine.status_code == 200
    microsoft.faults_clear()
    assert requests.get(f"{microsoft.base_url}/_sandbox/faults", timeout=10).json() == []


def test_bad_fault_rules_are_refused(microsoft: MicrosoftControl) -> None:
    with pytest.raises(MicrosoftControlError):
        microsoft.fault_add(kind="explode")
    with pytest.raises(MicrosoftControlError):
        microsoft.fault_add(status=200)


def test_stats_count_requests_and_clear(
    graph: Graph, contoso: Directory, microsoft: MicrosoftControl
) -> None:
    graph.get(f"/users/{contoso.user['id']}/contacts")
    graph.get(f"/users/{contoso.user['id']}/contacts", headers={"Prefer": ""})

    stats = microsoft.stats()

    assert stats["requests"] == 2
    assert stats["without_immutable_id"] == 1
    assert stats["mailboxes"][contoso.user["mail"]]["requests"] == 2
    microsoft.stats_clear()
    assert microsoft.stats()["requests"] == 0
    assert microsoft.stats()["mailboxes"] == {}


def test_outlook_edits_and_deletes(
    graph: Graph, contoso: Directory, microsoft: MicrosoftControl
) -> None:
    user = contoso.user["mail"]
    added = microsoft.contact_add(user=user, givenName="Mum", categories=["Family"])

    edited = microsoft.contact_edit(user=user, contact_id=added["id"], surname="Berg")

    assert edited["changeKey"] != added["changeKey"]
    assert edited["folder"] is None
    fetched = graph.get(f"/users/{user}/contacts/{added['id']}").json()
    assert fetched["surname"] == "Berg"
    microsoft.contact_delete(user=user, contact_id=added["id"])
    assert microsoft.contacts_of(user=user) == []
    with pytest.raises(MicrosoftControlError):
        microsoft.contact_delete(user=user, contact_id=added["id"])
    with pytest.raises(MicrosoftControlError):
        microsoft.contacts_of(user="nobody@contoso.example")


def test_reset_wipes_data(microsoft: MicrosoftControl, contoso: Directory) -> None:
    microsoft.reset()

    assert microsoft.directories() == []


def test_admin_page_shows_state_and_its_forms_work(
    graph: Graph, contoso: Directory, microsoft: MicrosoftControl
) -> None:
    microsoft.contact_add(user=contoso.user["mail"], folder="SuperOffice", givenName="Åsa")
    admin = f"{microsoft.base_url}/_sandbox/admin/"

    page = requests.get(admin, timeout=10)

    assert page.status_code == 200
    for text in ("Contoso", "bo@contoso.example", "Åsa", "SuperOffice", "Revoke consent for"):
        assert text in page.text
    revoked = requests.post(
        f"{admin}consent", data={"directory": contoso.id, "granted": "0"}, timeout=10
    )
    assert revoked.status_code == 200
    assert microsoft.directories()[0]["consent"] == "revoked"
    assert graph.get(f"/users/{contoso.user['id']}/contacts").status_code == 403


def test_state_and_certificate_survive_a_restart(tmp_path: Path) -> None:
    with MicrosoftProcess(data_dir=tmp_path) as first:
        first.control().directory_create(name="Kept", domain="kept.example")
        certificate = first.ca_bundle.read_bytes()
    with MicrosoftProcess(data_dir=tmp_path) as second:
        assert [d["name"] for d in second.control().directories()] == ["Kept"]
        assert second.ca_bundle.read_bytes() == certificate
        health = requests.get(
            f"{second.login_url}/kept.example/v2.0/.well-known/openid-configuration",
            verify=str(second.ca_bundle),
            timeout=10,
        )
        assert health.status_code == 200
