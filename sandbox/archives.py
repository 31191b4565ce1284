"""Archive providers: the OData-like lists behind ``/api/v1/Archive/{provider}``,
``/Person``, ``/Selection``, ``/Appointment``, ``/User`` and friends.

The providers themselves are data (``sandbox.archive_providers``). ``run_archive``
applies ``$select``, ``$filter``, ``$orderBy``, ``$entities``, ``$top``, ``$skip``,
``$jsonSafe``, ``$mode`` (Slim, Full) and ``$output`` (Logical, Display).

Output per column kind (README, "Where SuperOffice's documentation is silent"):

============  ======================  =========================================
kind          Logical                 Display (the default)
============  ======================  =========================================
int           number                  number
string        text                    text
bool          true / false            ``BOOL_ICONS`` (icon hints, never empty)
date          ISO text, no offset     the same (null when empty)
associate     associate id (number)   the associate's login initials
list with id  the item's id (number)  the item's text
list, no id   the item's text         the item's text
============  ======================  =========================================

Paging: at most ``MAX_PAGE_SIZE`` rows per response. The primary key always ends the sort
order, so ``$skip`` paging is stable. ``odata.nextLink`` is set only when the sandbox cut
the page short of what was asked (no ``$top``, or ``$top`` above the maximum).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlencode

from sandbox import documented
from sandbox.archive_providers import PROVIDERS, ArchiveProvider
from sandbox.filters import Column, FilterError, parse_filter
from sandbox.storage import Database

MAX_PAGE_SIZE = 1000

# Display values of booleans: SuperOffice says "Display returns icon hints" without naming
# them; these are the sandbox's. Neither is empty, so truthiness of a Display value says
# nothing (ask for $output=Logical to get true/false).
BOOL_ICONS = {True: "[I:checked]", False: "[I:unchecked]"}

Output = Literal["logical", "display"]
Mode = Literal["slim", "full"]


@dataclass
class ArchiveQuery:
    """The OData parameters of one archive request, read from the query string or form."""

    select: str = ""
    filter: str = ""
    order_by: str = ""
    entities: str = ""
    top: int | None = None
    skip: int = 0
    json_safe: bool = False
    mode: Mode = "slim"
    output: Output = "display"
    raw: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_params(cls, *, params: Mapping[str, str]) -> ArchiveQuery:
        lowered = {key.lower(): value for key, value in params.items()}

        def number(key: str) -> int | None:
            text = lowered.get(key, "").strip()
            if not text:
                return None
            try:
                value = int(text)
            except ValueError:
                raise FilterError(f"{key} must be a whole number, not {text!r}") from None
            if value < 0:
                raise FilterError(f"{key} must not be negative")
            return value

        mode = lowered.get("$mode", "").strip().lower() or "slim"
        if mode not in {"slim", "full"}:
            raise FilterError(f"$mode must be Slim or Full (the sandbox has no {mode!r})")
        output = lowered.get("$output", "").strip().lower() or "display"
        if output not in {"logical", "display"}:
            raise FilterError(f"$output must be Logical or Display, not {output!r}")
        return cls(
            select=lowered.get("$select", ""),
            filter=lowered.get("$filter", ""),
            order_by=lowered.get("$orderby", ""),
            entities=lowered.get("$entities", ""),
            top=number("$top"),
            skip=number("$skip") or 0,
            json_safe=lowered.get("$jsonsafe", "").lower() == "true",
            mode=mode,  # type: ignore[arg-type]
            output=output,  # type: ignore[arg-type]
            raw=dict(params),
        )


@dataclass(frozen=True)
class ArchiveScope:
    """Who asks, in which tenant, and any restriction the URL itself adds (e.g. a contact)."""

    tenant: str
    associate_id: int
    extra_where: str = ""
    extra_params: Mapping[str, Any] = field(default_factory=dict)


def split_names(*, text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def resolve_column(*, provider: ArchiveProvider, name: str, where: str) -> Column:
    column = provider.columns.get(name.lower())
    if column is None:
        raise FilterError(
            f"Unknown column {name!r} in {where} of archive provider {provider.name!r}"
        )
    return column


def order_clause(*, provider: ArchiveProvider, text: str) -> str:
    parts = []
    for item in split_names(text=text):
        words = item.split()
        if len(words) > 2 or (len(words) == 2 and words[1].lower() not in {"asc", "desc"}):
            raise FilterError(f"Cannot read the sort order {item!r}")
        column = resolve_column(provider=provider, name=words[0], where="$orderBy")
        if not column.sortable:
            raise FilterError(
                f"Column {column.name!r} cannot be used in $orderBy: SuperOffice documents"
                f" it as not sortable in {provider.name!r}"
            )
        direction = "DESC" if len(words) == 2 and words[1].lower() == "desc" else "ASC"
        # Lists sort by what the user sees, text without regard to case.
        expression = column.display_sql or column.sql
        if column.kind in {"string", "list"}:
            expression = f"so_fold({expression})"
        parts.append(f"{expression} {direction}")
    parts.append(f"{provider.primary_key_sql} ASC")
    if provider.tiebreak_sql:
        parts.append(f"{provider.tiebreak_sql} ASC")
    return ", ".join(parts)


def entity_clause(*, provider: ArchiveProvider, text: str) -> str:
    names = split_names(text=text)
    if not names:
        return "1 = 1"
    listed = {name.lower() for name in documented.documented_entities(provider=provider.name)}
    conditions = []
    for name in names:
        condition = provider.entities.get(name.lower())
        if condition is None and name.lower() in listed:
            raise FilterError(
                f"The sandbox does not model the entity {name!r} of {provider.name!r}"
            )
        if condition is None:
            raise FilterError(f"Unknown entity {name!r} in archive provider {provider.name!r}")
        conditions.append(f"({condition})")
    return " OR ".join(conditions)


def associate_logins(*, database: Database, tenant: str) -> dict[int, str]:
    rows = database.query("SELECT associate_id, login FROM associate WHERE tenant = ?", (tenant,))
    return {int(row["associate_id"]): str(row["login"]) for row in rows}


def logical_value(*, column: Column, raw: Any) -> Any:
    if column.kind in {"int", "associate"} or column.has_ids:
        return int(raw) if raw is not None else 0
    if column.kind == "bool":
        return bool(raw)
    if column.kind in {"date", "datetime"}:
        return raw
    return "" if raw is None else str(raw)


def display_value(*, column: Column, raw: Any, shown: Any, logins: Mapping[int, str]) -> Any:
    if column.kind == "bool":
        return BOOL_ICONS[bool(raw)]
    if column.kind == "associate":
        return logins.get(int(raw), "") if raw else ""
    if column.has_ids:
        return "" if shown is None else str(shown)
    return logical_value(column=column, raw=raw)


def run_archive(
    *,
    database: Database,
    provider: ArchiveProvider,
    query: ArchiveQuery,
    scope: ArchiveScope,
    page_url: str,
) -> dict[str, Any]:
    """Answer one archive request in SuperOffice's OData shape (slim or full rows)."""
    selected = [
        resolve_column(provider=provider, name=name, where="$select")
        for name in (split_names(text=query.select) or list(provider.default_select))
    ]
    condition = parse_filter(
        text=query.filter, columns=provider.columns, current_associate=scope.associate_id
    )
    required = provider.required_restriction
    if required and not scope.extra_where and required not in condition.columns_used:
        raise FilterError(f"Archive provider {provider.name!r} needs a restriction on {required!r}")
    page_size = MAX_PAGE_SIZE if query.top is None else min(query.top, MAX_PAGE_SIZE)
    where = [provider.where_sql, f"({entity_clause(provider=provider, text=query.entities)})"]
    where.append(f"({condition.sql})")
    if scope.extra_where:
        where.append(f"({scope.extra_where})")
    select_list = ", ".join(
        [f"{provider.primary_key_sql} AS pk", f"{provider.entity_sql} AS entity"]
        + [f"{column.sql} AS c{index}" for index, column in enumerate(selected)]
        + [f"{column.display_sql or 'NULL'} AS d{index}" for index, column in enumerate(selected)]
    )
    sql = (
        f"SELECT {select_list} FROM {provider.from_sql} WHERE {' AND '.join(where)}"  # noqa: S608 - provider SQL is fixed text; values are bound
        f" ORDER BY {order_clause(provider=provider, text=query.order_by)}"
        " LIMIT :limit OFFSET :offset"
    )
    params: dict[str, Any] = {
        **condition.params,
        **scope.extra_params,
        "tenant": scope.tenant,
        "limit": page_size + 1,
        "offset": query.skip,
    }
    rows = database.query(sql, params)
    logins = associate_logins(database=database, tenant=scope.tenant)
    values = [
        archive_row(query=query, selected=selected, row=row, logins=logins)
        for row in rows[:page_size]
    ]
    cut_short = len(rows) > page_size and (query.top is None or query.top > MAX_PAGE_SIZE)
    next_link = None
    if cut_short:
        following = {
            key: value for key, value in query.raw.items() if key.lower() not in {"$skip", "$top"}
        }
        following["$skip"] = str(query.skip + page_size)
        if query.top is not None:
            following["$top"] = str(query.top - page_size)
        next_link = f"{page_url}?{urlencode(following)}"
    return {
        "odata.metadata": f"{page_url}/$metadata",
        "odata.nextLink": next_link,
        "value": values,
    }


