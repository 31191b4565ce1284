"""The sandbox's archive providers as data: the SQL each reads from, its columns, its
entities. Every column is one SuperOffice documents for that provider
(``sandbox.documented``): its restriction type decides the ``$filter`` operators, its
OrderBy mark whether ``$orderBy`` may use it; a column the pages do not list, or list
with another type, stops the sandbox at import. ``sandbox.archives`` runs queries on them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sandbox import documented
from sandbox.filters import Column, ColumnKind

# Swagger enums whose ordinals are the sandbox's list ids (SelectionEntity.SelectionType,
# SelectionUnionType, Associate.Type), with the display text of each.
SELECTION_TYPES = (("Static", "Static"), ("Dynamic", "Dynamic"), ("Combined", "Combined"))
SELECTION_UNION_TYPES = (
    ("Unknown", ""),
    ("SubtractRightFromLeft", "SubtractRightFromLeft"),
    ("SubtractLeftFromRight", "SubtractLeftFromRight"),
    ("Intersect", "Intersect"),
    ("XOR", "XOR"),
    ("Union", "Union"),
)
USER_TYPES = (
    ("Unknown", ""),
    ("InternalAssociate", "User"),
    ("ResourceAssociate", "Resource"),
    ("ExternalAssociate", "External user"),
    ("AnonymousAssociate", "Anonymous"),
    ("SystemAssociate", "System user"),
)


def enum_id_sql(*, expression: str, members: Sequence[tuple[str, str]]) -> str:
    """The stored enum name as its ordinal in SuperOffice's Swagger enum."""
    cases = " ".join(f"WHEN '{name}' THEN {index}" for index, (name, _) in enumerate(members))
    return f"(CASE {expression} {cases} ELSE 0 END)"


def enum_text_sql(*, expression: str, members: Sequence[tuple[str, str]]) -> str:
    cases = " ".join(f"WHEN '{name}' THEN '{text}'" for name, text in members)
    return f"(CASE {expression} {cases} ELSE '' END)"


@dataclass(frozen=True)
class Spec:
    """A column as the sandbox computes it, before the provider's documented facts join it."""

    name: str
    sql: str
    kind: ColumnKind
    display_sql: str | None = None
    restriction_sql: str | None = None


def spec(name: str, sql: str, kind: ColumnKind, display_sql: str | None = None) -> Spec:
    return Spec(name=name, sql=sql, kind=kind, display_sql=display_sql)


def document(*, provider: str, specs: Sequence[Spec]) -> dict[str, Column]:
    """Columns keyed lower-case, with the restriction type and sort mark SuperOffice lists."""
    found: dict[str, Column] = {}
    for item in specs:
        facts = documented.documented_column(provider=provider, name=item.name)
        allowed = documented.KIND_RESTRICTIONS[item.kind]
        if facts.restriction is not None and facts.restriction not in allowed:
            raise documented.UndocumentedError(
                f"{provider}.{item.name} is documented as {facts.restriction}, not {item.kind}"
            )
        found[item.name.lower()] = Column(
            name=item.name,
            sql=item.sql,
            kind=item.kind,
            restriction=facts.restriction,
            sortable=facts.sortable,
            display_sql=item.display_sql,
            restriction_sql=item.restriction_sql,
        )
    return found


# A company's street address (SuperOffice's StructuredAddress): the archive's part names
# and the contact table's columns.
STREET_ADDRESS_PARTS = (
    ("line1", "street_line1"),
    ("line2", "street_line2"),
    ("line3", "street_line3"),
    ("zip", "street_zip"),
    ("city", "street_city"),
    ("county", "street_county"),
    ("state", "street_state"),
)


def street_address_specs(*, prefix: str) -> tuple[Spec, ...]:
    """``{prefix}streetAddress/line1`` … of the company joined as ``c``."""
    return tuple(
        spec(f"{prefix}streetAddress/{part}", f"c.{column}", "string")
        for part, column in STREET_ADDRESS_PARTS
    )


