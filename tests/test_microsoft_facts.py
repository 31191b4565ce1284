"""The committed Microsoft facts (sandbox/microsoft_facts/) are well-formed and plausible.

``scripts/microsoft_facts.py`` writes them from copies of Microsoft's Graph and identity
platform pages; the Microsoft stand-in and its contract tests
(``tests/sandbox/test_microsoft_contract.py``) read them. These tests need no stand-in:
they catch a broken or truncated regeneration before anything relies on it. Where the
copied pages are at hand (``../shared`` beside the repository), the script is run again and
its output must equal the committed files.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
FACTS_DIR = REPOSITORY_ROOT / "sandbox" / "microsoft_facts"
GRAPH_FACTS = FACTS_DIR / "graph.json"
IDENTITY_FACTS = FACTS_DIR / "identity.json"
FACT_FILES = (GRAPH_FACTS, IDENTITY_FACTS)
SCRIPT = REPOSITORY_ROOT / "scripts" / "microsoft_facts.py"
DOCS = REPOSITORY_ROOT.parent / "shared" / "reference" / "mailbox-apis" / "microsoft-graph"

# Every type the contact and contactFolder tables use, as the pages spell them.
SCALAR_TYPES = {"String", "DateTimeOffset"}
COMPLEX_TYPES = {"EmailAddress", "PhysicalAddress"}


def load(path: Path) -> dict[str, Any]:
    if not path.is_file():
        pytest.fail(f"{path} is missing; run scripts/microsoft_facts.py")
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def graph() -> dict[str, Any]:
    return load(GRAPH_FACTS)


@pytest.fixture(scope="module")
def identity() -> dict[str, Any]:
    return load(IDENTITY_FACTS)


def strings(value: Any) -> list[str]:
    """Every string in a JSON value, keys included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for key, child in value.items() for text in [key, *strings(child)]]
    if isinstance(value, list):
        return [text for child in value for text in strings(child)]
    return []


def keys_sorted(value: Any) -> bool:
    if isinstance(value, dict):
        return list(value) == sorted(value) and all(keys_sorted(v) for v in value.values())
    if isinstance(value, list):
        return all(keys_sorted(child) for child in value)
    return True


@pytest.mark.parametrize("path", FACT_FILES, ids=lambda path: path.name)
def test_facts_are_sorted_json_without_prose(path: Path) -> None:
    facts = load(path)

    assert facts
    assert keys_sorted(facts), f"{path.name}: keys not sorted, so not the script's output"
    for text in strings(facts):
        # Names, paths, codes and short samples; a sentence would be copied prose.
        assert len(text) <= 200, text
        assert len(text.split()) <= 12, text


@pytest.mark.parametrize("path", FACT_FILES, ids=lambda path: path.name)
def test_regenerated_facts_equal_the_committed_ones(path: Path, tmp_path: Path) -> None:
    if not DOCS.is_dir():
        pytest.skip(f"Microsoft's copied pages are not at {DOCS}")
    subprocess.run(
        [sys.executable, str(SCRIPT), "--docs", str(DOCS), "--output", str(tmp_path)],
        check=True,
        capture_output=True,
        cwd=REPOSITORY_ROOT,
    )

    regenerated = (tmp_path / path.name).read_text(encoding="utf-8")
    assert regenerated == path.read_text(encoding="utf-8"), (
        f"{path.name} differs from what scripts/microsoft_facts.py writes; run it again"
    )


def test_top_level_sections(graph: dict[str, Any], identity: dict[str, Any]) -> None:
    for key in (
        "host",
        "version",
        "resources",
        "complex_types",
        "scalar_types",
        "operations",
        "delta",
        "batch",
        "errors",
        "throttling",
        "extended_properties",
        "immutable_id",
    ):
        assert key in graph, f"graph.json has no {key}"
    assert graph["host"] == "graph.microsoft.com"
    assert graph["version"] == "v1.0"
    for key in ("host", "token", "admin_consent"):
        assert key in identity, f"identity.json has no {key}"
    assert identity["host"] == "login.microsoftonline.com"


