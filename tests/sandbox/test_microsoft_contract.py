"""Contract tests: what the Microsoft 365 stand-in answers agrees with Microsoft's pages.

The facts come from ``sandbox/microsoft_facts/`` in the repository (written by
``scripts/microsoft_facts.py`` from copies of Microsoft's Graph and identity platform
pages), so these tests run from a plain clone. Every expected status, field name, limit
and path below is read from those facts, never restated here.

A contact is checked against a JSON Schema built from the contact property table: only
documented property names (``additionalProperties: false``), each with its documented type
(``String``, ``DateTimeOffset`` as an ISO 8601 UTC timestamp, ``String collection``, the
``EmailAddress`` and ``PhysicalAddress`` shapes seen in the examples), the annotations the
examples show, and the read-only properties always present. The examples show text and
timestamps as ``null`` when unset, collections as ``[]`` and addresses as ``{}``, so only
the scalar properties may be null.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import jsonschema
import pytest
import requests

from sandbox.microsoft.testing import MicrosoftControl, MicrosoftProcess
from tests.test_microsoft_facts import GRAPH_FACTS, IDENTITY_FACTS, load

TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$"
REDIRECT_URI = "http://127.0.0.1:9/myapp/permissions"
TIMEOUT = 30


@cache
def graph_facts() -> dict[str, Any]:
    return load(GRAPH_FACTS)


@cache
def identity_facts() -> dict[str, Any]:
    return load(IDENTITY_FACTS)


# --- schemas from the facts -------------------------------------------------------------


def type_schema(kind: str, *, nullable: bool) -> dict[str, Any]:
    """JSON Schema of one documented type name, e.g. ``EmailAddress collection``."""
    facts = graph_facts()
    if kind.endswith(" collection"):
        return {"type": "array", "items": type_schema(kind[: -len(" collection")], nullable=False)}
    if kind.lower() == "string":
        return {"type": ["string", "null"] if nullable else "string"}
    if kind == "DateTimeOffset":
        timestamp = {"type": "string", "pattern": TIMESTAMP}
        return {"anyOf": [timestamp, {"type": "null"}]} if nullable else timestamp
    shape = facts["complex_types"][kind]["properties"]
    return {
        "type": "object",
        "properties": {name: type_schema(child, nullable=False) for name, child in shape.items()},
        "additionalProperties": False,
    }


def resource_schema(resource: str, *, expanded: bool = False) -> dict[str, Any]:
    """A resource as Graph shows it: documented properties only, read-only ones present."""
    facts = graph_facts()["resources"][resource]
    read_only = set(facts["read_only"])
    properties = {
        name: type_schema(kind, nullable=name not in read_only)
        for name, kind in facts["properties"].items()
    }
    for annotation in facts.get("annotations", []):
        properties[annotation] = {"type": "string"}
    if expanded:
        extended = graph_facts()["extended_properties"]
        properties[extended["relationship"]] = {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    name: type_schema(item["type"], nullable=False)
                    for name, item in extended["resource_properties"].items()
                },
                "required": sorted(extended["resource_properties"]),
                "additionalProperties": False,
            },
        }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": properties,
        "required": sorted(read_only),
        "additionalProperties": False,
    }


def assert_valid(instance: Any, schema: dict[str, Any]) -> None:
    validator = jsonschema.Draft202012Validator(schema)
    problems = sorted(
        f"{'/'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}"
        for error in validator.iter_errors(instance)
    )
    assert not problems, "\n".join(problems)


def assert_error_body(body: Any) -> None:
    """Graph's error answer: ``{"error": {...}}`` with the documented fields only."""
    fields = set(graph_facts()["errors"]["error_fields"])
    assert isinstance(body, dict)
    assert set(body) == {"error"}, body
    error = body["error"]
    assert {"code", "message"} <= set(error), error
    assert set(error) <= fields, f"undocumented error fields {set(error) - fields}"
    assert isinstance(error["code"], str)
    assert error["code"]
    assert isinstance(error["message"], str)