FULL_NAME_SQL = (
    "TRIM(p.first_name || CASE WHEN p.middle_name != '' THEN ' ' || p.middle_name ELSE '' END"
    " || ' ' || p.last_name)"
)

# A person's own columns, in every archive that lists persons.
PERSON_OWN_SPECS = (
    spec("firstName", "p.first_name", "string"),
    spec("lastName", "p.last_name", "string"),
    spec("middleName", "p.middle_name", "string"),
    spec("fullName", FULL_NAME_SQL, "string"),
    spec("mrMrs", "p.mrmrs", "string"),
    spec("title", "p.job_title", "string"),
    spec("birthdate", "p.birth_date", "date"),
    spec("birthYear", "CAST(substr(p.birth_date, 1, 4) AS INTEGER)", "int"),
    spec("birthMonth", "CAST(substr(p.birth_date, 6, 2) AS INTEGER)", "int"),
    spec("birthDay", "CAST(substr(p.birth_date, 9, 2) AS INTEGER)", "int"),
    spec("retired", "p.retired", "bool"),
    spec("personUpdatedDate", "p.updated", "date"),
    spec("personDirectPhone/formattedNumber", "p.office_phone", "string"),
    spec("personMobilePhone/formattedNumber", "p.mobile_phone", "string"),
    spec("personPrivate/formattedNumber", "p.private_phone", "string"),
)

PERSON_SPECS = (
    spec("personId", "p.person_id", "int"),
    *PERSON_OWN_SPECS,
    spec("contactId", "p.contact_id", "int"),
    spec("position", "p.position_id", "list", display_sql="p.position"),
    spec("personNumber", "p.person_number", "string"),
    spec("hasCompany", "p.contact_id != 0", "bool"),
    spec("personUpdatedBy", "p.updated_by", "associate"),
    spec("personRegisteredDate", "p.created", "date"),
    spec("personAssociateId", "p.associate_id", "associate"),
    spec("email/emailAddress", "p.email", "string"),
    spec("personContact/contactId", "c.contact_id", "int"),
    spec("personContact/name", "c.name", "string"),
    spec("personContact/department", "c.department", "string"),
    spec("personContact/orgnr", "c.orgnr", "string"),
    *street_address_specs(prefix="personContact/"),
)

CONTACT_SPECS = (
    spec("contactId", "c.contact_id", "int"),
    spec("name", "c.name", "string"),
    spec("department", "c.department", "string"),
    spec("orgnr", "c.orgnr", "string"),
    spec("associateId", "c.associate_id", "associate"),
    # The sandbox keeps category and country as text only: no list ids (README).
    spec("category", "c.category", "list"),
    spec("country", "c.country_name", "list"),
    spec("updatedDate", "c.updated", "date"),
    spec("registeredDate", "c.created", "date"),
    spec("email/emailAddress", "c.email", "string"),
    spec("phone/formattedNumber", "c.phone", "string"),
    spec("postAddress/city", "c.city", "string"),
    *street_address_specs(prefix=""),
    spec("contactDeleted", "c.deleted", "bool"),
)

# Person columns of a static selection's members; company-only rows have no person.
SELECTION_PERSON_SPECS = (
    spec("personId", "COALESCE(p.person_id, 0)", "int"),
    *PERSON_OWN_SPECS,
    spec("position", "COALESCE(p.position_id, 0)", "list", display_sql="p.position"),
    spec("personEmail/emailAddress", "p.email", "string"),
)

