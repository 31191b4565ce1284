#!/usr/bin/env python3
"""Reduce Microsoft's own documentation to the facts our Microsoft 365 stand-in must keep.

The stand-in in ``sandbox/microsoft/`` answers like Microsoft Graph v1.0 (personal
contacts, contact folders, ``$batch``, delta) and the Microsoft identity platform (client
credentials, admin consent). What it must answer is what Microsoft's pages say, so this
script reads copies of those pages (Markdown from microsoft-graph-docs-contrib and
entra-docs) and writes compact JSON beside the sandbox, so the contract tests
(``tests/sandbox/test_microsoft_contract.py``) run from a plain clone:

- ``sandbox/microsoft_facts/graph.json``: the contact, contactFolder and
  singleValueLegacyExtendedProperty resources (property names and documented types, which
  are read-only), the emailAddress and physicalAddress shapes seen in the examples, each
  contact operation (method, paths, success status), delta (tokens, annotations, the
  ``410`` reset), ``$batch`` (size limit, fields, statuses), errors (statuses and codes),
  the Outlook throttling limits, extended-property id formats and filters, and the
  immutable-id ``Prefer`` header;
- ``sandbox/microsoft_facts/identity.json``: the token endpoint (request parameters,
  response fields and their JSON types, error fields) and the admin consent endpoints
  (request parameters, the parameters of the success and error redirects).

Facts only: names, numbers, paths and status codes, never descriptions or other prose. Each
fact is read from the page, and the script stops, naming the page, when a page no longer
says what it used to, rather than writing a guess. Run it again when the pages change::

    python scripts/microsoft_facts.py --docs ../shared/reference/mailbox-apis/microsoft-graph
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

OUTPUT_DIR = Path(__file__).resolve().parents[1] / "sandbox" / "microsoft_facts"
DEFAULT_DOCS = Path("../shared/reference/mailbox-apis/microsoft-graph")

LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
FENCE = re.compile(r"^```(?P<lang>[^\n`]*)\n(?P<body>.*?)^```", re.DOTALL | re.MULTILINE)
HEADING = re.compile(r"^(?P<marks>#{1,6})\s+(?P<title>.+?)\s*$")
REQUEST_LINE = re.compile(r"^(?P<method>GET|POST|PATCH|PUT|DELETE)\s+(?P<path>/\S.*?)\s*$")
STATUS = re.compile(r"`(?P<code>\d{3}) (?P<reason>[A-Za-z][A-Za-z ]*)`")

# Contact operations: name -> (page, method). The page gives paths and the success status.
OPERATIONS = {
    "create": ("user-post-contacts.md", "POST"),
    "create_in_folder": ("contactfolder-post-contacts.md", "POST"),
    "create_folder": ("user-post-contactfolders.md", "POST"),
    "list": ("user-list-contacts.md", "GET"),
    "get": ("contact-get.md", "GET"),
    "update": ("contact-update.md", "PATCH"),
    "delete": ("contact-delete.md", "DELETE"),
    "delta": ("contact-delta.md", "GET"),
}
# The pages that hold a full contact in a JSON example (request or response bodies).
CONTACT_EXAMPLES = (
    "user-post-contacts.md",
    "contactfolder-post-contacts.md",
    "user-list-contacts.md",
    "contact-get.md",
    "contact-update.md",
    "contact-delta.md",
)
IDENTITY_DIR = "identity-platform"
# Placeholders of the extended-property id formats, as regular expression groups.
PLACEHOLDERS = {
    "{type}": r"(?P<type>[A-Za-z]+)",
    "{guid}": r"\{(?P<guid>[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12})\}",
    "{name}": r"(?P<name>\S.*)",
}


class PageError(SystemExit):
    def __init__(self, page: str, what: str) -> None:
        super().__init__(f"{page}: {what} not found; the page changed, check the script")


class Page:
    """One copied Markdown page: its sections, tables and fenced blocks."""

    def __init__(self, docs: Path, name: str) -> None:
        self.name = name
        self.text = (docs / name).read_text(encoding="utf-8")
        # (level, title, text up to the next heading); fenced blocks never hold headings
        # that matter here, but their "# comment" lines must not be read as headings.
        self.sections: list[tuple[int, str, str]] = []
        level, title = 0, ""
        lines: list[str] = []
        in_fence = False
        for line in self.text.splitlines():
            if line.startswith("```"):
                in_fence = not in_fence
            match = None if in_fence else HEADING.match(line)
            if match and not match["title"].startswith("["):
                self.sections.append((level, title, "\n".join(lines)))
                level, title, lines = len(match["marks"]), match["title"], []
            else:
                lines.append(line)
        self.sections.append((level, title, "\n".join(lines)))

    def fail(self, what: str) -> PageError:
        return PageError(self.name, what)

    def section(self, title: str, *, after: str | None = None) -> str:
        """The first section called ``title`` (after the first one called ``after``)."""
        started = after is None
        for _, name, body in self.sections:
            if not started:
                started = name.lower() == str(after).lower()
                continue
            if name.lower() == title.lower():
                return body
        raise self.fail(f"section '{title}'" + (f" after '{after}'" if after else ""))

    def search(self, pattern: str, what: str, text: str | None = None) -> re.Match[str]:
        match = re.search(pattern, self.text if text is None else text, re.DOTALL | re.MULTILINE)
        if match is None:
            raise self.fail(what)
        return match


def clean(cell: str) -> str:
    cell = LINK.sub(r"\1", cell)
    cell = cell.replace("\\_", "_").replace("**", "").replace("`", "")
    return re.sub(r"\s+", " ", cell).strip()


def tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """Every Markdown table in ``text``: its header cells and rows of cleaned cells."""
    found: list[tuple[list[str], list[list[str]]]] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines) - 1:
        line, rule = lines[index].strip(), lines[index + 1].strip()
        if line.startswith("|") and re.fullmatch(r"\|?[\s:|-]+\|?", rule) and "-" in rule:
            header = [clean(cell) for cell in line.strip("|").split("|")]
            rows = []
            index += 2
            while index < len(lines) and lines[index].strip().startswith("|"):
                rows.append([clean(cell) for cell in lines[index].strip().strip("|").split("|")])
                index += 1
            found.append((header, rows))
        else:
            index += 1
    return found


def table(page: Page, text: str, first_column: str) -> list[list[str]]:
    """The rows of the first table in ``text`` whose first header cell is ``first_column``."""
    for header, rows in tables(text):
        if header and header[0].lower() == first_column.lower():
            return rows
    raise page.fail(f"table '{first_column}'")


def json_blocks(text: str) -> list[Any]:
    """Every JSON value in fenced blocks (a body after HTTP headers counts, too)."""
    values: list[Any] = []
    for match in FENCE.finditer(text):
        body = match["body"]
        start = re.search(r"^\s*[{\[]", body, re.MULTILINE)
        if start is None:
            continue
        # Some samples end an object with a comma, which JSON does not allow.
        sample = re.sub(r",(\s*[}\]])", r"\1", body[start.start() :])
        try:
            values.append(json.loads(sample))
        except json.JSONDecodeError:
            continue  # samples with placeholders such as {id} in the body
    return values


def request_lines(page: Page, text: str) -> list[tuple[str, str]]:
    lines = [
        (match["method"], match["path"])
        for block in FENCE.finditer(text)
        for line in block["body"].splitlines()
        if (match := REQUEST_LINE.match(line.strip()))
    ]
    if not lines:
        raise page.fail("request lines")
    return lines


def property_table(page: Page) -> dict[str, dict[str, Any]]:
    """``| Property | Type | Description |`` under "Properties": type and read-only mark."""
    rows = table(page, page.section("Properties"), "Property")
    return {
        row[0]: {"type": row[1], "read_only": "read-only" in row[2].lower()}
        for row in rows
        if len(row) >= 3
    }


def resource_facts(docs: Path, name: str, update_page: str | None = None) -> dict[str, Any]:
    page = Page(docs, name)
    properties = property_table(page)
    relationships = {
        row[0]: row[1]
        for row in table(page, page.section("Relationships"), "Relationship")
        if len(row) >= 2
    }
    read_only = {prop for prop, facts in properties.items() if facts["read_only"]}
    facts: dict[str, Any] = {
        "properties": {prop: properties[prop]["type"] for prop in sorted(properties)},
        "relationships": {rel: relationships[rel] for rel in sorted(relationships)},
    }
    if update_page is not None:
        update = Page(docs, update_page)
        updatable = {row[0] for row in table(update, update.section("Request body"), "Property")}
        unknown = updatable - set(properties)
        if unknown:
            raise update.fail(f"properties {sorted(unknown)} of no {name} row")
        # What the update page leaves out is set by the service, not by the client.
        read_only |= set(properties) - updatable
        facts["updatable"] = sorted(updatable)
    facts["read_only"] = sorted(read_only)
    return facts


def walk_objects(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        found = [value]
        for child in value.values():
            found.extend(walk_objects(child))
        return found
    if isinstance(value, list):
        return [item for child in value for item in walk_objects(child)]
    return []


def example_facts(docs: Path, contact: dict[str, Any]) -> dict[str, Any]:
    """Complex-type shapes, annotations and null values seen in the contact examples."""
    properties: dict[str, str] = contact["properties"]
    complex_types: dict[str, dict[str, set[str]]] = {}
    annotations: set[str] = set()
    null_in_examples: set[str] = set()
    etags: list[tuple[str, str]] = []
    for name in CONTACT_EXAMPLES:
        for value in json_blocks(Page(docs, name).text):
            for item in walk_objects(value):
                if not set(item) & set(properties):
                    continue  # not a contact
                annotations.update(key for key in item if key.startswith("@"))
                if "@odata.etag" in item and "changeKey" in item:
                    etags.append((item["@odata.etag"], item["changeKey"]))
                for prop, child in item.items():
                    kind = properties.get(prop, "")
                    if child is None:
                        null_in_examples.add(prop)
                    base = kind.removesuffix(" collection")
                    if base in {"String", "DateTimeOffset", ""}:
                        continue
                    children = child if isinstance(child, list) else [child]
                    fields = complex_types.setdefault(base, {})
                    for element in children:
                        if not isinstance(element, dict):
                            continue
                        for field, field_value in element.items():
                            fields.setdefault(field, set()).add(type(field_value).__name__)
    for type_name, fields in complex_types.items():
        if not fields:
            raise PageError("contact examples", f"any field of {type_name}")
        if any(kinds != {"str"} for kinds in fields.values()):
            raise PageError("contact examples", f"text-only fields of {type_name}")
    return {
        "complex_types": {
            type_name: {"properties": dict.fromkeys(sorted(fields), "String")}
            for type_name, fields in sorted(complex_types.items())
        },
        "contact_annotations": sorted(annotations),
        "contact_null_in_examples": sorted(null_in_examples),
        "contact_etag": etag_form(etags),
    }


def etag_form(etags: list[tuple[str, str]]) -> str:
    """How ``@odata.etag`` is made of ``changeKey`` in the examples that show both."""
    forms = {etag.replace(change_key, "{changeKey}") for etag, change_key in etags}
    if len(forms) != 1 or "{changeKey}" not in next(iter(forms)):
        raise PageError("contact examples", "one @odata.etag form built from changeKey")
    return forms.pop()


def timestamp_facts(docs: Path) -> dict[str, Any]:
    page = Page(docs, "contact.md")
    example = page.search(r"For example, midnight UTC on [^`]*`(?P<value>[^`]+)`", "timestamp")
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", example["value"]):
        raise page.fail("an ISO 8601 UTC timestamp example")
    return {"DateTimeOffset": {"format": "ISO 8601", "utc": True, "example": example["value"]}}


def operation_facts(docs: Path) -> dict[str, Any]:
    operations: dict[str, Any] = {}
    for name, (page_name, method) in OPERATIONS.items():
        page = Page(docs, page_name)
        paths = sorted(
            {
                path
                for found, path in request_lines(page, page.section("HTTP request"))
                if found == method
            }
        )
        if not paths:
            raise page.fail(f"{method} paths")
        status = page.search(
            r"returns (?:an? )?(?:the )?" + STATUS.pattern, "status", page.section("Response")
        )
        operations[name] = {
            "method": method,
            "paths": paths,
            "status": int(status["code"]),
            "reason": status["reason"].strip(),
        }
    listing = Page(docs, "user-list-contacts.md")
    email_filter = listing.search(
        r"\$filter=(?P<filter>emailAddresses/any\([^)]*\))", "email filter"
    )
    operations["list"]["email_filter"] = re.sub(r"'[^']*'", "'{address}'", email_filter["filter"])
    operations["list"]["email_filter_operators"] = ["eq"]
    return operations


def delta_facts(docs: Path) -> dict[str, Any]:
    page = Page(docs, "contact-delta.md")
    parameters = [
        row[0] for row in table(page, page.section("Query parameters"), "Query parameter")
    ]
    headers = {row[0]: row[2] for row in table(page, page.section("Request headers"), "Name")}
    prefer = re.search(r"odata\.maxpagesize=\{\w+\}", headers.get("Prefer", ""))
    if prefer is None:
        raise page.fail("Prefer: odata.maxpagesize")
    overview = Page(docs, "delta-query-overview.md")
    reasons = overview.search(
        r"@removed\W+reasons can be `(?P<a>\w+)` or `(?P<b>\w+)`", "@removed reasons"
    )
    gone = overview.search(
        r"response code of `(?P<code>\d{3}) \((?P<reason>\w+)\)`"
        r" and a \*\*(?P<header>\w+)\*\* header",
        "410",
    )
    expired = overview.search(
        r"expired token.*?error codes such as `(?P<code>\w+)`", "expired token code"
    )
    links = sorted(set(re.findall(r"@odata\.(?:next|delta)Link", page.text)))
    if links != ["@odata.deltaLink", "@odata.nextLink"]:
        raise page.fail("@odata.nextLink and @odata.deltaLink")
    token_of = {
        "@odata.deltaLink": overview.search(
            r"`@odata\.deltaLink` URL includes a `(?P<t>\$\w+)`", "deltaLink token"
        )["t"],
        "@odata.nextLink": overview.search(
            r"`@odata\.nextLink` URL includes a `(?P<t>\$\w+)`", "nextLink token"
        )["t"],
    }
    return {
        "query_parameters": sorted(parameters),
        "link_tokens": token_of,
        "prefer": prefer[0],
        "removed_annotation": "@removed",
        "removed_reasons": sorted([reasons["a"], reasons["b"]]),
        "reset": {"status": int(gone["code"]), "reason": gone["reason"], "header": gone["header"]},
        "expired_token_code": expired["code"],
    }


def batch_facts(docs: Path) -> dict[str, Any]:
    page = Page(docs, "json-batching.md")
    up_to = int(page.search(r"multiple requests \(up to (?P<n>\d+)\)", "batch size")["n"])
    limited = int(page.search(r"limited to (?P<n>\d+) individual requests", "batch limit")["n"])
    if up_to != limited:
        raise page.fail("one batch limit")
    endpoint = page.search(
        r"\*\*(?P<method>[A-Z]+)\*\* to the `(?P<path>/\$batch)` endpoint", "endpoint"
    )
    fields = {
        row[0]: row[1].split(".")[0].lower().startswith("required")
        for row in table(page, page.section("Request format"), "Property")
    }
    response_fields: set[str] = set()
    for value in json_blocks(page.text):
        for item in value.get("responses", []) if isinstance(value, dict) else []:
            response_fields.update(item)
    malformed = page.search(r"malformed, the status code is `(?P<code>\d{3})`", "malformed status")
    parseable = page.search(r"parseable, the status code is `(?P<code>\d{3})`", "parseable status")
    depends = page.search(r"fails with status code `(?P<code>\d{3})`", "dependsOn status")
    throttled = page.search(
        r"exceeds the limits, it fails with a status of `(?P<code>\d{3})`", "throttled status"
    )
    throttling = Page(docs, "throttling.md")
    whole = throttling.search(
        r"The batch itself fails with a status code of `(?P<code>\d{3})`", "batch failure"
    )
    return {
        "method": endpoint["method"],
        "path": endpoint["path"],
        "max_requests": limited,
        "request_fields": {name: {"required": fields[name]} for name in sorted(fields)},
        "response_envelope": "responses",
        "request_envelope": "requests",
        "response_fields": sorted(response_fields),
        "status_parseable": int(parseable["code"]),
        "status_malformed": int(malformed["code"]),
        "status_failed_dependency": int(depends["code"]),
        "status_throttled_request": int(throttled["code"]),
        # throttling.md (older) says the batch as a whole then fails with this status,
        # which json-batching.md contradicts (the batch answers 200 when parseable).
        "status_batch_with_throttled_request_per_throttling_md": int(whole["code"]),
    }


def error_facts(docs: Path) -> dict[str, Any]:
    page = Page(docs, "errors.md")
    statuses = {
        row[0]: row[1] for row in table(page, page.section("HTTP status codes"), "Status code")
    }
    codes = [row[0] for row in table(page, page.section("Code property"), "Code")]
    detailed = [row[0] for row in table(page, page.section("Detailed error codes"), "Code")]
    example = next(
        (value for value in json_blocks(page.text) if isinstance(value, dict) and "error" in value),
        None,
    )
    if example is None or not isinstance(example["error"], dict):
        raise page.fail("error example")
    throttling = Page(docs, "throttling.md")
    sample = throttling.section("Sample response")
    throttled = throttling.search(
        r"HTTP/1\.1 (?P<code>\d{3}) .*?^(?P<header>Retry-After): (?P<value>[\d.]+)",
        "429 sample",
        sample,
    )
    body = json_blocks(sample)[0]
    access = Page(docs, "auth-limit-mailbox-access.md")
    denied = next(
        value for value in json_blocks(access.section("Handling API errors")) if "error" in value
    )
    return {
        "statuses": {code: statuses[code] for code in sorted(statuses)},
        "codes": sorted(codes),
        "detailed_codes": sorted(detailed),
        "error_fields": sorted(example["error"]),
        "by_meaning": {
            "not_found": {"status": 404, "code": pick(page, codes, "itemNotFound")},
            "precondition_failed": {
                "status": 412,
                "code": pick(page, codes, "resourceModified"),
                "detailed_code": pick(page, detailed, "entityTagDoesNotMatch"),
            },
            "throttled": {
                "status": int(throttled["code"]),
                "code": body["error"]["code"],
                "header": throttled["header"],
                "header_example": throttled["value"],
            },
            "delta_token_expired": {"code": pick(page, codes, "syncStateNotFound")},
            "mailbox_access_denied": {"code": denied["error"]["code"]},
        },
    }


def pick(page: Page, names: list[str], name: str) -> str:
    if name not in names:
        raise page.fail(f"code {name}")
    return name


def limit_facts(text: str, page: Page) -> dict[str, Any]:
    section = page.search(
        r"Outlook service limits\n(?P<body>.*?)\n#", "Outlook service limits", text
    )["body"]
    rows = [row[0] for row in table(page, section, "Limit")]
    requests = page.search(
        r"(?P<n>[\d,]+) API requests in a (?P<m>\d+) minute period",
        "request limit",
        "\n".join(rows),
    )
    concurrent = page.search(
        r"(?P<n>\d+) concurrent requests", "concurrency limit", "\n".join(rows)
    )
    upload = page.search(
        r"(?P<n>\d+) megabytes \(MB\) upload \((?P<methods>[A-Z, ]+)\)"
        r" in a (?P<s>\d+) second period",
        "upload limit",
        "\n".join(rows),
    )
    page.search(
        r"evaluated for each app ID and mailbox combination", "per app and mailbox", section
    )
    resources = page.search(
        r"\| Personal contacts API \|(?P<cells>[^\n]*)", "Personal contacts API", text
    )
    return {
        "scope": "app_id_and_mailbox",
        "requests": int(requests["n"].replace(",", "")),
        "period_seconds": int(requests["m"]) * 60,
        "concurrent_requests": int(concurrent["n"]),
        "upload_megabytes": int(upload["n"]),
        "upload_methods": sorted(method.strip() for method in upload["methods"].split(",")),
        "upload_period_seconds": int(upload["s"]),
        "resources": sorted(re.findall(r"\[(\w+)\]", resources["cells"])),
    }


def throttling_facts(docs: Path) -> dict[str, Any]:
    found = []
    for name in ("throttling.md", "throttling-limits.md"):
        page = Page(docs, name)
        outlook = limit_facts(page.text, page)
        overall = page.search(r"\| Any\s+\| (?P<n>\d+) requests per second \|", "global limit")
        found.append({"outlook": outlook, "global_requests_per_second_per_app": int(overall["n"])})
    if found[0] != found[1]:
        raise PageError("throttling.md, throttling-limits.md", "the same Outlook limits")
    return found[0]


def extended_property_facts(docs: Path) -> dict[str, Any]:
    overview = Page(docs, "extended-properties-overview.md")
    single = table(overview, overview.section("id formats"), "Format")[:3]
    formats = [re.sub(r"[_\"]", "", row[0]) for row in single]
    examples = [row[1].strip('"') for row in single]
    named = next(example for example in examples if " Name " in example)
    # The named format as a regular expression; the example writes the GUID in braces.
    pattern = "^" + next(form for form in formats if " Name " in form) + "$"
    for placeholder, group in PLACEHOLDERS.items():
        pattern = pattern.replace(placeholder, group)
    if not re.fullmatch(pattern, named):
        raise overview.fail("an example of the named id format")
    resource = Page(docs, "singlevaluelegacyextendedproperty.md")
    get = Page(docs, "singlevaluelegacyextendedproperty-get.md")
    contact_lines = [
        path
        for method, path in request_lines(get, get.text)
        if method == "GET" and re.match(r"/users/\{id\|userPrincipalName\}/contacts", path)
    ]
    expand = next(path for path in contact_lines if "$expand=" in path)
    filters = [path for path in contact_lines if "$filter=" in path and "$expand" not in path]
    if not filters:
        raise get.fail("contact $filter")
    numeric = get.search(
        r"numeric extended properties.*?\*\*value\*\* property:"
        r"\s*(?P<ops>(?:`\w+`,?\s*(?:or\s*)?)+)",
        "numeric operators",
    )
    text = get.search(
        r"string-typed extended properties, apply (?:a|an) (?P<ops>(?:`\w+`,?\s*(?:or\s*)?)+)",
        "string operators",
    )
    return {
        "resource_properties": property_table(resource),
        "id_formats_single_value": formats,
        "id_example_named": named,
        "id_pattern_named": pattern,
        "expand": expand.split("?", 1)[1],
        "filter": filters[0].split("?", 1)[1],
        "value_operators_numeric": sorted(re.findall(r"`(\w+)`", numeric["ops"])),
        "value_operators_string": sorted(re.findall(r"`(\w+)`", text["ops"])),
        "relationship": "singleValueExtendedProperties",
    }


def immutable_id_facts(docs: Path) -> dict[str, Any]:
    page = Page(docs, "outlook-immutable-id.md")
    header = page.search(
        r"^(?P<name>Prefer): (?P<value>IdType=\"\w+\")$",
        "Prefer header",
        page.section("How it works"),
    )
    supported = re.findall(
        r"\[(\w+) resource type\]", page.section("Items that support immutable ID")
    )
    if "contact" not in supported:
        raise page.fail("contact among immutable-id items")
    translate = page.search(r"up to (?P<n>\d+) IDs", "translateExchangeIds limit")
    return {
        "header": header["name"],
        "value": header["value"],
        "supported_resources": sorted(supported),
        "translate_max_ids": int(translate["n"]),
    }


def graph_facts(docs: Path) -> dict[str, Any]:
    contact = resource_facts(docs, "contact.md", update_page="contact-update.md")
    examples = example_facts(docs, contact)
    contact["annotations"] = examples.pop("contact_annotations")
    contact["null_in_examples"] = examples.pop("contact_null_in_examples")
    contact["etag"] = examples.pop("contact_etag")
    base = Page(docs, "contact-get.md").search(
        r"https://(?P<host>graph\.microsoft\.com)/(?P<version>v1\.0)/", "Graph base URL"
    )
    return {
        "host": base["host"],
        "version": base["version"],
        "resources": {
            "contact": contact,
            "contactFolder": resource_facts(docs, "contactfolder.md"),
        },
        "complex_types": examples["complex_types"],
        "scalar_types": timestamp_facts(docs),
        "operations": operation_facts(docs),
        "delta": delta_facts(docs),
        "batch": batch_facts(docs),
        "errors": error_facts(docs),
        "throttling": throttling_facts(docs),
        "extended_properties": extended_property_facts(docs),
        "immutable_id": immutable_id_facts(docs),
    }


def parameter_rows(page: Page, text: str) -> dict[str, str]:
    """``| Parameter | Condition | … |`` (or ``| Parameter | Description |``) rows."""
    rows = table(page, text, "Parameter")
    return {row[0]: (row[1] if len(row) > 2 else "") for row in rows}


def split_parameters(parameters: dict[str, str], path: str) -> dict[str, Any]:
    """Path segments such as {tenant} apart from the query or form parameters."""
    in_path = set(re.findall(r"\{(\w+)\}", path))
    if not in_path <= set(parameters):
        raise PageError(path, "a row for every path parameter")
    return {
        "path_parameters": sorted(in_path),
        "parameters": {
            name: parameters[name].lower() for name in sorted(parameters) if name not in in_path
        },
    }


def redirect_query(page: Page, text: str) -> dict[str, list[str]]:
    for block in FENCE.finditer(text):
        joined = "".join(
            line.strip() for line in block["body"].splitlines() if not line.strip().startswith("//")
        )
        match = re.search(r"(?:GET )?(https?://\S+)", joined)
        if match:
            return parse_qs(urlsplit(match[1]).query, keep_blank_values=True)
    raise page.fail("redirect example")


def consent_facts(page: Page, request: str, success: str, error: str) -> dict[str, Any]:
    parameters = parameter_rows(page, request)
    path = page.search(
        r"https://login\.microsoftonline\.com(?P<path>/\{tenant\}(?:/v2\.0)?/adminconsent)",
        "adminconsent path",
        request,
    )
    success_parameters = sorted(parameter_rows(page, success))
    error_parameters = sorted(parameter_rows(page, error))
    example = redirect_query(page, success)
    error_example = redirect_query(page, error)
    return {
        "method": "GET",
        "path": path["path"],
        **split_parameters(parameters, path["path"]),
        "success_parameters": success_parameters,
        "success_admin_consent_example": example["admin_consent"][0],
        "error_parameters": error_parameters,
        "error_example": error_example["error"][0],
    }


def identity_facts(docs: Path) -> dict[str, Any]:
    flow = Page(docs, f"{IDENTITY_DIR}/v2-oauth2-client-creds-grant-flow.md")
    secret = flow.section("First case: Access token request with a shared secret")
    token_line = flow.search(
        r"^(?P<method>POST) (?P<path>/\{tenant\}/oauth2/v2\.0/token) HTTP/1\.1",
        "token endpoint",
        secret,
    )
    host = flow.search(r"^Host: (?P<host>[\w.]+)", "token host", secret)
    form = flow.search(r"^Content-Type: (?P<type>\S+)", "token content type", secret)
    parameters = parameter_rows(flow, secret)
    grant = flow.search(r"&grant_type=(?P<grant>\w+)", "grant type", secret)
    scope = flow.search(r"the value is `(?P<scope>[^`]+)`", "Graph scope", secret)
    success = flow.section("Successful response", after="Get a token")
    answer = next(value for value in json_blocks(success) if isinstance(value, dict))
    documented = sorted(parameter_rows(flow, success))
    if sorted(answer) != documented:
        raise flow.fail("the same token fields in table and example")
    error = flow.section("Error response", after="Get a token")
    error_status = flow.search(r"An error response \((?P<code>\d{3}) ", "token error status", error)
    error_example = next(value for value in json_blocks(error) if isinstance(value, dict))
    service = Page(docs, "auth-v2-service.md")
    service_answer = next(
        value for value in json_blocks(service.section("Token response")) if isinstance(value, dict)
    )
    if sorted(service_answer) != documented:
        raise service.fail("the same token fields as the identity platform page")
    json_types = {str: "string", int: "integer", list: "array", float: "number", bool: "boolean"}
    consent_v2 = Page(docs, f"{IDENTITY_DIR}/v2-admin-consent.md")
    return {
        "host": host["host"],
        "token": {
            "method": token_line["method"],
            "path": token_line["path"],
            "content_type": form["type"],
            **split_parameters(parameters, token_line["path"]),
            "grant_type": grant["grant"],
            "graph_scope": scope["scope"],
            "response_fields": {name: json_types[type(answer[name])] for name in documented},
            "token_type_example": answer["token_type"],
            "expires_in_example": answer["expires_in"],
            "refresh_token_granted": not flow.search(
                r"refresh tokens will never be granted with this flow", "no refresh token"
            ),
            "error_status": int(error_status["code"]),
            "error_fields": sorted(parameter_rows(flow, error)),
            "error_example": error_example["error"],
        },
        "admin_consent": {
            "v1": consent_facts(
                flow,
                flow.section("Request the permissions from a directory admin"),
                flow.section(
                    "Successful response", after="Request the permissions from a directory admin"
                ),
                flow.section(
                    "Error response", after="Request the permissions from a directory admin"
                ),
            ),
            "v2": consent_facts(
                consent_v2,
                consent_v2.section("Request the permissions from a directory admin"),
                consent_v2.section("Successful response"),
                consent_v2.section("Error response"),
            ),
        },
    }


def one_list_a_line(facts: dict[str, Any]) -> str:
    """Sorted JSON with each flat list on one line: small, and readable in a diff."""
    text = json.dumps(facts, indent=1, sort_keys=True, ensure_ascii=False)
    return re.sub(
        r"\[\n\s*([^\[\]{}]*?)\n\s*\]",
        lambda match: "[" + re.sub(r",\n\s*", ", ", match[1]) + "]",
        text,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--docs", type=Path, default=DEFAULT_DOCS)
    parser.add_argument(
        "--output", type=Path, default=OUTPUT_DIR, help="directory to write (default: %(default)s)"
    )
    arguments = parser.parse_args()
    arguments.output.mkdir(parents=True, exist_ok=True)
    for file_name, facts in (
        ("graph.json", graph_facts(arguments.docs)),
        ("identity.json", identity_facts(arguments.docs)),
    ):
        target = arguments.output / file_name
        target.write_text(one_list_a_line(facts) + "\n", encoding="utf-8")
        print(f"wrote {target}")


if __name__ == "__main__":
    main()