def documented(operation: str, path: str) -> str:
    """``path`` (below /v1.0), after checking it is one of the operation's documented paths."""
    templates = graph_facts()["operations"][operation]["paths"]
    for template in templates:
        pattern = re.sub(r"\\\{[^}]*\\\}", "[^/?]+", re.escape(template))
        if re.fullmatch(pattern, path.split("?", 1)[0], re.IGNORECASE):
            return path
    raise AssertionError(f"{path} is none of the documented {operation} paths {templates}")


def status_of(operation: str) -> int:
    status: int = graph_facts()["operations"][operation]["status"]
    return status


# --- a directory, an app token and a mailbox --------------------------------------------


@dataclass
class Mailbox:
    """A user of a consented directory, reached with an app-only token."""

    base: str  # ".../v1.0"
    session: requests.Session
    directory_id: str
    domain: str
    user_id: str
    admin_id: str

    def call(
        self, method: str, path: str, *, json: Any = None, headers: dict[str, str] | None = None
    ) -> requests.Response:
        return self.session.request(
            method, f"{self.base}{path}", json=json, headers=headers, timeout=TIMEOUT
        )


def login(server: MicrosoftProcess, path: str) -> str:
    return f"{server.login_url}{path}"


def request_token(
    server: MicrosoftProcess, *, tenant: str, scope: str | None = None
) -> requests.Response:
    token = identity_facts()["token"]
    form = {
        "client_id": server.client_id,
        "client_secret": server.client_secret,
        "scope": scope if scope is not None else token["graph_scope"],
        "grant_type": token["grant_type"],
    }
    assert set(form) == set(token["parameters"])
    return requests.request(
        token["method"],
        login(server, token["path"].replace("{tenant}", tenant)),
        data=form,
        verify=str(server.ca_bundle),
        timeout=TIMEOUT,
    )


@pytest.fixture
def tenant(microsoft: MicrosoftControl) -> dict[str, str]:
    directory_id = microsoft.directory_create(name="Contoso", domain="contoso.example")
    admin = microsoft.user_create(
        directory_id=directory_id, display_name="Ada Admin", mail="ada@contoso.example",
        is_admin=True,
    )  # fmt: skip
    user = microsoft.user_create(
        directory_id=directory_id, display_name="Uma User", mail="uma@contoso.example"
    )
    return {
        "directory_id": directory_id,
        "domain": "contoso.example",
        "admin_id": admin["id"],
        "user_id": user["id"],
    }


@pytest.fixture
def mailbox(
    microsoft: MicrosoftControl, microsoft_server: MicrosoftProcess, tenant: dict[str, str]
) -> Iterator[Mailbox]:
    microsoft.consent_set(directory_id=tenant["directory_id"], granted=True)
    answer = request_token(microsoft_server, tenant=tenant["directory_id"])
    assert answer.status_code == 200, answer.text
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
    immutable = graph_facts()["immutable_id"]
    session.headers[immutable["header"]] = immutable["value"]
    facts = graph_facts()
    assert facts["version"] == "v1.0"
    with session:
        yield Mailbox(
            base=f"{microsoft_server.graph_url}/{facts['version']}",
            session=session,
            directory_id=tenant["directory_id"],
            domain=tenant["domain"],
            user_id=tenant["user_id"],
            admin_id=tenant["admin_id"],
        )


def create_folder(mailbox: Mailbox, name: str = "SuperOffice") -> dict[str, Any]:
    path = documented("create_folder", f"/users/{mailbox.user_id}/contactFolders")
    answer = mailbox.call("POST", path, json={"displayName": name})
    assert answer.status_code == status_of("create_folder"), answer.text
    folder: dict[str, Any] = answer.json()
    return folder


