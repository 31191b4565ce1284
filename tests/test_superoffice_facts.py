"""The committed SuperOffice facts (sandbox/superoffice_facts/) are well-formed and plausible.

``scripts/superoffice_facts.py`` writes them from copies of SuperOffice's documentation
and Swagger files; the sandbox and the contract tests read them. These tests need no
sandbox: they catch a broken or truncated regeneration before anything relies on it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.sandbox.test_contract import (
    ARCHIVE_PROVIDERS,
    SWAGGER_DEFINITIONS,
    USED_DEFINITIONS,
    references,
)

PROVIDERS = (
    "AllUsers",
    "ContactPersonStaticSelectionV2",
    "FindAppointment",
    "FindSelection",
    "Participants",
    "Person",
    "contactfavourites",
    "personfavourites",
)


def load(path: Any) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def archive() -> dict[str, Any]:
    return load(ARCHIVE_PROVIDERS)


@pytest.fixture(scope="module")
def swagger() -> dict[str, Any]:
    return load(SWAGGER_DEFINITIONS)


@pytest.mark.parametrize("name", PROVIDERS)
def test_provider_has_entities_and_columns(archive: dict[str, Any], name: str) -> None:
    assert name in archive["providers"], f"archive provider {name} missing"
    provider = archive["providers"][name]

    assert provider["entities"], f"{name} lists no entities"
    assert all(isinstance(entity, str) and entity for entity in provider["entities"])
    assert len(provider["columns"]) >= 10, f"{name} lists only {len(provider['columns'])} columns"
    for column, facts in provider["columns"].items():
        assert column, name
        assert column.strip() == column, (name, column)
        assert isinstance(facts, list), (name, column, facts)
        assert len(facts) == 2, (name, column, facts)
        restriction, sortable = facts
        assert restriction is None or (isinstance(restriction, str) and restriction), (
            name,
            column,
            facts,
        )
        assert isinstance(sortable, bool), (name, column, facts)


def test_providers_are_the_documented_eight(archive: dict[str, Any]) -> None:
    assert sorted(archive["providers"]) == sorted(PROVIDERS)


def test_key_columns_are_documented(archive: dict[str, Any]) -> None:
    providers = archive["providers"]

    assert providers["Person"]["columns"]["personId"][0] == "int"
    assert providers["ContactPersonStaticSelectionV2"]["columns"]["selectionId"][0] == "int"
    assert providers["FindAppointment"]["columns"]["associateId"][0] == "associate"
    assert providers["FindSelection"]["columns"]["selectionId"][0] == "int"


def test_operator_table(archive: dict[str, Any]) -> None:
    operators = archive["operators"]

    for restriction in ("int", "listAny", "associate", "bool", "string", "date"):
        assert operators.get(restriction), f"no operators for {restriction}"
    for restriction, names in operators.items():
        assert all(isinstance(name, str) and name for name in names), restriction
        assert names == sorted(set(names)), f"{restriction} operators not sorted and unique"
    assert "oneOf" in operators["listAny"]
    assert "oneOf" not in operators["int"]
    assert "associateIsOneOf" in operators["associate"]
    assert "contains" in operators["string"]


def test_column_restrictions_mostly_have_operators(archive: dict[str, Any]) -> None:
    """Most columns' restriction types are ones the operator table covers."""
    kinds = [
        facts[0]
        for provider in archive["providers"].values()
        for facts in provider["columns"].values()
        if facts[0] is not None
    ]
    covered = [kind for kind in kinds if kind in archive["operators"]]

    assert len(covered) >= 0.8 * len(kinds)


def schema_nodes(schema: Any) -> list[dict[str, Any]]:
    """A schema and every schema nested in it (property maps themselves excluded)."""
    if not isinstance(schema, dict):
        return []
    nodes = [schema]
    for name, child in schema.get("properties", {}).items():
        assert isinstance(child, dict), name
        nodes.extend(schema_nodes(child))
    for key in ("items", "additionalProperties"):
        nodes.extend(schema_nodes(schema.get(key)))
    for part in schema.get("allOf", []):
        nodes.extend(schema_nodes(part))
    return nodes


def test_swagger_definitions_are_schemas_without_prose(swagger: dict[str, Any]) -> None:
    assert swagger
    for name, schema in swagger.items():
        assert isinstance(schema, dict), name
        assert "type" in schema or "$ref" in schema or "allOf" in schema, name
        for node in schema_nodes(schema):
            assert "description" not in node, name
            assert "type" in node or "$ref" in node or "allOf" in node, (name, node)


def test_every_reference_resolves(swagger: dict[str, Any]) -> None:
    unresolved = {
        (name, target)
        for name, schema in swagger.items()
        for target in references(schema)
        if target not in swagger
    }

    assert not unresolved, sorted(unresolved)


@pytest.mark.parametrize("name", USED_DEFINITIONS)
def test_contract_definitions_present(swagger: dict[str, Any], name: str) -> None:
    assert name in swagger, f"Swagger definition {name} missing from {SWAGGER_DEFINITIONS}"
    assert swagger[name].get("properties"), f"{name} has no properties"
