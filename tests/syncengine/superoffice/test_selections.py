"""Finding static selections by name and reading their members, against the live sandbox;
expected values come from the sandbox's own database."""

from __future__ import annotations

import sqlite3

import pytest

from sandbox.testing import SandboxControl
from syncengine.superoffice.client import SuperOfficeClient
from syncengine.superoffice.errors import NotFound, PermanentError, SelectionRefused
from syncengine.superoffice.reads import persons_by_ids
from syncengine.superoffice.selections import selection_find_static, selection_members
from tests.plugins.nordlys import TENANT
from tests.syncengine.superoffice.crm_facts import (
    biggest_static_person_selection,
    member_person_ids,
    selection_row,
)


def test_a_static_person_selection_is_found_by_name_ignoring_case_and_spaces(
    client: SuperOfficeClient, crm: sqlite3.Connection
) -> None:
    expected = selection_row(
        crm,
        where="selection_type = 'Static' AND target_table_name = 'person' AND name NOT IN"
        " (SELECT name FROM selection s WHERE s.tenant = selection.tenant"
        " GROUP BY name HAVING COUNT(*) > 1)",
    )

    info = selection_find_static(client=client, name=f"  {expected['name'].upper()} ")

    assert info.selection_id == expected["selection_id"]
    assert info.name == expected["name"]
    assert info.selection_type == "Static"
    assert info.target_table == "person"
    assert info.member_count == len(member_person_ids(crm, selection_id=info.selection_id))


def test_a_static_company_selection_with_persons_is_accepted(
    client: SuperOfficeClient, crm: sqlite3.Connection
) -> None:
    expected = selection_row(
        crm,
        where="selection_type = 'Static' AND target_table_name = 'contact' AND EXISTS"
        " (SELECT 1 FROM selection_member m WHERE m.tenant = selection.tenant"
        " AND m.selection_id = selection.selection_id AND m.person_id = 0)",
    )

    info = selection_find_static(client=client, name=expected["name"])

    assert (info.selection_id, info.target_table) == (expected["selection_id"], "contact")


def test_an_empty_static_selection_is_accepted(
    client: SuperOfficeClient, crm: sqlite3.Connection
) -> None:
    empty = selection_row(
        crm,
        where="selection_type = 'Static' AND target_table_number IN (5, 6) AND NOT EXISTS"
        " (SELECT 1 FROM selection_member m WHERE m.tenant = selection.tenant"
        " AND m.selection_id = selection.selection_id)",
        unique_name=True,
    )

    info = selection_find_static(client=client, name=empty["name"])

    assert (info.selection_id, info.member_count) == (empty["selection_id"], 0)
    assert set(selection_members(client=client, selection_id=info.selection_id)) == set()


def test_an_unknown_name_is_refused(client: SuperOfficeClient) -> None:
    with pytest.raises(SelectionRefused) as refused:
        selection_find_static(client=client, name="No such list 4711")

    assert refused.value.reason == "No selection is called “No such list 4711”."
    assert refused.value.name == "No such list 4711"


def test_a_name_shared_by_several_selections_is_refused_with_their_ids(
    client: SuperOfficeClient, crm: sqlite3.Connection
) -> None:
    shared = crm.execute(
        "SELECT name, group_concat(selection_id) AS ids, COUNT(*) AS n FROM selection"
        " WHERE tenant = ? GROUP BY name HAVING COUNT(*) > 1",
        (TENANT,),
    ).fetchone()
    assert shared is not None
    ids = ", ".join(str(value) for value in sorted(int(x) for x in shared["ids"].split(",")))

    typed = shared["name"].lower()

    with pytest.raises(SelectionRefused) as refused:
        selection_find_static(client=client, name=typed)

    assert refused.value.reason == (
        f"{shared['n']} selections are called “{typed}”: ids {ids}; rename one in SuperOffice."
    )


@pytest.mark.parametrize(
    ("where", "words"),
    [
        ("selection_type = 'Dynamic' AND target_table_number IN (5, 6)", "is a dynamic selection"),
        ("selection_type = 'Combined'", "is a combined selection"),
        ("target_table_name = 'sale'", "is a selection of sales, not persons"),
    ],
)
def test_selections_that_cannot_be_synced_are_refused_saying_why(
    client: SuperOfficeClient, crm: sqlite3.Connection, where: str, words: str
) -> None:
    row = selection_row(
        crm,
        where=where,
        unique_name=True,
    )

    with pytest.raises(SelectionRefused) as refused:
        selection_find_static(client=client, name=row["name"])

    assert refused.value.reason.startswith(f"“{row['name']}” {words}")


def test_a_static_selection_made_dynamic_is_refused(
    client: SuperOfficeClient, crm: sqlite3.Connection, sandbox: SandboxControl
) -> None:
    row = selection_row(crm, where="selection_type = 'Static' AND target_table_name = 'person'")
    sandbox.set_selection_type(
        tenant=TENANT, selection_id=row["selection_id"], selection_type="Dynamic"
    )

    with pytest.raises(SelectionRefused, match="is a dynamic selection"):
        selection_find_static(client=client, name=row["name"])


