"""Fixtures of the Microsoft stand-in tests: a directory with an administrator and two
users, the app consented, and a small Graph client over plain ``requests``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import requests

from sandbox.microsoft.testing import MicrosoftControl, MicrosoftProcess

IMMUTABLE = {"Prefer": 'IdType="ImmutableId"'}
PROPERTY_ID = "String {6f0b6c3e-3b4e-4d5c-9f0e-2f1b5c7d8e9a} Name SuperOfficePersonId"


@dataclass(frozen=True)
class Directory:
    id: str
    admin: dict[str, Any]
    user: dict[str, Any]
    other: dict[str, Any]


class Graph:
    """Requests to ``/v1.0`` with one bearer token and the ImmutableId preference."""

    def __init__(self, *, base_url: str, token: str) -> None:
        self.base_url = f"{base_url}/v1.0"
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {token}", **IMMUTABLE})

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        return self.session.request(method, url, timeout=10, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)


def make_directory(
    control: MicrosoftControl, *, name: str, domain: str, consent: bool
) -> Directory:
    directory_id = control.directory_create(name=name, domain=domain)
    admin = control.user_create(
        directory_id=directory_id, display_name="Ada Admin", mail=f"ada@{domain}", is_admin=True
    )
    user = control.user_create(
        directory_id=directory_id, display_name="Bo Berg", mail=f"bo@{domain}"
    )
    other = control.user_create(
        directory_id=directory_id, display_name="Cy Carlsen", mail=f"cy@{domain}"
    )
    if consent:
        control.consent_set(directory_id=directory_id, granted=True)
    return Directory(id=directory_id, admin=admin, user=user, other=other)


@pytest.fixture
def contoso(microsoft: MicrosoftControl) -> Directory:
    return make_directory(microsoft, name="Contoso", domain="contoso.example", consent=True)


@pytest.fixture
def graph(microsoft_server: MicrosoftProcess, contoso: Directory) -> Graph:
    """Graph with an app token of Contoso."""
    answer = microsoft_server.app_token_answer(tenant=contoso.id)
    assert answer.status_code == 200, answer.text
    return Graph(base_url=microsoft_server.graph_url, token=answer.json()["access_token"])