def contact_body(number: int = 1) -> dict[str, Any]:
    """A contact as the synchronizer writes one: names, work details, phones, addresses."""
    return {
        "givenName": "Pavel",
        "surname": f"Bansky {number}",
        "displayName": f"Pavel Bansky {number}",
        "companyName": "Fabrikam",
        "jobTitle": "Buyer",
        "department": "Purchasing",
        "emailAddresses": [
            {"address": f"pavel{number}@fabrikam.example", "name": f"Pavel Bansky {number}"}
        ],
        "businessPhones": ["+1 732 555 0102"],
        "mobilePhone": "+1 732 555 0103",
        "businessAddress": {
            "street": "10 Contoso Way",
            "city": "Redmond",
            "state": "WA",
            "postalCode": "98075",
            "countryOrRegion": "USA",
        },
        "birthday": "1974-07-22T00:00:00Z",
        "categories": ["SuperOffice Person"],
        "personalNotes": "From SuperOffice",
    }


def create_contact(mailbox: Mailbox, folder_id: str, body: dict[str, Any]) -> dict[str, Any]:
    path = documented(
        "create_in_folder", f"/users/{mailbox.user_id}/contactFolders/{folder_id}/contacts"
    )
    answer = mailbox.call("POST", path, json=body)
    assert answer.status_code == status_of("create_in_folder"), answer.text
    contact: dict[str, Any] = answer.json()
    return contact


# --- contacts and folders ---------------------------------------------------------------


def test_created_folder_has_only_documented_properties(mailbox: Mailbox) -> None:
    folder = create_folder(mailbox)

    assert_valid(folder, resource_schema("contactFolder"))
    assert folder["displayName"] == "SuperOffice"


def test_created_contact_has_only_documented_properties(mailbox: Mailbox) -> None:
    folder = create_folder(mailbox)

    contact = create_contact(mailbox, folder["id"], contact_body())

    assert_valid(contact, resource_schema("contact"))
    assert contact["parentFolderId"] == folder["id"]
    assert contact["givenName"] == "Pavel"
    assert contact["emailAddresses"] == contact_body()["emailAddresses"]
    assert contact["businessAddress"] == contact_body()["businessAddress"]
    etag_form = graph_facts()["resources"]["contact"]["etag"]
    if "@odata.etag" in contact:
        assert contact["@odata.etag"] == etag_form.replace("{changeKey}", contact["changeKey"])


def test_contact_in_the_default_folder(mailbox: Mailbox) -> None:
    path = documented("create", f"/users/{mailbox.user_id}/contacts")

    answer = mailbox.call("POST", path, json=contact_body())

    assert answer.status_code == status_of("create"), answer.text
    assert_valid(answer.json(), resource_schema("contact"))


def test_status_of_every_contact_operation(mailbox: Mailbox) -> None:
    folder = create_folder(mailbox)
    contact = create_contact(mailbox, folder["id"], contact_body())
    item = f"/users/{mailbox.user_id}/contactFolders/{folder['id']}/contacts/{contact['id']}"
    schema = resource_schema("contact")

    got = mailbox.call("GET", documented("get", item))
    assert got.status_code == status_of("get"), got.text
    assert_valid(got.json(), schema)
    assert got.json()["changeKey"] == contact["changeKey"]

    updated = mailbox.call("PATCH", documented("update", item), json={"jobTitle": "Head buyer"})
    assert updated.status_code == status_of("update"), updated.text
    assert_valid(updated.json(), schema)
    assert updated.json()["jobTitle"] == "Head buyer"
    assert updated.json()["changeKey"] != contact["changeKey"]

    listed = mailbox.call(
        "GET",
        documented("list", f"/users/{mailbox.user_id}/contactFolders/{folder['id']}/contacts"),
    )
    assert listed.status_code == status_of("list"), listed.text
    assert [entry["id"] for entry in listed.json()["value"]] == [contact["id"]]
    for entry in listed.json()["value"]:
        assert_valid(entry, schema)

    deleted = mailbox.call("DELETE", documented("delete", item))
    assert deleted.status_code == status_of("delete"), deleted.text
    assert deleted.content == b""

    gone = mailbox.call("GET", documented("get", item))
    assert gone.status_code == graph_facts()["errors"]["by_meaning"]["not_found"]["status"]
    assert_error_body(gone.json())