def test_contact_properties_and_types(graph: dict[str, Any]) -> None:
    contact = graph["resources"]["contact"]
    properties = contact["properties"]

    assert len(properties) >= 35, f"only {len(properties)} contact properties"
    for name in (
        "id",
        "changeKey",
        "givenName",
        "surname",
        "displayName",
        "emailAddresses",
        "businessPhones",
        "mobilePhone",
        "companyName",
        "jobTitle",
        "businessAddress",
        "categories",
        "parentFolderId",
        "createdDateTime",
        "lastModifiedDateTime",
        "birthday",
    ):
        assert name in properties, f"contact property {name} missing"
    for name, kind in properties.items():
        assert re.fullmatch(r"[a-z][A-Za-z]*", name), name
        base = kind.removesuffix(" collection")
        assert base in SCALAR_TYPES | COMPLEX_TYPES, (name, kind)
    assert properties["emailAddresses"] == "EmailAddress collection"
    assert properties["businessPhones"] == "String collection"
    assert properties["categories"] == "String collection"
    assert properties["homeAddress"] == "PhysicalAddress"
    assert properties["birthday"] == "DateTimeOffset"
    assert properties["id"] == "String"


def test_contact_read_only_and_updatable(graph: dict[str, Any]) -> None:
    contact = graph["resources"]["contact"]
    properties = set(contact["properties"])
    read_only = set(contact["read_only"])
    updatable = set(contact["updatable"])

    assert {"id", "changeKey", "createdDateTime", "lastModifiedDateTime"} <= read_only
    assert read_only <= properties
    assert updatable <= properties
    assert not read_only & updatable
    assert read_only | updatable == properties
    assert {"givenName", "surname", "emailAddresses", "categories"} <= updatable
    assert contact["read_only"] == sorted(read_only)


def test_contact_examples(graph: dict[str, Any]) -> None:
    contact = graph["resources"]["contact"]

    assert contact["annotations"] == ["@odata.context", "@odata.etag"]
    assert contact["etag"] == 'W/"{changeKey}"'
    assert set(contact["null_in_examples"]) <= set(contact["properties"])
    # Text and timestamps appear as null in the examples; collections and addresses never.
    for name in contact["null_in_examples"]:
        assert contact["properties"][name] in SCALAR_TYPES, name
    assert "singleValueExtendedProperties" in contact["relationships"]


def test_contact_folder(graph: dict[str, Any]) -> None:
    folder = graph["resources"]["contactFolder"]

    assert folder["properties"] == {
        "displayName": "String",
        "id": "String",
        "parentFolderId": "String",
    }
    assert folder["read_only"] == ["id"]
    assert "contacts" in folder["relationships"]


