"""Archive providers: the OData-like lists behind ``/api/v1/Archive/{provider}``,
``/Person``, ``/Selection``, ``/Appointment``, ``/User`` and friends.

Each provider is data: the SQL it reads from, its columns, its entities. ``run_archive``
applies ``$select``, ``$filter``, ``$orderBy``, ``$entities``, ``$top`` and ``$skip`` and
answers with slim rows (``PrimaryKey`` as a string, ids as numbers, booleans as booleans,
dates as ISO text without offset, associate-typed columns as the associate's login
initials, as SuperOffice's display values do).

Paging: at most ``MAX_PAGE_SIZE`` rows per response. The primary key always ends the sort
order, so ``$skip`` paging is stable. ``odata.nextLink`` is set only when the sandbox cut
the page short of what was asked (no ``$top``, or ``$top`` above the maximum).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from sandbox.filters import Column, ColumnKind, FilterError, parse_filter
from sandbox.storage import Database

MAX_PAGE_SIZE = 1000


def columns(*entries: tuple[str, str, ColumnKind]) -> dict[str, Column]:
    return {name.lower(): Column(name=name, sql=sql, kind=kind) for name, sql, kind in entries}


FULL_NAME_SQL = (
    "TRIM(p.first_name || CASE WHEN p.middle_name != '' THEN ' ' || p.middle_name ELSE '' END"
    " || ' ' || p.last_name)"
)

PERSON_COLUMNS = columns(
    ("personId", "p.person_id", "int"),
    ("firstName", "p.first_name", "string"),
    ("lastName", "p.last_name", "string"),
    ("middleName", "p.middle_name", "string"),
    ("fullName", FULL_NAME_SQL, "string"),
    ("contactId", "p.contact_id", "int"),
    ("mrMrs", "p.mrmrs", "string"),
    ("position", "p.position", "list"),
    ("personNumber", "p.person_number", "string"),
    ("title", "p.job_title", "string"),
    ("birthdate", "p.birth_date", "date"),
    ("birthYear", "CAST(substr(p.birth_date, 1, 4) AS INTEGER)", "int"),
    ("birthMonth", "CAST(substr(p.birth_date, 6, 2) AS INTEGER)", "int"),
    ("birthDay", "CAST(substr(p.birth_date, 9, 2) AS INTEGER)", "int"),
    ("retired", "p.retired", "bool"),
    ("hasCompany", "p.contact_id != 0", "bool"),
    ("personUpdatedDate", "p.updated", "date"),
    ("personUpdatedBy", "p.updated_by", "associate"),
    ("personRegisteredDate", "p.created", "date"),
    ("personAssociateId", "p.associate_id", "associate"),
    ("email/emailAddress", "p.email", "string"),
    ("personDirectPhone/formattedNumber", "p.office_phone", "string"),
    ("personMobilePhone/formattedNumber", "p.mobile_phone", "string"),
    ("personPrivate/formattedNumber", "p.private_phone", "string"),
    ("personContact/contactId", "c.contact_id", "int"),
    ("personContact/name", "c.name", "string"),
    ("personContact/department", "c.department", "string"),
    ("personContact/orgnr", "c.orgnr", "string"),
)

CONTACT_COLUMNS = columns(
    ("contactId", "c.contact_id", "int"),
    ("name", "c.name", "string"),
    ("department", "c.department", "string"),
    ("orgnr", "c.orgnr", "string"),
    ("associateId", "c.associate_id", "associate"),
    ("category", "c.category", "list"),
    ("country", "c.country_name", "list"),
    ("updatedDate", "c.updated", "date"),
    ("registeredDate", "c.created", "date"),
    ("email/emailAddress", "c.email", "string"),
    ("phone/formattedNumber", "c.phone", "string"),
    ("postAddress/city", "c.city", "string"),
    ("contactDeleted", "c.deleted", "bool"),
)

SELECTION_PERSON_COLUMNS = columns(
    ("personId", "COALESCE(p.person_id, 0)", "int"),
    ("firstName", "p.first_name", "string"),
    ("lastName", "p.last_name", "string"),
    ("middleName", "p.middle_name", "string"),
    ("fullName", FULL_NAME_SQL, "string"),
    ("mrMrs", "p.mrmrs", "string"),
    ("position", "p.position", "list"),
    ("title", "p.job_title", "string"),
    ("birthdate", "p.birth_date", "date"),
    ("retired", "p.retired", "bool"),
    ("personUpdatedDate", "p.updated", "date"),
    ("personEmail/emailAddress", "p.email", "string"),
    ("personDirectPhone/formattedNumber", "p.office_phone", "string"),
    ("personMobilePhone/formattedNumber", "p.mobile_phone", "string"),
    ("personPrivate/formattedNumber", "p.private_phone", "string"),
)

ASSOCIATE_COLUMNS = columns(
    ("associateDbId", "s.associate_id", "int"),
    ("assocName", "s.associate_id", "associate"),
    ("firstName", "s.first_name", "string"),
    ("lastName", "s.last_name", "string"),
    ("middleName", "''", "string"),
    ("fullName", "s.first_name || ' ' || s.last_name", "string"),
    ("personId", "s.person_id", "int"),
    ("contactId", "s.contact_id", "int"),
    ("contactName", "c.name", "string"),
    ("contactDepartment", "c.department", "string"),
    ("userName", "s.user_name", "string"),
    ("personEmail", "s.email", "string"),
    ("isActive", "s.is_active", "bool"),
    ("canLogin", "s.is_active", "bool"),
    (
        "assocType",
        "CASE s.user_type WHEN 'InternalAssociate' THEN 'User' ELSE s.user_type END",
        "list",
    ),
    ("role", "s.role_name", "list"),
)

SELECTION_KIND_COLUMNS = columns(
    ("selectionId", "s.selection_id", "int"),
    ("name", "s.name", "string"),
    ("kind", "s.selection_type", "list"),
    ("targetTableNumber", "s.target_table_number", "int"),
    ("targetTableName", "s.target_table_name", "string"),
    ("associateId", "s.associate_id", "associate"),
    ("combinationType", "CASE s.union_type WHEN 'Unknown' THEN '' ELSE s.union_type END", "list"),
    ("done", "0", "bool"),
    ("updatedDate", "s.updated", "date"),
    ("registeredDate", "s.created", "date"),
    ("lastMembershipChange", "s.last_membership_change", "date"),
    ("lastMembershipChangeBy", "s.last_membership_change_by", "associate"),
    (
        "memberCount",
        "CASE s.selection_type WHEN 'Static' THEN (SELECT COUNT(*) FROM selection_member m"
        " WHERE m.tenant = s.tenant AND m.selection_id = s.selection_id) ELSE -1 END",
        "int",
    ),
)

APPOINTMENT_COLUMNS = columns(
    ("appointmentId", "a.appointment_id", "int"),
    ("date", "a.start_date", "date"),
    ("endDate", "a.end_date", "date"),
    ("text", "a.title", "string"),
    ("description", "a.description", "string"),
    ("location", "a.location", "string"),
    ("associateId", "a.associate_id", "associate"),
    ("contactId", "a.contact_id", "int"),
    ("personId", "a.person_id", "int"),
    ("invitedPersonId", "a.invited_person_id", "int"),
    ("rawType", "a.raw_type", "int"),
    ("rawStatus", "a.raw_status", "int"),
    (
        "type",
        "CASE WHEN a.raw_type IN (6, 7) THEN 'Booking' ELSE 'Appointment' END",
        "list",
    ),
    ("booking", "a.raw_type IN (6, 7)", "bool"),
    ("completed", "a.raw_status = 3", "bool"),
    ("visibleInDiary", "a.raw_status != 9", "bool"),
    ("updatedDate", "a.updated", "date"),
    ("registeredDate", "a.created", "date"),
    ("contact/contactId", "c.contact_id", "int"),
    ("contact/name", "c.name", "string"),
    ("person/personId", "p.person_id", "int"),
    ("person/firstName", "p.first_name", "string"),
    ("person/lastName", "p.last_name", "string"),
    ("person/fullName", FULL_NAME_SQL, "string"),
    ("person/retired", "p.retired", "bool"),
)

BOOKING_OF_APPOINTMENT = (
    "(a.appointment_id = {value} OR (a.mother_id != 0 AND a.mother_id = (SELECT x.mother_id"
    " FROM appointment x WHERE x.tenant = a.tenant AND x.appointment_id = {value})))"
)

PARTICIPANT_COLUMNS = {
    **columns(
        ("participantAssociateId", "a.associate_id", "int"),
        ("participantPersonId", "COALESCE(p.person_id, 0)", "int"),
        ("associateDbId", "a.associate_id", "int"),
        ("personId", "COALESCE(p.person_id, 0)", "int"),
        ("contactId", "COALESCE(p.contact_id, 0)", "int"),
        ("firstName", "p.first_name", "string"),
        ("lastName", "p.last_name", "string"),
        ("fullName", FULL_NAME_SQL, "string"),
        ("mrMrs", "p.mrmrs", "string"),
        ("title", "p.job_title", "string"),
        ("retired", "p.retired", "bool"),
        ("personEmail", "p.email", "string"),
        ("email/emailAddress", "p.email", "string"),
        ("contactName", "c.name", "string"),
        ("status", "a.invitation_status", "list"),
    ),
    "appointmentrestrictionid": Column(
        name="appointmentRestrictionId",
        sql="a.appointment_id",
        kind="int",
        restriction_sql=BOOKING_OF_APPOINTMENT,
    ),
}


@dataclass(frozen=True)
class ArchiveProvider:
    name: str
    from_sql: str
    where_sql: str
    columns: Mapping[str, Column]
    primary_key_sql: str
    entity_sql: str
    entities: Mapping[str, str]
    default_select: tuple[str, ...]
    tiebreak_sql: str = ""
    required_restriction: str | None = None
    description: str = ""


PERSON_FROM = "person p JOIN contact c ON c.tenant = p.tenant AND c.contact_id = p.contact_id"

PERSON_ARCHIVE = ArchiveProvider(
    name="Person",
    from_sql=PERSON_FROM,
    where_sql="p.tenant = :tenant",
    columns=PERSON_COLUMNS,
    primary_key_sql="p.person_id",
    entity_sql="CASE WHEN p.retired THEN 'retiredPerson' ELSE 'person' END",
    entities={"person": "p.retired = 0", "retiredperson": "p.retired = 1"},
    default_select=("personId", "fullName", "contactId", "personContact/name", "retired"),
    description="Persons (contacts); entities person and retiredPerson (former employees).",
)

PERSON_FAVOURITES = ArchiveProvider(
    name="personfavourites",
    from_sql=(
        "favourite f JOIN person p ON p.tenant = f.tenant AND p.person_id = f.record_id"
        " JOIN contact c ON c.tenant = p.tenant AND c.contact_id = p.contact_id"
    ),
    where_sql="f.tenant = :tenant AND f.table_name = 'person'",
    columns={
        **PERSON_COLUMNS,
        **columns(
            ("favouriteAssociateId", "f.associate_id", "associate"),
            ("text", FULL_NAME_SQL, "string"),
        ),
    },
    primary_key_sql="p.person_id",
    entity_sql="'person'",
    entities={"person": "1 = 1"},
    default_select=("personId", "fullName", "contactId", "retired"),
    tiebreak_sql="f.associate_id",
    description="Favourite persons; restrict with favouriteAssociateId.",
)

CONTACT_FAVOURITES = ArchiveProvider(
    name="contactfavourites",
    from_sql="favourite f JOIN contact c ON c.tenant = f.tenant AND c.contact_id = f.record_id",
    where_sql="f.tenant = :tenant AND f.table_name = 'contact'",
    columns={
        **CONTACT_COLUMNS,
        **columns(("favouriteAssociateId", "f.associate_id", "associate")),
    },
    primary_key_sql="c.contact_id",
    entity_sql="'contact'",
    entities={"contact": "1 = 1"},
    default_select=("contactId", "name", "department"),
    tiebreak_sql="f.associate_id",
    description="Favourite companies; restrict with favouriteAssociateId.",
)

STATIC_SELECTION_MEMBERS = ArchiveProvider(
    name="ContactPersonStaticSelectionV2",
    from_sql=(
        "selection_member m JOIN selection s ON s.tenant = m.tenant"
        " AND s.selection_id = m.selection_id"
        " JOIN contact c ON c.tenant = m.tenant AND c.contact_id = m.contact_id"
        " LEFT JOIN person p ON p.tenant = m.tenant AND p.person_id = m.person_id"
        " AND m.person_id != 0"
    ),
    where_sql=(
        "m.tenant = :tenant AND s.selection_type = 'Static' AND s.target_table_number IN (5, 6)"
    ),
    columns={
        **columns(
            ("selectionId", "m.selection_id", "int"),
            ("selectionMemberId", "m.member_id", "int"),
        ),
        **CONTACT_COLUMNS,
        **SELECTION_PERSON_COLUMNS,
    },
    primary_key_sql="m.member_id",
    entity_sql="CASE WHEN m.person_id = 0 THEN 'staticContact' ELSE 'staticPerson' END",
    entities={"staticcontact": "m.person_id = 0", "staticperson": "m.person_id != 0"},
    default_select=("selectionMemberId", "contactId", "name", "personId", "fullName"),
    required_restriction="selectionId",
    description="Members of static company/person selections; restrict with selectionId.",
)

FIND_SELECTION = ArchiveProvider(
    name="FindSelection",
    from_sql="selection s",
    where_sql="s.tenant = :tenant",
    columns=SELECTION_KIND_COLUMNS,
    primary_key_sql="s.selection_id",
    entity_sql="'selection'",
    entities={"selection": "1 = 1"},
    default_select=("selectionId", "name", "kind", "targetTableNumber", "memberCount"),
    description="Selections; find one by name with name is '…'.",
)

FIND_APPOINTMENT = ArchiveProvider(
    name="FindAppointment",
    from_sql=(
        "appointment a LEFT JOIN contact c ON c.tenant = a.tenant AND c.contact_id = a.contact_id"
        " LEFT JOIN person p ON p.tenant = a.tenant AND p.person_id = a.person_id"
    ),
    where_sql="a.tenant = :tenant",
    columns=APPOINTMENT_COLUMNS,
    primary_key_sql="a.appointment_id",
    entity_sql="'appointment'",
    entities={"appointment": "1 = 1"},
    default_select=("appointmentId", "date", "endDate", "text", "associateId", "personId"),
    description="Appointments (diary rows); restrict with associateId and date.",
)

PARTICIPANTS = ArchiveProvider(
    name="Participants",
    from_sql=(
        "appointment a LEFT JOIN associate s ON s.tenant = a.tenant"
        " AND s.associate_id = a.associate_id AND a.associate_id != 0"
        " LEFT JOIN person p ON p.tenant = a.tenant AND p.person_id ="
        " CASE WHEN a.associate_id != 0 THEN s.person_id ELSE a.invited_person_id END"
        " LEFT JOIN contact c ON c.tenant = p.tenant AND c.contact_id = p.contact_id"
    ),
    where_sql="a.tenant = :tenant",
    columns=PARTICIPANT_COLUMNS,
    primary_key_sql="a.appointment_id",
    entity_sql="CASE WHEN a.associate_id != 0 THEN 'associate' ELSE 'externalPerson' END",
    entities={"associate": "a.associate_id != 0", "externalperson": "a.associate_id = 0"},
    default_select=("participantAssociateId", "participantPersonId", "fullName", "status"),
    required_restriction="appointmentRestrictionId",
    description="Participants of one booking; restrict with appointmentRestrictionId = id.",
)

ALL_USERS = ArchiveProvider(
    name="AllUsers",
    from_sql=("associate s JOIN contact c ON c.tenant = s.tenant AND c.contact_id = s.contact_id"),
    where_sql="s.tenant = :tenant",
    columns=ASSOCIATE_COLUMNS,
    primary_key_sql="s.associate_id",
    entity_sql="'associate'",
    entities={"all": "1 = 1", "expired": "s.is_active = 0"},
    default_select=("associateDbId", "fullName", "userName", "personEmail", "isActive"),
    description="All users (associates) of the tenant, active or not.",
)

PROVIDERS: dict[str, ArchiveProvider] = {
    provider.name.lower(): provider
    for provider in (
        PERSON_ARCHIVE,
        PERSON_FAVOURITES,
        CONTACT_FAVOURITES,
        STATIC_SELECTION_MEMBERS,
        FIND_SELECTION,
        FIND_APPOINTMENT,
        PARTICIPANTS,
        ALL_USERS,
    )
}


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

        mode = lowered.get("$mode", "slim").strip().lower() or "slim"
        if mode != "slim":
            raise FilterError("The sandbox answers $mode=Slim only")
        return cls(
            select=lowered.get("$select", ""),
            filter=lowered.get("$filter", ""),
            order_by=lowered.get("$orderby", ""),
            entities=lowered.get("$entities", ""),
            top=number("$top"),
            skip=number("$skip") or 0,
            json_safe=lowered.get("$jsonsafe", "").lower() == "true",
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


def resolve_column(*, provider: ArchiveProvider, name: str) -> Column:
    column = provider.columns.get(name.lower())
    if column is None or not column.selectable:
        raise FilterError(f"Unknown column {name!r} in archive provider {provider.name!r}")
    return column


def order_clause(*, provider: ArchiveProvider, text: str) -> str:
    parts = []
    for item in split_names(text=text):
        words = item.split()
        if len(words) > 2 or (len(words) == 2 and words[1].lower() not in {"asc", "desc"}):
            raise FilterError(f"Cannot read the sort order {item!r}")
        column = resolve_column(provider=provider, name=words[0])
        direction = "DESC" if len(words) == 2 and words[1].lower() == "desc" else "ASC"
        expression = f"so_fold({column.sql})" if column.kind in {"string", "list"} else column.sql
        parts.append(f"{expression} {direction}")
    parts.append(f"{provider.primary_key_sql} ASC")
    if provider.tiebreak_sql:
        parts.append(f"{provider.tiebreak_sql} ASC")
    return ", ".join(parts)


def entity_clause(*, provider: ArchiveProvider, text: str) -> str:
    names = split_names(text=text)
    if not names:
        return "1 = 1"
    conditions = []
    for name in names:
        condition = provider.entities.get(name.lower())
        if condition is None:
            known = ", ".join(provider.entities)
            raise FilterError(f"Unknown entity {name!r} for {provider.name!r} (known: {known})")
        conditions.append(f"({condition})")
    return " OR ".join(conditions)


def associate_logins(*, database: Database, tenant: str) -> dict[int, str]:
    rows = database.query("SELECT associate_id, login FROM associate WHERE tenant = ?", (tenant,))
    return {int(row["associate_id"]): str(row["login"]) for row in rows}


def output_value(*, kind: ColumnKind, raw: Any, logins: Mapping[int, str]) -> Any:
    if kind in {"int"}:
        return int(raw) if raw is not None else 0
    if kind == "bool":
        return bool(raw)
    if kind == "associate":
        return logins.get(int(raw), "") if raw else ""
    if kind in {"date", "datetime"}:
        return raw
    return "" if raw is None else str(raw)


def run_archive(
    *,
    database: Database,
    provider: ArchiveProvider,
    query: ArchiveQuery,
    scope: ArchiveScope,
    page_url: str,
) -> dict[str, Any]:
    """Answer one archive request in SuperOffice's slim OData shape."""
    selected = [
        resolve_column(provider=provider, name=name)
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
    values = []
    for row in rows[:page_size]:
        item: dict[str, Any] = {"PrimaryKey": str(row["pk"]), "EntityName": row["entity"]}
        for index, column in enumerate(selected):
            key = column.name
            if query.json_safe:
                key = key.replace("/", "_").replace(":", "_")
            item[key] = output_value(kind=column.kind, raw=row[f"c{index}"], logins=logins)
        values.append(item)
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


def provider_list() -> dict[str, str]:
    return {provider.name: provider.description for provider in PROVIDERS.values()}