def test_stale_change_key_is_a_failed_precondition(mailbox: Mailbox) -> None:
    folder = create_folder(mailbox)
    contact = create_contact(mailbox, folder["id"], contact_body())
    item = f"/users/{mailbox.user_id}/contactFolders/{folder['id']}/contacts/{contact['id']}"
    etag_form = graph_facts()["resources"]["contact"]["etag"]
    stale = etag_form.replace("{changeKey}", contact["changeKey"])
    assert mailbox.call("PATCH", item, json={"jobTitle": "Head buyer"}).status_code == 200

    answer = mailbox.call(
        "PATCH", documented("update", item), json={"jobTitle": "CEO"}, headers={"If-Match": stale}
    )

    precondition = graph_facts()["errors"]["by_meaning"]["precondition_failed"]
    assert answer.status_code == precondition["status"], answer.text
    assert_error_body(answer.json())


def test_email_filter_of_the_list_page(mailbox: Mailbox) -> None:
    folder = create_folder(mailbox)
    wanted = create_contact(mailbox, folder["id"], contact_body(1))
    create_contact(mailbox, folder["id"], contact_body(2))
    listing = graph_facts()["operations"]["list"]
    text = listing["email_filter"].replace("{address}", "pavel1@fabrikam.example")
    path = f"/users/{mailbox.user_id}/contactFolders/{folder['id']}/contacts"

    answer = mailbox.call("GET", documented("list", path) + "?$filter=" + quote(text))

    assert answer.status_code == listing["status"], answer.text
    assert [entry["id"] for entry in answer.json()["value"]] == [wanted["id"]]


# --- extended property and immutable ids ------------------------------------------------


def test_extended_property_id_filter_and_expand(mailbox: Mailbox) -> None:
    extended = graph_facts()["extended_properties"]
    form = extended["id_formats_single_value"][0]
    property_id = (
        form.replace("{type}", "String")
        .replace("{guid}", "{" + str(uuid.uuid4()).upper() + "}")
        .replace("{name}", "SuperOfficePersonId")
    )
    assert re.fullmatch(extended["id_pattern_named"], property_id)
    folder = create_folder(mailbox)
    body = {
        **contact_body(),
        extended["relationship"]: [{"id": property_id, "value": "42"}],
    }
    ours = create_contact(mailbox, folder["id"], body)
    create_contact(mailbox, folder["id"], contact_body(2))
    contacts = f"/users/{mailbox.user_id}/contactFolders/{folder['id']}/contacts"

    # Without $expand the extended property is not shown.
    assert_valid(ours, resource_schema("contact"))
    query = (
        extended["filter"]
        .replace("{id_value}", property_id)
        .replace("{property_value}", "42")
        .split("=", 1)
    )
    found = mailbox.call("GET", documented("list", contacts) + f"?{query[0]}={quote(query[1])}")
    assert found.status_code == status_of("list"), found.text
    assert [entry["id"] for entry in found.json()["value"]] == [ours["id"]]
    for entry in found.json()["value"]:
        assert_valid(entry, resource_schema("contact"))

    expand = extended["expand"].replace("{id_value}", property_id).split("=", 1)
    got = mailbox.call(
        "GET", documented("get", f"{contacts}/{ours['id']}") + f"?{expand[0]}={quote(expand[1])}"
    )
    assert got.status_code == status_of("get"), got.text
    assert_valid(got.json(), resource_schema("contact", expanded=True))
    assert got.json()[extended["relationship"]] == [{"id": property_id, "value": "42"}]


def test_immutable_id_preference_is_recognised(
    mailbox: Mailbox, microsoft: MicrosoftControl
) -> None:
    immutable = graph_facts()["immutable_id"]
    microsoft.stats_clear()
    contacts = documented("list", f"/users/{mailbox.user_id}/contacts")

    assert mailbox.call("GET", contacts).status_code == 200
    assert microsoft.stats()["without_immutable_id"] == 0
    other = {immutable["header"]: "odata.maxpagesize=10"}
    assert mailbox.call("GET", contacts, headers=other).status_code == 200
    assert microsoft.stats()["without_immutable_id"] == 1