def test_a_company_selection_without_persons_is_refused_as_companies(
    client: SuperOfficeClient, crm: sqlite3.Connection, sandbox: SandboxControl
) -> None:
    row = selection_row(crm, where="selection_type = 'Static' AND target_table_name = 'contact'")
    selection_id = row["selection_id"]
    for person_id in member_person_ids(crm, selection_id=selection_id):
        sandbox.remove_selection_member(
            tenant=TENANT, selection_id=selection_id, person_id=person_id
        )
    companies = crm.execute(
        "SELECT COUNT(*) FROM selection_member WHERE tenant = ? AND selection_id = ?",
        (TENANT, selection_id),
    ).fetchone()[0]
    assert companies > 0

    with pytest.raises(SelectionRefused) as refused:
        selection_find_static(client=client, name=row["name"])

    assert refused.value.reason.startswith(
        f"“{row['name']}” is a selection of companies, not persons: it lists {companies} "
        "companies and none of their contact persons."
    )


def test_members_of_the_biggest_selection_are_read_in_pages_of_a_thousand(
    client: SuperOfficeClient, crm: sqlite3.Connection, sandbox: SandboxControl
) -> None:
    selection = biggest_static_person_selection(crm)
    expected = member_person_ids(crm, selection_id=selection["selection_id"])
    assert len(expected) > 2000, "the big selection should need several pages"

    found = set(selection_members(client=client, selection_id=selection["selection_id"]))

    assert found == expected
    # One request for the selection itself, then pages until a short one.
    pages = len(expected) // 1000 + 1
    assert client.stats.requests == 1 + pages
    assert sandbox.request_counts()["per_tenant"][TENANT] == client.stats.requests


def test_company_only_rows_name_no_person_and_new_members_show_up(
    client: SuperOfficeClient, crm: sqlite3.Connection, sandbox: SandboxControl
) -> None:
    selection = selection_row(
        crm,
        where="selection_type = 'Static' AND target_table_name = 'contact' AND EXISTS"
        " (SELECT 1 FROM selection_member m WHERE m.tenant = selection.tenant"
        " AND m.selection_id = selection.selection_id AND m.person_id = 0)",
    )
    selection_id = selection["selection_id"]
    newcomer = crm.execute(
        "SELECT person_id FROM person WHERE tenant = ? AND person_id NOT IN"
        " (SELECT person_id FROM selection_member WHERE tenant = ? AND selection_id = ?)"
        " ORDER BY person_id DESC",
        (TENANT, TENANT, selection_id),
    ).fetchone()[0]
    sandbox.add_selection_member(tenant=TENANT, selection_id=selection_id, person_id=newcomer)

    found = set(selection_members(client=client, selection_id=selection_id))

    assert found == member_person_ids(crm, selection_id=selection_id)
    assert newcomer in found
    assert 0 not in found


def test_a_deleted_selection_is_not_found(
    client: SuperOfficeClient, crm: sqlite3.Connection, sandbox: SandboxControl
) -> None:
    row = selection_row(crm, where="selection_type = 'Static' AND target_table_name = 'person'")
    sandbox.delete_selection(tenant=TENANT, selection_id=row["selection_id"])

    with pytest.raises(NotFound, match=f"Selection id {row['selection_id']} not found"):
        set(selection_members(client=client, selection_id=row["selection_id"]))


def test_a_selection_no_longer_static_is_a_permanent_error(
    client: SuperOfficeClient, crm: sqlite3.Connection, sandbox: SandboxControl
) -> None:
    row = selection_row(crm, where="selection_type = 'Static' AND target_table_name = 'person'")
    sandbox.set_selection_type(
        tenant=TENANT, selection_id=row["selection_id"], selection_type="Dynamic"
    )

    with pytest.raises(PermanentError, match="is a dynamic selection") as raised:
        set(selection_members(client=client, selection_id=row["selection_id"]))

    assert not isinstance(raised.value, NotFound)


def test_members_carry_the_same_card_fields_as_the_person_archive(
    client: SuperOfficeClient, crm: sqlite3.Connection
) -> None:
    """The selection archive names the company and e-mail columns differently; read
    through either archive, a person is the same record."""
    selection = biggest_static_person_selection(crm)

    members = selection_members(client=client, selection_id=selection["selection_id"])
    sample = sorted(members)[:300]
    by_id = persons_by_ids(client=client, person_ids=sample)

    assert by_id == {person_id: members[person_id] for person_id in sample}
    assert any(members[person_id].emails for person_id in sample)
    assert any(members[person_id].company_name for person_id in sample)
    assert any(members[person_id].address for person_id in sample)
