"""Static selections: found by name when a user saves one, and read for their members.

SuperOffice keeps company and person selections in one kind of selection (target table
`contact`, archive `ContactPersonStaticSelectionV2`), whose members are rows of a company
and, optionally, one of its persons; older databases also have selections on the `person`
table. Both are accepted; their person rows are what we sync, and rows that name only a
company are not expanded to the company's persons.
"""

from __future__ import annotations

from syncengine.superoffice.cells import comparable_name, id_cell, text_cell
from syncengine.superoffice.client import SuperOfficeClient
from syncengine.superoffice.errors import PermanentError, SelectionRefused
from syncengine.superoffice.person_rows import SELECTION_MEMBER_COLUMNS, person_records
from syncengine.superoffice.records import PersonRecord, SelectionInfo

PERSON_TARGET_TABLES = {"person", "contact"}
TARGET_TABLE_WORDS = {
    "sale": "sales",
    "project": "projects",
    "appointment": "follow-ups",
    "document": "documents",
    "ticket": "requests",
    "mailing": "mailings",
    "product": "products",
}


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def selection_find_static(*, client: SuperOfficeClient, name: str) -> SelectionInfo:
    """The one static person selection with this name (case and spaces ignored).

    Raises SelectionRefused with a reason a user can read when no selection, or several,
    have the name, or when the one found cannot be synced.
    """
    wanted = name.strip()
    if not wanted:
        raise SelectionRefused(name, "Type the name of a selection.")
    # `contains`, then an exact comparison here: stored names can carry stray spaces
    # that `is` would not forgive.
    rows = [
        row
        for row in client.archive(
            "FindSelection",
            select=("selectionId", "name"),
            filter=f"name contains {_quoted(wanted)}",
            order_by="selectionId",
        )
        if comparable_name(text_cell(row, "name")) == comparable_name(wanted)
    ]
    if not rows:
        raise SelectionRefused(name, f"No selection is called “{wanted}”.")
    if len(rows) > 1:
        ids = ", ".join(str(id_cell(row, "selectionId")) for row in rows)
        raise SelectionRefused(
            name,
            f"{len(rows)} selections are called “{wanted}”: ids {ids}; rename one in SuperOffice.",
        )
    # The kind and target table come from the selection entity, whose Swagger contract
    # types them (`SelectionType`, `TargetTableName`); the archive has them as list ids.
    info = _selection_info(client=client, selection_id=id_cell(rows[0], "selectionId"))
    refusal = _refusal_reason(info=info)
    if refusal is None and info.target_table == "contact" and info.member_count != 0:
        refusal = _companies_only_reason(client=client, info=info)
    if refusal is not None:
        raise SelectionRefused(name, refusal)
    return info


def _selection_info(*, client: SuperOfficeClient, selection_id: int) -> SelectionInfo:
    """Raises NotFound when the selection is gone."""
    selection = client.get_json(f"Selection/{int(selection_id)}")
    return SelectionInfo(
        selection_id=int(selection_id),
        name=text_cell(selection, "Name"),
        selection_type=text_cell(selection, "SelectionType"),
        target_table=text_cell(selection, "TargetTableName").lower(),
        member_count=id_cell(selection, "MemberCount"),
    )


def _refusal_reason(*, info: SelectionInfo) -> str | None:
    if info.target_table not in PERSON_TARGET_TABLES:
        things = TARGET_TABLE_WORDS.get(info.target_table, f"{info.target_table or 'unknown'}s")
        return (
            f"“{info.name}” is a selection of {things}, not persons; "
            "choose a static selection of persons or companies."
        )
    if info.selection_type == "Dynamic":
        return (
            f"“{info.name}” is a dynamic selection: its members follow search criteria. "
            "Only static selections can be synced."
        )
    if info.selection_type == "Combined":
        return (
            f"“{info.name}” is a combined selection (made from two others). "
            "Only static selections can be synced."
        )
    if info.selection_type != "Static":
        return f"“{info.name}” is not a static selection. Only static selections can be synced."
    return None


def _companies_only_reason(*, client: SuperOfficeClient, info: SelectionInfo) -> str | None:
    """A company selection whose members are all companies names no person to sync.

    An empty selection is accepted: persons can be added to it later.
    """

    def has_member(entity: str, column: str) -> bool:
        rows = client.archive(
            "ContactPersonStaticSelectionV2",
            select=(column,),
            filter=f"selectionId = {info.selection_id}",
            entities=(entity,),
            order_by=column,
            page_size=1,
        )
        return next(rows, None) is not None

    if has_member("staticPerson", "personId") or not has_member("staticContact", "contactId"):
        return None
    # MemberCount is SuperOffice's estimate, and -1 when it does not know.
    listed = f"{info.member_count} companies" if info.member_count > 0 else "only companies"
    return (
        f"“{info.name}” is a selection of companies, not persons: it lists {listed} "
        "and none of their contact persons. Add the persons to it in SuperOffice, or choose "
        "another selection."
    )


def selection_members(*, client: SuperOfficeClient, selection_id: int) -> dict[int, PersonRecord]:
    """Every person in a static selection, with details (company-only rows name no person).

    Raises NotFound when the selection is gone, PermanentError when it is no longer a static
    selection of persons, so the engine keeps what the source named before.
    """
    refusal = _refusal_reason(info=_selection_info(client=client, selection_id=selection_id))
    if refusal is not None:
        raise PermanentError(refusal)
    rows = client.archive(
        "ContactPersonStaticSelectionV2",
        select=SELECTION_MEMBER_COLUMNS.select(),
        filter=f"selectionId = {int(selection_id)}",
        entities=("staticPerson",),
        # A person is a member once, so the person id orders the pages stably.
        order_by="personId",
    )
    return {
        record.person_id: record
        for record in person_records(rows, columns=SELECTION_MEMBER_COLUMNS)
    }