# --- delta ------------------------------------------------------------------------------


def delta_round(mailbox: Mailbox, url: str, page_size: int) -> tuple[list[dict[str, Any]], str]:
    """Follow next links to the delta link; the items of the round and that link."""
    delta = graph_facts()["delta"]
    prefer = delta["prefer"].split("=", 1)[0] + f"={page_size}"
    items: list[dict[str, Any]] = []
    for _ in range(100):
        answer = mailbox.session.get(url, headers={"Prefer": prefer}, timeout=TIMEOUT)
        assert answer.status_code == status_of("delta"), answer.text
        body = answer.json()
        items.extend(body["value"])
        links = {key for key in body if key in delta["link_tokens"]}
        assert len(links) == 1, body
        link = links.pop()
        url = body[link]
        token = delta["link_tokens"][link].lower()
        assert {name.lower() for name in parse_qs(urlsplit(url).query)} == {token}, url
        if link == "@odata.deltaLink":
            return items, url
    raise AssertionError("no delta link after 100 pages")


def test_delta_round_and_removed_item(mailbox: Mailbox) -> None:
    folder = create_folder(mailbox)
    created = [create_contact(mailbox, folder["id"], contact_body(n)) for n in range(3)]
    start = mailbox.base + documented(
        "delta", f"/users/{mailbox.user_id}/contactFolders/{folder['id']}/contacts/delta"
    )

    items, delta_link = delta_round(mailbox, start, page_size=2)

    assert sorted(item["id"] for item in items) == sorted(item["id"] for item in created)
    for item in items:
        assert_valid(item, resource_schema("contact"))
    first = f"/users/{mailbox.user_id}/contactFolders/{folder['id']}/contacts/{created[0]['id']}"
    assert mailbox.call("DELETE", first).status_code == status_of("delete")

    changes, _ = delta_round(mailbox, delta_link, page_size=2)

    delta = graph_facts()["delta"]
    removed = [change for change in changes if delta["removed_annotation"] in change]
    assert [change["id"] for change in removed] == [created[0]["id"]]
    assert removed[0][delta["removed_annotation"]]["reason"] in delta["removed_reasons"]


def test_delta_gone_answers_the_documented_reset(
    mailbox: Mailbox, microsoft: MicrosoftControl
) -> None:
    folder = create_folder(mailbox)
    create_contact(mailbox, folder["id"], contact_body())
    start = mailbox.base + documented(
        "delta", f"/users/{mailbox.user_id}/contactFolders/{folder['id']}/contacts/delta"
    )
    _, delta_link = delta_round(mailbox, start, page_size=10)
    microsoft.delta_expire()

    answer = mailbox.session.get(delta_link, timeout=TIMEOUT)

    reset = graph_facts()["delta"]["reset"]
    assert answer.status_code == reset["status"], answer.text
    location = answer.headers.get(reset["header"])
    assert location, f"no {reset['header']} header"
    # "a request URL with an empty $deltaToken (same as the initial query)"
    parts = urlsplit(location)
    assert parts.path == urlsplit(start).path
    tokens = {key.lower(): value for key, value in parse_qs(parts.query, True).items()}
    assert tokens.get("$deltatoken") == [""], location
    assert_error_body(answer.json())


# --- $batch -----------------------------------------------------------------------------


def batch_of(mailbox: Mailbox, size: int, url: str) -> requests.Response:
    batch = graph_facts()["batch"]
    body = {
        batch["request_envelope"]: [
            {"id": str(number), "method": "GET", "url": url} for number in range(1, size + 1)
        ]
    }
    return mailbox.call(batch["method"], batch["path"], json=body)


def test_batch_over_the_limit_is_refused(mailbox: Mailbox) -> None:
    batch = graph_facts()["batch"]
    url = documented("list", f"/users/{mailbox.user_id}/contacts")

    answer = batch_of(mailbox, batch["max_requests"] + 1, url)

    assert answer.status_code == batch["status_malformed"], answer.text
    assert_error_body(answer.json())