def test_complex_types(graph: dict[str, Any]) -> None:
    types = graph["complex_types"]

    assert set(types) == COMPLEX_TYPES
    assert types["EmailAddress"]["properties"] == {"address": "String", "name": "String"}
    assert set(types["PhysicalAddress"]["properties"]) == {
        "street",
        "city",
        "state",
        "postalCode",
        "countryOrRegion",
    }
    example = graph["scalar_types"]["DateTimeOffset"]["example"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", example)
    assert graph["scalar_types"]["DateTimeOffset"]["utc"] is True


@pytest.mark.parametrize(
    ("operation", "method", "status"),
    [
        ("create", "POST", 201),
        ("create_in_folder", "POST", 201),
        ("create_folder", "POST", 201),
        ("list", "GET", 200),
        ("get", "GET", 200),
        ("update", "PATCH", 200),
        ("delete", "DELETE", 204),
        ("delta", "GET", 200),
    ],
)
def test_operation_statuses(
    graph: dict[str, Any], operation: str, method: str, status: int
) -> None:
    facts = graph["operations"][operation]

    assert facts["method"] == method
    assert facts["status"] == status
    assert facts["paths"], operation
    assert all(path.startswith("/") for path in facts["paths"]), facts["paths"]
    assert any(path.startswith("/users/{id") for path in facts["paths"]), facts["paths"]


def test_operation_paths(graph: dict[str, Any]) -> None:
    operations = graph["operations"]

    assert "/users/{id}/contactFolders/{id}/contacts/delta" in operations["delta"]["paths"]
    assert "/users/{id | userPrincipalName}/contactFolders" in operations["create_folder"]["paths"]
    assert (
        "/users/{id | userPrincipalName}/contactFolders/{id}/contacts"
        in operations["create_in_folder"]["paths"]
    )
    assert operations["list"]["email_filter"] == "emailAddresses/any(a:a/address eq '{address}')"


def test_delta(graph: dict[str, Any]) -> None:
    delta = graph["delta"]

    assert delta["reset"] == {"status": 410, "reason": "gone", "header": "Location"}
    assert delta["removed_annotation"] == "@removed"
    assert delta["removed_reasons"] == ["changed", "deleted"]
    assert delta["query_parameters"] == ["$deltatoken", "$skiptoken"]
    assert {token.lower() for token in delta["link_tokens"].values()} == {
        "$deltatoken",
        "$skiptoken",
    }
    assert delta["link_tokens"]["@odata.deltaLink"].lower() == "$deltatoken"
    assert delta["prefer"].startswith("odata.maxpagesize=")
    assert delta["expired_token_code"] == "syncStateNotFound"


def test_batch(graph: dict[str, Any]) -> None:
    batch = graph["batch"]

    assert batch["max_requests"] == 20
    assert (batch["method"], batch["path"]) == ("POST", "/$batch")
    assert batch["request_envelope"] == "requests"
    assert batch["response_envelope"] == "responses"
    required = {name for name, facts in batch["request_fields"].items() if facts["required"]}
    assert required == {"id", "method", "url"}
    assert {"headers", "body"} <= set(batch["request_fields"])
    assert {"id", "status"} <= set(batch["response_fields"])
    assert set(batch["response_fields"]) <= {"id", "status", "headers", "body"}
    assert batch["status_parseable"] == 200
    assert batch["status_malformed"] == 400
    assert batch["status_failed_dependency"] == 424
    assert batch["status_throttled_request"] == 429


def test_errors(graph: dict[str, Any]) -> None:
    errors = graph["errors"]

    for status, reason in {
        "400": "Bad Request",
        "401": "Unauthorized",
        "403": "Forbidden",
        "404": "Not Found",
        "409": "Conflict",
        "410": "Gone",
        "412": "Precondition Failed",
        "429": "Too Many Requests",
        "503": "Service Unavailable",
    }.items():
        assert errors["statuses"].get(status) == reason, status
    assert all(re.fullmatch(r"[1-5]\d\d", status) for status in errors["statuses"])
    for code in ("itemNotFound", "resourceModified", "syncStateNotFound", "activityLimitReached"):
        assert code in errors["codes"], code
    assert "entityTagDoesNotMatch" in errors["detailed_codes"]
    assert errors["codes"] == sorted(set(errors["codes"]))
    assert {"code", "message"} <= set(errors["error_fields"])
    meaning = errors["by_meaning"]
    assert meaning["not_found"] == {"status": 404, "code": "itemNotFound"}
    assert meaning["precondition_failed"]["status"] == 412
    assert meaning["throttled"]["status"] == 429
    assert meaning["throttled"]["code"] == "TooManyRequests"
    assert meaning["throttled"]["header"] == "Retry-After"
    assert float(meaning["throttled"]["header_example"]) > 0
    assert meaning["delta_token_expired"]["code"] == graph["delta"]["expired_token_code"]
    assert meaning["mailbox_access_denied"]["code"] == "ErrorAccessDenied"


def test_throttling(graph: dict[str, Any]) -> None:
    outlook = graph["throttling"]["outlook"]

    assert outlook["requests"] == 10_000
    assert outlook["period_seconds"] == 600
    assert outlook["concurrent_requests"] == 4
    assert outlook["scope"] == "app_id_and_mailbox"
    assert outlook["upload_megabytes"] == 15
    assert outlook["upload_period_seconds"] == 30
    assert outlook["upload_methods"] == ["PATCH", "POST", "PUT"]
    assert {"contact", "contactFolder"} <= set(outlook["resources"])
    assert graph["throttling"]["global_requests_per_second_per_app"] == 2000


def test_extended_properties(graph: dict[str, Any]) -> None:
    extended = graph["extended_properties"]

    assert extended["relationship"] == "singleValueExtendedProperties"
    assert extended["id_formats_single_value"] == [
        "{type} {guid} Name {name}",
        "{type} {guid} Id {id}",
        "{type} {proptag}",
    ]
    match = re.fullmatch(extended["id_pattern_named"], extended["id_example_named"])
    assert match is not None
    assert match["type"] == "String"
    assert not re.fullmatch(extended["id_pattern_named"], "String 0x4001001E")
    assert extended["filter"].startswith("$filter=singleValueExtendedProperties/Any(ep: ")
    assert "ep/id eq '{id_value}'" in extended["filter"]
    assert extended["expand"] == (
        "$expand=singleValueExtendedProperties($filter=id eq '{id_value}')"
    )
    assert set(extended["resource_properties"]) == {"id", "value"}
    assert extended["resource_properties"]["id"]["read_only"] is True
    assert "eq" in extended["value_operators_string"]
    assert "contains" in extended["value_operators_string"]
    assert "ge" in extended["value_operators_numeric"]


def test_immutable_id(graph: dict[str, Any]) -> None:
    immutable = graph["immutable_id"]

    assert immutable["header"] == "Prefer"
    assert immutable["value"] == 'IdType="ImmutableId"'
    assert "contact" in immutable["supported_resources"]
    assert immutable["translate_max_ids"] == 1000


def test_token_endpoint(identity: dict[str, Any]) -> None:
    token = identity["token"]

    assert (token["method"], token["path"]) == ("POST", "/{tenant}/oauth2/v2.0/token")
    assert token["path_parameters"] == ["tenant"]
    assert token["content_type"] == "application/x-www-form-urlencoded"
    assert token["grant_type"] == "client_credentials"
    assert token["graph_scope"] == "https://graph.microsoft.com/.default"
    assert token["parameters"] == {
        "client_id": "required",
        "client_secret": "required",
        "grant_type": "required",
        "scope": "required",
    }
    assert token["response_fields"] == {
        "access_token": "string",
        "expires_in": "integer",
        "token_type": "string",
    }
    assert token["token_type_example"].lower() == "bearer"
    assert token["expires_in_example"] > 0
    assert token["refresh_token_granted"] is False
    assert token["error_status"] == 400
    assert {"error", "error_description", "error_codes"} <= set(token["error_fields"])


@pytest.mark.parametrize("variant", ["v1", "v2"])
def test_admin_consent(identity: dict[str, Any], variant: str) -> None:
    consent = identity["admin_consent"][variant]

    assert consent["method"] == "GET"
    assert consent["path"].startswith("/{tenant}/")
    assert consent["path"].endswith("/adminconsent")
    assert consent["path_parameters"] == ["tenant"]
    assert {"client_id", "redirect_uri"} <= {
        name for name, condition in consent["parameters"].items() if condition == "required"
    }
    assert consent["parameters"]["state"] == "recommended"
    assert {"tenant", "state", "admin_consent"} <= set(consent["success_parameters"])
    assert consent["success_admin_consent_example"] == "True"
    assert {"error", "error_description"} <= set(consent["error_parameters"])
    assert consent["error_example"]


def test_admin_consent_paths(identity: dict[str, Any]) -> None:
    consent = identity["admin_consent"]

    assert consent["v1"]["path"] == "/{tenant}/adminconsent"
    assert consent["v2"]["path"] == "/{tenant}/v2.0/adminconsent"
    assert "scope" in consent["v2"]["parameters"]
    assert "scope" in consent["v2"]["success_parameters"]
