#!/usr/bin/env python3
"""Reduce SuperOffice's own documentation to the facts our sandbox and tests check.

SuperOffice publishes its archive providers (columns, restriction types, which columns
sort) and its REST search pages (operators per type) as Markdown, and its REST contract
as Swagger 2.0. This script reads copies of those and writes compact JSON beside the
sandbox, so every contract test runs from a plain clone:

- ``sandbox/superoffice_facts/archive_providers.json``: per provider its entities and its
  columns (restriction type, sortable), and per restriction type the documented operators;
- ``sandbox/superoffice_facts/swagger_definitions.json``: the Swagger definitions the
  contract tests validate against (and what they reference), without descriptions.

Facts only: no descriptions or other prose are copied. Run it again when SuperOffice's
pages change::

    python scripts/superoffice_facts.py --docs ../shared/superoffice-docs \
        --openapi ../shared/superoffice-openapi
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

OUTPUT_DIR = Path(__file__).resolve().parents[1] / "sandbox" / "superoffice_facts"

# The Swagger definitions the contract tests validate answers against.
CHECKED_DEFINITIONS = (
    "SuperOffice.WebApi.v1.Carriers.PersonCarriers.PersonEntityWithLinks",
    "SuperOffice.CRM.Services.Person",
    "SuperOffice.WebApi.v1.Carriers.ContactCarriers.ContactEntityWithLinks",
    "SuperOffice.WebApi.v1.Carriers.SelectionCarriers.SelectionEntityWithLinks",
    "SuperOffice.WebApi.v1.Carriers.AppointmentCarriers.AppointmentEntityWithLinks",
    "SuperOffice.CRM.Services.SoPrincipalCarrier",
    "SuperOffice.CRM.Services.Associate",
    "SuperOffice.CRM.Services.Favourite",
    "SuperOffice.Services.WebApi.OData.ODataSlimResponse",
)
SCHEMA_KEYS = (
    "type",
    "format",
    "enum",
    "items",
    "$ref",
    "properties",
    "additionalProperties",
    "required",
    "allOf",
    "x-nullable",
)

# The search pages name operator groups by data type; these are the archive restriction
# types each group covers.
TYPE_GROUPS = {
    "bool": ("bool",),
    "int": ("int", "decimal"),
    "ints": ("int", "decimal"),
    "int, decimal": ("int", "decimal"),
    "string": ("string", "stringorPK", "positiveString"),
    "strings": ("string", "stringorPK", "positiveString"),
    "date": ("date", "unlimitedDate"),
    "dates": ("date", "unlimitedDate"),
    "datetime": ("datetime",),
    "associate": ("associate",),
    "lists": ("listAny",),
    "list ids": ("listAny",),
    "all types": ("*",),
    "intarray, tags": ("intArray",),
}
COLUMN_ROW = re.compile(r"^\|(?P<name>[^|]+)\|(?P<type>[^|]*)\|[^|]*\|(?P<order>[^|]*)\|\s*$")
ENTITY_ROW = re.compile(r'^\|"(?P<name>[^"]+)"\|')


def provider_facts(page: Path) -> tuple[str, dict[str, Any]]:
    text = page.read_text(encoding="utf-8")
    title = re.search(r'^# "(?P<name>[^"]+)"', text, re.MULTILINE)
    if title is None:
        raise SystemExit(f"{page}: no provider title")
    entities: list[str] = []
    # name -> [restriction type or None, sortable]
    columns: dict[str, list[Any]] = {}
    section = ""
    for line in text.splitlines():
        if line.startswith("## "):
            # Long tables go on under "Supported Columns (cont.)" headings.
            section = line[3:].replace("(cont.)", "").strip().lower()
            continue
        if section == "supported entities" and (match := ENTITY_ROW.match(line)):
            entities.append(match["name"])
        elif section == "supported columns" and (match := COLUMN_ROW.match(line)):
            name = match["name"].strip().replace("\\_", "_")
            if name in {"Name", "----"}:
                continue
            restriction = match["type"].strip().strip("*").strip()
            columns[name] = [
                None if restriction in {"", "None"} else restriction,
                match["order"].strip().lower() == "x",
            ]
    return title["name"], {"entities": entities, "columns": columns}


def table_operators(text: str) -> dict[str, set[str]]:
    """`| Data type | Operators |` tables: every row's operators under its type group."""
    found: dict[str, set[str]] = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 2 or cells[0].lower() not in TYPE_GROUPS:
            continue
        operators = {word.strip() for word in cells[1].split(",") if word.strip()}
        for restriction in TYPE_GROUPS[cells[0].lower()]:
            found.setdefault(restriction, set()).update(operators)
    return found


