"""What SuperOffice documents about its archive providers, read once from the facts file.

``superoffice_facts/archive_providers.json`` is generated from SuperOffice's own pages by
``scripts/superoffice_facts.py``: per provider its entities and, per column, the
restriction type (``null`` when the page says *None*) and whether it sorts; per
restriction type the operators its pages list (``"*"``: allowed for every type). The
archive code asks this module instead of repeating those facts, so the documentation
decides what the sandbox accepts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

FACTS_PATH = Path(__file__).resolve().parent / "superoffice_facts" / "archive_providers.json"

# The sandbox's column kinds and the restriction types SuperOffice documents for them.
KIND_RESTRICTIONS: dict[str, frozenset[str]] = {
    "int": frozenset({"int", "decimal"}),
    "string": frozenset({"string", "stringorPK", "positiveString"}),
    "list": frozenset({"listAny"}),
    "associate": frozenset({"associate"}),
    "date": frozenset({"date"}),
    "datetime": frozenset({"datetime"}),
    "bool": frozenset({"bool"}),
}


@dataclass(frozen=True)
class DocumentedColumn:
    name: str
    restriction: str | None
    sortable: bool


class UndocumentedError(LookupError):
    """The sandbox names a provider or column SuperOffice's pages do not list."""


@cache
def facts() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(FACTS_PATH.read_text(encoding="utf-8"))
    return loaded


def provider_facts(*, provider: str) -> dict[str, Any]:
    found: dict[str, Any] | None = facts()["providers"].get(provider)
    if found is None:
        raise UndocumentedError(f"Archive provider {provider!r} is not documented")
    return found


def documented_column(*, provider: str, name: str) -> DocumentedColumn:
    """The column as the provider's page lists it (names match exactly, as on the page)."""
    entry = provider_facts(provider=provider)["columns"].get(name)
    if entry is None:
        raise UndocumentedError(f"{provider} does not document a column {name!r}")
    restriction, sortable = entry
    return DocumentedColumn(name=name, restriction=restriction, sortable=bool(sortable))


def documented_entities(*, provider: str) -> list[str]:
    return list(provider_facts(provider=provider)["entities"])


@cache
def operators(*, restriction: str) -> frozenset[str]:
    """Operators (lower-cased) for a restriction type: its own list plus the all-types list."""
    table: dict[str, list[str]] = facts()["operators"]
    listed = [*table.get(restriction, []), *table.get("*", [])]
    return frozenset(operator.lower() for operator in listed)
