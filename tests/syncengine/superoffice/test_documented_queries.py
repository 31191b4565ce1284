"""Every archive query the product sends uses only what SuperOffice documents.

The reads run against the live sandbox with every request recorded; each query is then
checked against SuperOffice's own provider pages, as kept in
`sandbox/superoffice_facts/archive_providers.json`: each column exists in the provider,
each filter operator is listed for the column's type, each sort column is sortable, each
entity exists, and the output mode is asked for. The checker here is independent of the
sandbox's own checks, so a lenient sandbox cannot hide an undocumented query.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sandbox.testing import SandboxControl
from syncengine.superoffice import reads, selections
from syncengine.superoffice.client import SuperOfficeClient
from syncengine.superoffice.errors import SelectionRefused
from syncengine.superoffice.records import SyncWindow
from tests.plugins.nordlys import TENANT

FACTS = Path(__file__).resolve().parents[3] / "sandbox" / "superoffice_facts"
DOCUMENTED: dict[str, Any] = json.loads((FACTS / "archive_providers.json").read_text())
CLAUSE = re.compile(r"^(?P<column>[\w/:\-.]+)\s+(?P<operator>\S+)(?:\s+(?P<value>.*))?$")


@dataclass(frozen=True)
class SentQuery:
    provider: str
    params: Mapping[str, str | int]


def top_level_clauses(text: str) -> list[str]:
    """`a = 1 and b between ('x','y')` → the clauses, ignoring `and` inside quotes."""
    clauses, current, depth, quoted = [], "", 0, False
    for word in re.split(r"(\s+)", text):
        if not quoted and depth == 0 and word.lower() == "and":
            clauses.append(current.strip())
            current = ""
            continue
        current += word
        quoted ^= word.count("'") % 2 == 1
        depth += word.count("(") - word.count(")") if not quoted else 0
    clauses.append(current.strip())
    return [clause for clause in clauses if clause]


def undocumented_uses(query: SentQuery) -> list[str]:
    provider = DOCUMENTED["providers"].get(query.provider)
    if provider is None:
        return [f"{query.provider}: no documented archive provider of that name"]
    columns: dict[str, list[Any]] = provider["columns"]
    operators: dict[str, list[str]] = DOCUMENTED["operators"]
    problems: list[str] = []

    def known(column: str, use: str) -> list[Any] | None:
        if column not in columns:
            problems.append(f"{query.provider}: {use} names undocumented column {column!r}")
            return None
        return columns[column]

    for column in filter(None, str(query.params.get("$select", "")).split(",")):
        known(column.strip(), "$select")
    for clause in top_level_clauses(str(query.params.get("$filter", ""))):
        match = CLAUSE.match(clause)
        if match is None:
            problems.append(f"{query.provider}: cannot read filter clause {clause!r}")
            continue
        fact = known(match["column"], "$filter")
        if fact is None:
            continue
        restriction = fact[0]
        allowed = set(operators.get(restriction or "", [])) | set(operators["*"])
        if restriction is None:
            problems.append(f"{query.provider}: {match['column']} cannot restrict")
        elif match["operator"] not in allowed:
            problems.append(
                f"{query.provider}: operator {match['operator']!r} is not documented for "
                f"{match['column']} ({restriction})"
            )
    for item in filter(None, str(query.params.get("$orderBy", "")).split(",")):
        column = item.split()[0]
        fact = known(column, "$orderBy")
        if fact is not None and not fact[1]:
            problems.append(f"{query.provider}: {column} is not sortable")
    for entity in filter(None, str(query.params.get("$entities", "")).split(",")):
        if entity.strip() not in provider["entities"]:
            problems.append(f"{query.provider}: undocumented entity {entity.strip()!r}")
    output = query.params.get("$output")
    if output != "Logical":
        problems.append(f"{query.provider}: $output must be Logical, not {output!r}")
    return problems


@pytest.fixture
def sent(client: SuperOfficeClient, monkeypatch: pytest.MonkeyPatch) -> list[SentQuery]:
    """Every archive page the client asks for, as it goes out."""
    queries: list[SentQuery] = []
    original = client._archive_page

    def recording(*, path: str, params: Mapping[str, str | int]) -> dict[str, Any]:
        queries.append(SentQuery(provider=path.removeprefix("Archive/"), params=dict(params)))
        return original(path=path, params=params)

    monkeypatch.setattr(client, "_archive_page", recording)
    return queries


def every_read(
    client: SuperOfficeClient, crm: sqlite3.Connection, sandbox: SandboxControl
) -> Iterator[str]:
    """Runs each read the product has, on data that takes its every branch."""
    company_selection = crm.execute(
        "SELECT name FROM selection WHERE tenant = ? AND selection_type = 'Static'"
        " AND target_table_name = 'contact' AND name NOT IN (SELECT name FROM selection"
        " WHERE tenant = ? GROUP BY name HAVING COUNT(*) > 1) ORDER BY selection_id",
        (TENANT, TENANT),
    ).fetchone()[0]
    info = selections.selection_find_static(client=client, name=company_selection)
    yield "selection_find_static"
    members = selections.selection_members(client=client, selection_id=info.selection_id)
    yield "selection_members"
    companies = reads.favourite_company_ids(client=client, associate_id=1)
    yield "favourite_company_ids"
    reads.persons_at_companies(client=client, company_ids=companies)
    yield "persons_at_companies"
    reads.favourite_persons(client=client, associate_id=1)
    yield "favourite_persons"
    now = datetime.now(UTC)
    window = SyncWindow(start=now - timedelta(days=7), end=now + timedelta(days=180))
    reads.appointment_person_ids(client=client, associate_id=1, window=window)
    yield "appointment_person_ids"
    reads.persons_by_ids(client=client, person_ids=set(members))
    yield "persons_by_ids"
    reads.associates_list(client=client)
    yield "associates_list"
    # With its persons gone, the company selection is checked for company rows as well.
    for person_id in members:
        sandbox.remove_selection_member(
            tenant=TENANT, selection_id=info.selection_id, person_id=person_id
        )
    with pytest.raises(SelectionRefused):
        selections.selection_find_static(client=client, name=company_selection)
    yield "selection_find_static, companies only"


def test_every_archive_query_is_documented(
    client: SuperOfficeClient,
    crm: sqlite3.Connection,
    sandbox: SandboxControl,
    sent: list[SentQuery],
) -> None:
    done = list(every_read(client, crm, sandbox))

    assert len(done) == 9
    # Every documented provider the product reads was exercised, bookings' participants
    # and both kinds of selection member too.
    assert {query.provider for query in sent} == set(DOCUMENTED["providers"])
    member_kinds = {
        query.params.get("$entities")
        for query in sent
        if query.provider == "ContactPersonStaticSelectionV2"
    }
    assert member_kinds == {"staticPerson", "staticContact"}
    problems = [problem for query in sent for problem in undocumented_uses(query)]
    assert problems == []


@pytest.mark.parametrize(
    ("provider", "params", "complaint"),
    [
        ("FindSelection", {"$select": "targetTableName"}, "undocumented column 'targetTableName'"),
        ("Person", {"$filter": "personId oneOf (1,2)"}, "'oneOf' is not documented for personId"),
        ("Person", {"$filter": "contactId oneOf (1)"}, "'oneOf' is not documented for contactId"),
        (
            "ContactPersonStaticSelectionV2",
            {"$orderBy": "selectionMemberId"},
            "selectionMemberId is not sortable",
        ),
        ("Participants", {"$orderBy": "participantPersonId"}, "is not sortable"),
        ("Participants", {"$filter": "participantPersonId = 3"}, "cannot restrict"),
        ("Person", {"$entities": "persons"}, "undocumented entity 'persons'"),
        ("Person", {"$output": "Display"}, "$output must be Logical"),
    ],
)
def test_the_checker_finds_what_superoffice_refuses(
    provider: str, params: dict[str, str], complaint: str
) -> None:
    """What the product once sent, each of which a real tenant refuses or misreads."""
    problems = undocumented_uses(
        SentQuery(provider=provider, params={"$output": "Logical", **params})
    )

    assert any(complaint in problem for problem in problems), problems


def test_the_filter_reader_keeps_quoted_and() -> None:
    assert top_level_clauses("name contains 'Sales and service' and selectionId = 3") == [
        "name contains 'Sales and service'",
        "selectionId = 3",
    ]