ASSOCIATE_SPECS = (
    spec("associateDbId", "s.associate_id", "associate"),
    spec("assocName", "s.associate_id", "associate"),
    spec("firstName", "s.first_name", "string"),
    spec("lastName", "s.last_name", "string"),
    spec("middleName", "''", "string"),
    spec("fullName", "s.first_name || ' ' || s.last_name", "string"),
    spec("personId", "s.person_id", "int"),
    spec("contactId", "s.contact_id", "int"),
    spec("contactName", "c.name", "string"),
    spec("contactDepartment", "c.department", "string"),
    spec("userName", "s.user_name", "string"),
    spec("personEmail", "s.email", "string"),
    spec("isActive", "s.is_active", "bool"),
    spec("canLogin", "s.is_active", "bool"),
    spec(
        "assocType",
        enum_id_sql(expression="s.user_type", members=USER_TYPES),
        "list",
        display_sql=enum_text_sql(expression="s.user_type", members=USER_TYPES),
    ),
    spec("role", "s.role_name", "list"),
)

SELECTION_SPECS = (
    spec("selectionId", "s.selection_id", "int"),
    spec("name", "s.name", "string"),
    spec(
        "kind",
        enum_id_sql(expression="s.selection_type", members=SELECTION_TYPES),
        "list",
        display_sql="s.selection_type",
    ),
    spec(
        "targetTableNumber",
        "s.target_table_number",
        "list",
        display_sql="s.target_table_name",
    ),
    spec("associateId", "s.associate_id", "associate"),
    spec(
        "combinationType",
        enum_id_sql(expression="s.union_type", members=SELECTION_UNION_TYPES),
        "list",
        display_sql=enum_text_sql(expression="s.union_type", members=SELECTION_UNION_TYPES),
    ),
    spec("done", "0", "bool"),
    spec("updatedDate", "s.updated", "date"),
    spec("registeredDate", "s.created", "date"),
    spec("lastMembershipChange", "s.last_membership_change", "date"),
    spec("lastMembershipChangeBy", "s.last_membership_change_by", "associate"),
    spec(
        "memberCount",
        "CASE s.selection_type WHEN 'Static' THEN (SELECT COUNT(*) FROM selection_member m"
        " WHERE m.tenant = s.tenant AND m.selection_id = s.selection_id) ELSE -1 END",
        "int",
    ),
)

APPOINTMENT_SPECS = (
    spec("appointmentId", "a.appointment_id", "int"),
    spec("date", "a.start_date", "date"),
    spec("endDate", "a.end_date", "date"),
    spec("text", "a.title", "string"),
    spec("location", "a.location", "string"),
    spec("associateId", "a.associate_id", "associate"),
    # Documented as lists (listAny): the id, displayed as the company's / person's name.
    spec("contactId", "a.contact_id", "list", display_sql="c.name"),
    spec("personId", "a.person_id", "list", display_sql=FULL_NAME_SQL),
    spec("invitedPersonId", "a.invited_person_id", "int"),
    spec("rawType", "a.raw_type", "int"),
    spec("rawStatus", "a.raw_status", "int"),
    # SuperOffice's list here is the task type; the sandbox has none, so its id is the
    # appointment type number (Swagger AppointmentType ordinal, as rawType).
    spec(
        "type",
        "a.raw_type",
        "list",
        display_sql="CASE WHEN a.raw_type IN (6, 7) THEN 'Booking' ELSE 'Appointment' END",
    ),
    spec("booking", "a.raw_type IN (6, 7)", "bool"),
    spec("completed", "a.raw_status = 3", "bool"),
    spec("visibleInDiary", "a.raw_status != 9", "bool"),
    spec("updatedDate", "a.updated", "date"),
    spec("registeredDate", "a.created", "date"),
    spec("contact/contactId", "c.contact_id", "int"),
    spec("contact/name", "c.name", "string"),
    spec("person/personId", "p.person_id", "int"),
    spec("person/firstName", "p.first_name", "string"),
    spec("person/lastName", "p.last_name", "string"),
    spec("person/fullName", FULL_NAME_SQL, "string"),
    spec("person/retired", "p.retired", "bool"),
)