def archive_row(
    *, query: ArchiveQuery, selected: Sequence[Column], row: Any, logins: Mapping[int, str]
) -> dict[str, Any]:
    """One row: slim (a value per column, per ``$output``) or full (raw and display both)."""
    cells: dict[str, tuple[Any, Any]] = {}
    for index, column in enumerate(selected):
        key = column.name
        if query.json_safe:
            key = key.replace("/", "_").replace(":", "_")
        raw = row[f"c{index}"]
        cells[key] = (
            logical_value(column=column, raw=raw),
            display_value(column=column, raw=raw, shown=row[f"d{index}"], logins=logins),
        )
    if query.mode == "full":
        return {
            "PrimaryKey": int(row["pk"]),
            "EntityName": row["entity"],
            "StyleHint": "",
            "LinkHint": "",
            "Column": {
                key: {"RawValue": logical, "DisplayValue": shown, "LinkHint": "", "TooltipHint": ""}
                for key, (logical, shown) in cells.items()
            },
        }
    chosen = 0 if query.output == "logical" else 1
    return {
        "PrimaryKey": str(row["pk"]),
        "EntityName": row["entity"],
        **{key: pair[chosen] for key, pair in cells.items()},
    }


def provider_list() -> dict[str, str]:
    return {provider.name: provider.description for provider in PROVIDERS.values()}