def test_batch_at_the_limit_is_accepted(mailbox: Mailbox) -> None:
    batch = graph_facts()["batch"]
    folder = create_folder(mailbox)
    contact = create_contact(mailbox, folder["id"], contact_body())
    url = documented("get", f"/users/{mailbox.user_id}/contacts/{contact['id']}")

    answer = batch_of(mailbox, batch["max_requests"], url)

    assert answer.status_code == batch["status_parseable"], answer.text
    responses = answer.json()[batch["response_envelope"]]
    assert sorted(int(item["id"]) for item in responses) == list(
        range(1, batch["max_requests"] + 1)
    )
    for item in responses:
        assert {"id", "status"} <= set(item), item
        assert set(item) <= set(batch["response_fields"]), item
        assert item["status"] == status_of("get"), item
        assert_valid(item["body"], resource_schema("contact"))


# --- throttling -------------------------------------------------------------------------


def test_throttling_defaults_are_outlooks_limits(microsoft: MicrosoftControl) -> None:
    outlook = graph_facts()["throttling"]["outlook"]

    settings = microsoft.call(method="GET", path="throttling")

    assert settings["concurrency"] == outlook["concurrent_requests"]
    assert settings["budget"] == outlook["requests"]
    assert settings["window_seconds"] == outlook["period_seconds"]


def test_throttled_request_answers_as_documented(
    mailbox: Mailbox, microsoft: MicrosoftControl
) -> None:
    throttled = graph_facts()["errors"]["by_meaning"]["throttled"]
    microsoft.throttling_set(budget=1)
    contacts = documented("list", f"/users/{mailbox.user_id}/contacts")
    assert mailbox.call("GET", contacts).status_code == status_of("list")

    answer = mailbox.call("GET", contacts)

    assert answer.status_code == throttled["status"], answer.text
    assert float(answer.headers[throttled["header"]]) > 0
    assert_error_body(answer.json())
    assert answer.json()["error"]["code"] == throttled["code"]


def concurrent_statuses(mailbox: Mailbox, paths: list[str]) -> list[int]:
    """Send every GET at once; their statuses, in order."""
    barrier = threading.Barrier(len(paths))

    def send(path: str) -> int:
        barrier.wait(timeout=TIMEOUT)
        return mailbox.call("GET", path).status_code

    with ThreadPoolExecutor(max_workers=len(paths)) as pool:
        return list(pool.map(send, paths))


def test_concurrent_requests_per_app_and_mailbox(
    mailbox: Mailbox, microsoft: MicrosoftControl
) -> None:
    outlook = graph_facts()["throttling"]["outlook"]
    throttled = graph_facts()["errors"]["by_meaning"]["throttled"]
    assert outlook["scope"] == "app_id_and_mailbox"
    microsoft.fault_add(path_contains="/contacts", method="GET", latency_ms=1500)
    limit = outlook["concurrent_requests"]
    own = documented("list", f"/users/{mailbox.user_id}/contacts")
    other = documented("list", f"/users/{mailbox.admin_id}/contacts")

    one_over = concurrent_statuses(mailbox, [own] * (limit + 1))
    # The limit is per mailbox: another mailbox of the same app is not held up by it.
    at_limit_and_elsewhere = concurrent_statuses(mailbox, [own] * limit + [other])

    assert sorted(one_over) == [status_of("list")] * limit + [throttled["status"]]
    assert at_limit_and_elsewhere == [status_of("list")] * (limit + 1)


# --- identity platform ------------------------------------------------------------------


JSON_TYPES = {"string": str, "integer": int, "array": list, "number": float, "boolean": bool}


@pytest.mark.parametrize("tenant_name", ["directory_id", "domain"])
def test_token_response_has_the_documented_fields(
    microsoft: MicrosoftControl,
    microsoft_server: MicrosoftProcess,
    tenant: dict[str, str],
    tenant_name: str,
) -> None:
    token = identity_facts()["token"]
    microsoft.consent_set(directory_id=tenant["directory_id"], granted=True)

    answer = request_token(microsoft_server, tenant=tenant[tenant_name])

    assert answer.status_code == 200, answer.text
    body = answer.json()
    for name, kind in token["response_fields"].items():
        assert name in body, f"no {name} in the token response"
        assert type(body[name]) is JSON_TYPES[kind], (name, body[name])
    assert body["token_type"].lower() == token["token_type_example"].lower()
    assert body["expires_in"] > 0
    assert body["access_token"]
    assert "refresh_token" not in body or token["refresh_token_granted"]