def list_operators(text: str) -> dict[str, set[str]]:
    """`**ints:** eq =, ne, …` lines of the filter page."""
    found: dict[str, set[str]] = {}
    for match in re.finditer(r"^\*\*(?P<group>[^*]+):\*\*(?P<ops>.*)$", text, re.MULTILINE):
        group = match["group"].strip().lower()
        if group not in TYPE_GROUPS:
            continue
        words = {word for word in re.split(r"[,\s]+", match["ops"]) if word}
        for restriction in TYPE_GROUPS[group]:
            found.setdefault(restriction, set()).update(words)
    return found


def operator_facts(docs: Path) -> dict[str, list[str]]:
    merged: dict[str, set[str]] = {}
    for page, reader in (
        ("index.md", table_operators),
        ("operators.md", table_operators),
        ("using-filters.md", list_operators),
    ):
        for restriction, operators in reader((docs / page).read_text(encoding="utf-8")).items():
            merged.setdefault(restriction, set()).update(operators)
    # "See below" points at the date tables, already read as rows of their own.
    for operators in merged.values():
        operators.discard("See below")
    return {restriction: sorted(merged[restriction]) for restriction in sorted(merged)}


def compact_schema(schema: Any) -> Any:
    if isinstance(schema, dict):
        kept = {key: schema[key] for key in SCHEMA_KEYS if key in schema}
        for key in ("items", "additionalProperties"):
            if isinstance(kept.get(key), dict):
                kept[key] = compact_schema(kept[key])
        if "properties" in kept:
            kept["properties"] = {
                name: compact_schema(child) for name, child in kept["properties"].items()
            }
        if "allOf" in kept:
            kept["allOf"] = [compact_schema(part) for part in kept["allOf"]]
        return kept
    return schema


def swagger_facts(openapi: Path) -> dict[str, Any]:
    everything: dict[str, Any] = {}
    for path in sorted(openapi.glob("Swagger-v1-*.json")):
        for name, schema in json.loads(path.read_text(encoding="utf-8"))["definitions"].items():
            everything.setdefault(name, schema)
    wanted: dict[str, Any] = {}
    pending = list(CHECKED_DEFINITIONS)
    while pending:
        name = pending.pop()
        if name in wanted:
            continue
        schema = compact_schema(everything[name])
        wanted[name] = schema
        pending.extend(re.findall(r'"#/definitions/([^"]+)"', json.dumps(schema)))
    return {name: wanted[name] for name in sorted(wanted)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=Path, default=Path("../shared/superoffice-docs"))
    parser.add_argument("--openapi", type=Path, default=Path("../shared/superoffice-openapi"))
    arguments = parser.parse_args()
    providers = dict(
        provider_facts(page) for page in sorted((arguments.docs / "archive-providers").glob("*.md"))
    )
    archive = {
        "providers": {name: providers[name] for name in sorted(providers)},
        "operators": operator_facts(arguments.docs),
    }
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    for file_name, text in (
        ("archive_providers.json", one_row_a_line(archive)),
        ("swagger_definitions.json", json.dumps(swagger_facts(arguments.openapi), indent=1)),
    ):
        target = OUTPUT_DIR / file_name
        target.write_text(text + "\n", encoding="utf-8")
        print(f"wrote {target.relative_to(OUTPUT_DIR.parents[1])}")


def one_row_a_line(facts: dict[str, Any]) -> str:
    """JSON with one column (or operator group) a line: small, and readable in a diff."""
    text = json.dumps(facts, indent=1)
    # Collapse the innermost lists ([type, sortable] and operator lists) onto one line.
    return re.sub(
        r"\[\n\s*([^\[\]{}]*?)\n\s*\]",
        lambda match: "[" + re.sub(r",\n\s*", ", ", match[1]) + "]",
        text,
    )


if __name__ == "__main__":
    main()