BOOKING_OF_APPOINTMENT = (
    "(a.appointment_id = {value} OR (a.mother_id != 0 AND a.mother_id = (SELECT x.mother_id"
    " FROM appointment x WHERE x.tenant = a.tenant AND x.appointment_id = {value})))"
)

PARTICIPANT_SPECS = (
    spec("participantAssociateId", "a.associate_id", "int"),
    spec("participantPersonId", "COALESCE(p.person_id, 0)", "int"),
    spec("associateDbId", "a.associate_id", "associate"),
    spec("personId", "COALESCE(p.person_id, 0)", "int"),
    spec("contactId", "COALESCE(p.contact_id, 0)", "int"),
    spec("firstName", "p.first_name", "string"),
    spec("lastName", "p.last_name", "string"),
    spec("fullName", FULL_NAME_SQL, "string"),
    spec("mrMrs", "p.mrmrs", "string"),
    spec("title", "p.job_title", "string"),
    spec("retired", "p.retired", "bool"),
    spec("personEmail", "p.email", "string"),
    spec("email/emailAddress", "p.email", "string"),
    spec("contactName", "c.name", "string"),
    # No restriction type in SuperOffice's page: shown as text, never filtered.
    spec("status", "a.invitation_status", "string"),
    Spec(
        name="appointmentRestrictionId",
        sql="a.appointment_id",
        kind="int",
        restriction_sql=BOOKING_OF_APPOINTMENT,
    ),
)


@dataclass(frozen=True)
class ArchiveProvider:
    name: str
    from_sql: str
    where_sql: str
    specs: Sequence[Spec]
    primary_key_sql: str
    entity_sql: str
    entities: Mapping[str, str]
    default_select: tuple[str, ...]
    tiebreak_sql: str = ""
    required_restriction: str | None = None
    description: str = ""
    columns: Mapping[str, Column] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", document(provider=self.name, specs=self.specs))
        listed = {name.lower() for name in documented.documented_entities(provider=self.name)}
        if unlisted := set(self.entities) - listed:
            raise documented.UndocumentedError(f"{self.name} does not document {unlisted}")


PERSON_FROM = "person p JOIN contact c ON c.tenant = p.tenant AND c.contact_id = p.contact_id"

PERSON_ARCHIVE = ArchiveProvider(
    name="Person",
    from_sql=PERSON_FROM,
    where_sql="p.tenant = :tenant",
    specs=PERSON_SPECS,
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
    specs=(
        *PERSON_SPECS,
        spec("favouriteAssociateId", "f.associate_id", "associate"),
        spec("text", FULL_NAME_SQL, "string"),
    ),
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
    specs=(*CONTACT_SPECS, spec("favouriteAssociateId", "f.associate_id", "associate")),
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
    specs=(
        spec("selectionId", "m.selection_id", "int"),
        spec("selectionMemberId", "m.member_id", "int"),
        *CONTACT_SPECS,
        *SELECTION_PERSON_SPECS,
    ),
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
    specs=SELECTION_SPECS,
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
    specs=APPOINTMENT_SPECS,
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
    specs=PARTICIPANT_SPECS,
    primary_key_sql="a.appointment_id",
    entity_sql="CASE WHEN a.associate_id != 0 THEN 'associate' ELSE 'externalPerson' END",
    # The sandbox books no resources and invites nobody by e-mail address alone.
    entities={
        "associate": "a.associate_id != 0",
        "externalperson": "a.associate_id = 0",
        "resource": "1 = 0",
        "emailparticipant": "1 = 0",
    },
    default_select=("participantAssociateId", "participantPersonId", "fullName", "status"),
    required_restriction="appointmentRestrictionId",
    description="Participants of one booking; restrict with appointmentRestrictionId = id.",
)

ALL_USERS = ArchiveProvider(
    name="AllUsers",
    from_sql=("associate s JOIN contact c ON c.tenant = s.tenant AND c.contact_id = s.contact_id"),
    where_sql="s.tenant = :tenant",
    specs=ASSOCIATE_SPECS,
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