def test_token_error_has_the_documented_fields(
    microsoft: MicrosoftControl, microsoft_server: MicrosoftProcess, tenant: dict[str, str]
) -> None:
    token = identity_facts()["token"]
    microsoft.consent_set(directory_id=tenant["directory_id"], granted=True)

    answer = request_token(
        microsoft_server, tenant=tenant["directory_id"], scope="https://foo.example/.default"
    )

    assert answer.status_code == token["error_status"], answer.text
    assert set(answer.json()) == set(token["error_fields"])
    assert isinstance(answer.json()["error_codes"], list)


def consent_redirect(
    server: MicrosoftProcess, tenant: dict[str, str], variant: str, *, accept: bool
) -> dict[str, list[str]]:
    """Run the admin consent page as the directory's administrator; the redirect's query."""
    consent = identity_facts()["admin_consent"][variant]
    values = {
        "client_id": server.client_id,
        "redirect_uri": REDIRECT_URI,
        "state": "12345",
        "scope": identity_facts()["token"]["graph_scope"],
    }
    params = {name: values[name] for name in consent["parameters"]}
    url = login(server, consent["path"].replace("{tenant}", tenant["domain"]))
    verify = str(server.ca_bundle)
    page = requests.request(consent["method"], url, params=params, verify=verify, timeout=TIMEOUT)
    assert page.status_code == 200, page.text
    choice = {"user": tenant["admin_id"]} if accept else {"cancel": "1"}
    answer = requests.post(
        url, data={**params, **choice}, allow_redirects=False, verify=verify, timeout=TIMEOUT
    )
    assert answer.status_code in {302, 303}, answer.text
    location = answer.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?"), location
    return parse_qs(urlsplit(location).query, keep_blank_values=True)


def documented_redirect_parameters() -> set[str]:
    return {
        name
        for consent in identity_facts()["admin_consent"].values()
        for name in [*consent["success_parameters"], *consent["error_parameters"]]
    }


@pytest.mark.parametrize("variant", ["v1", "v2"])
def test_admin_consent_redirect_carries_the_documented_parameters(
    microsoft: MicrosoftControl,
    microsoft_server: MicrosoftProcess,
    tenant: dict[str, str],
    variant: str,
) -> None:
    consent = identity_facts()["admin_consent"][variant]

    query = consent_redirect(microsoft_server, tenant, variant, accept=True)

    assert set(consent["success_parameters"]) <= set(query), query
    assert set(query) <= documented_redirect_parameters(), query
    assert query["admin_consent"] == [consent["success_admin_consent_example"]]
    assert query["state"] == ["12345"]
    # "The directory tenant that granted your application the permissions … in GUID format."
    assert query["tenant"] == [tenant["directory_id"]]
    token = request_token(microsoft_server, tenant=tenant["directory_id"])
    assert token.status_code == 200, token.text


@pytest.mark.parametrize("variant", ["v1", "v2"])
def test_admin_consent_refusal_carries_the_documented_parameters(
    microsoft: MicrosoftControl,
    microsoft_server: MicrosoftProcess,
    tenant: dict[str, str],
    variant: str,
) -> None:
    consent = identity_facts()["admin_consent"][variant]

    query = consent_redirect(microsoft_server, tenant, variant, accept=False)

    assert set(consent["error_parameters"]) <= set(query), query
    assert set(query) <= documented_redirect_parameters(), query
    assert "tenant" not in query
    assert query["error"][0]
    token = request_token(microsoft_server, tenant=tenant["directory_id"])
    assert token.status_code == identity_facts()["token"]["error_status"], token.text
