"""REST entities in SuperOffice's shapes (Swagger v1 definitions), built from storage rows.

Field names follow the Swagger definitions exactly (``Firstname``, ``Mrmrs``,
``EMailAddress`` …). Value-typed fields (numbers, booleans, dates) are never null, as in
.NET; a missing date is ``0001-01-01T00:00:00`` (SuperOffice's "no date"). Reference-typed
fields (text, nested carriers) may be null where SuperOffice leaves them empty.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sandbox.storage import Database

NO_DATE = "0001-01-01T00:00:00"
FULL_TABLE_RIGHT = {"Mask": "Select, Update, Insert, Delete, Filtering", "Reason": ""}
READ_TABLE_RIGHT = {"Mask": "Select, Filtering", "Reason": ""}


def full_name(*, first: str, middle: str, last: str) -> str:
    return " ".join(part for part in (first, middle, last) if part)


def element(*, value: str, description: str) -> dict[str, Any]:
    """An ``EntityElement`` (e-mail, phone, url); the stripped value keeps digits and '+'."""
    stripped = (
        "".join(ch for ch in value if ch.isdigit() or ch == "+") if "@" not in value else value
    )
    return {
        "Value": value,
        "StrippedValue": stripped,
        "Description": description,
        "TableRight": None,
        "FieldProperties": {},
    }


def elements(*, value: str, description: str) -> list[dict[str, Any]]:
    return [element(value=value, description=description)] if value else []


def associate_row(*, database: Database, tenant: str, associate_id: int) -> sqlite3.Row | None:
    return database.query_one(
        "SELECT * FROM associate WHERE tenant = ? AND associate_id = ?", (tenant, associate_id)
    )


def associate_carrier(
    *, database: Database, tenant: str, associate_id: int
) -> dict[str, Any] | None:
    """``SuperOffice.CRM.Services.Associate``; null for "no associate" (id 0)."""
    row = associate_row(database=database, tenant=tenant, associate_id=associate_id)
    if row is None:
        return None
    name = full_name(first=row["first_name"], middle="", last=row["last_name"])
    return {
        "AssociateId": row["associate_id"],
        "Name": row["login"],
        "PersonId": row["person_id"],
        "Rank": row["associate_id"],
        "Tooltip": name,
        "Type": row["user_type"],
        "GroupIdx": row["group_id"],
        "FullName": name,
        "FormalName": name,
        "Deleted": not bool(row["is_active"]),
        "EjUserId": 0,
        "UserName": row["user_name"],
        "ExtraFields": {},
        "CustomFields": {},
        "TableRight": None,
        "FieldProperties": {},
    }


def principal_carrier(
    *, database: Database, tenant: str, associate_id: int
) -> dict[str, Any] | None:
    """``SoPrincipalCarrier`` for ``User/currentPrincipal``."""
    row = associate_row(database=database, tenant=tenant, associate_id=associate_id)
    if row is None:
        return None
    administrator = bool(row["is_administrator"])
    rights = ["admin-all", "allow-bulk-update"] if administrator else []
    return {
        "UserType": row["user_type"],
        "Associate": row["login"],
        "AssociateId": row["associate_id"],
        "IsPerson": True,
        "PersonId": row["person_id"],
        "CountryId": 0,
        "HomeCountryId": 0,
        "ContactId": row["contact_id"],
        "GroupId": row["group_id"],
        "BusinessId": 0,
        "CategoryId": 0,
        "ContactOwner": row["associate_id"],
        "RoleId": 1 if administrator else 2,
        "RoleName": row["role_name"],
        "RoleDescription": row["role_name"],
        "RoleType": "Employee",
        "Licenses": [],
        "FullName": full_name(first=row["first_name"], middle="", last=row["last_name"]),
        "EMailAddress": row["email"],
        "FunctionRights": rights,
        "EjUserId": 0,
        "EjAccessLevel": 0,
        "EjUserStatus": "StatusNone",
        "ProvidedCredentials": [],
        "SecondaryGroups": [],
        "DatabaseContextIdentifier": tenant,
        "UserName": row["user_name"],
    }


def formatted_address(*, lines: list[str], zip_code: str, city: str) -> str:
    """One line, as SuperOffice's Formatted fields show an address: street, postcode city."""
    return ", ".join(part for part in (*lines, f"{zip_code} {city}".strip()) if part)


def structured_address(
    *,
    kind: str,
    lines: tuple[str, str, str],
    zip_code: str,
    city: str,
    county: str = "",
    state: str = "",
) -> dict[str, Any]:
    """``SuperOffice.CRM.Services.StructuredAddress``."""
    return {
        "AtypeIdx": kind,
        "Address1": lines[0],
        "Address2": lines[1],
        "Address3": lines[2],
        "City": city,
        "County": county,
        "State": state,
        "Zipcode": zip_code,
        "Formatted": formatted_address(lines=list(lines), zip_code=zip_code, city=city),
    }


def company_address(*, contact: sqlite3.Row) -> dict[str, Any]:
    """``SuperOffice.CRM.Services.Address`` of a company: its street address and its post
    address (the sandbox keeps only the post address's city)."""
    street = structured_address(
        kind="ContactStreetAddress",
        lines=(contact["street_line1"], contact["street_line2"], contact["street_line3"]),
        zip_code=contact["street_zip"],
        city=contact["street_city"],
        county=contact["street_county"],
        state=contact["street_state"],
    )
    postal = structured_address(
        kind="ContactPostalAddress", lines=("", "", ""), zip_code="", city=contact["city"]
    )
    return {
        "Wgs84Latitude": 0.0,
        "Wgs84Longitude": 0.0,
        "LocalizedAddress": [],
        "Street": street,
        "Postal": postal,
        "Formatted": street["Formatted"] or postal["Formatted"],
        "TableRight": None,
        "FieldProperties": {},
    }


def contact_summary(*, contact: sqlite3.Row) -> dict[str, Any]:
    """``SuperOffice.CRM.Services.Contact``: the company as nested in a person."""
    name = contact["name"]
    department = contact["department"]
    address = company_address(contact=contact)
    return {
        "ContactId": contact["contact_id"],
        "Name": name,
        "OrgNr": contact["orgnr"],
        "Department": department,
        "URL": contact["url"],
        "City": contact["city"],
        "DirectPhone": contact["phone"],
        "AssociateId": contact["associate_id"],
        "CountryId": 0,
        "EmailAddress": contact["email"],
        "Kananame": "",
        "EmailAddressName": "",
        "URLName": "",
        "AssociateFullName": "",
        "BusinessName": "",
        "CategoryName": contact["category"],
        "CountryName": contact["country_name"],
        "Address": address,
        "FormattedAddress": address["Formatted"],
        "FullName": f"{name} {department}".strip(),
        "IsOwnerContact": contact["contact_id"] == 1,
        "ActiveErpLinks": 0,
        "Number1": "",
        "Number2": "",
        "TableRight": None,
        "FieldProperties": {},
    }


def flat_person(*, person: sqlite3.Row, contact: sqlite3.Row | None) -> dict[str, Any]:
    """``SuperOffice.CRM.Services.Person``: the flat person nested in contacts and appointments."""
    return {
        "Position": person["position"],
        "PersonId": person["person_id"],
        "Mrmrs": person["mrmrs"],
        "Firstname": person["first_name"],
        "Lastname": person["last_name"],
        "MiddleName": person["middle_name"],
        "Title": person["job_title"],
        "Description": "",
        "Email": person["email"],
        "FullName": full_name(
            first=person["first_name"], middle=person["middle_name"], last=person["last_name"]
        ),
        "DirectPhone": person["office_phone"],
        "FormalName": full_name(first=person["mrmrs"], middle="", last=person["last_name"]),
        "CountryId": 0,
        "ContactId": person["contact_id"],
        "ContactName": contact["name"] if contact else "",
        "Retired": int(person["retired"]),
        "Rank": 0,
        "ActiveInterests": 0,
        "ContactDepartment": contact["department"] if contact else "",
        "ContactCountryId": 0,
        "ContactOrgNr": contact["orgnr"] if contact else "",
        "FaxPhone": "",
        "MobilePhone": person["mobile_phone"],
        "ContactPhone": contact["phone"] if contact else "",
        "AssociateName": "",
        "AssociateId": person["associate_id"],
        "UsePersonAddress": False,
        "ContactFax": "",
        "Kanafname": "",
        "Kanalname": "",
        "Post1": "",
        "Post2": "",
        "Post3": "",
        "EmailName": "",
        "ContactFullName": contact["name"] if contact else "",
        "ActiveErpLinks": 0,
        "TicketPriorityId": 0,
        "SupportLanguageId": 0,
        "SupportAssociateId": 0,
        "CategoryName": "",
        "PersonNumber": person["person_number"],
        "TableRight": None,
        "FieldProperties": {},
    }


def load_person(*, database: Database, tenant: str, person_id: int) -> sqlite3.Row | None:
    return database.query_one(
        "SELECT * FROM person WHERE tenant = ? AND person_id = ?", (tenant, person_id)
    )


def load_contact(*, database: Database, tenant: str, contact_id: int) -> sqlite3.Row | None:
    return database.query_one(
        "SELECT * FROM contact WHERE tenant = ? AND contact_id = ? AND deleted = 0",
        (tenant, contact_id),
    )


def person_entity(
    *, database: Database, tenant: str, person: sqlite3.Row, api_base: str
) -> dict[str, Any]:
    """``PersonEntityWithLinks`` for ``GET Person/{id}``."""
    contact = load_contact(database=database, tenant=tenant, contact_id=person["contact_id"])
    first, middle, last = person["first_name"], person["middle_name"], person["last_name"]
    person_id = person["person_id"]
    owner = associate_carrier(database=database, tenant=tenant, associate_id=person["associate_id"])
    updated_by = associate_carrier(
        database=database, tenant=tenant, associate_id=person["updated_by"]
    )
    return {
        "PersonId": person_id,
        "Firstname": first,
        "MiddleName": middle,
        "Lastname": last,
        "Mrmrs": person["mrmrs"],
        "Title": person["job_title"],
        "UpdatedDate": person["updated"],
        "CreatedDate": person["created"],
        "BirthDate": person["birth_date"] or NO_DATE,
        "CreatedBy": owner,
        "Emails": elements(value=person["email"], description=""),
        "Description": "",
        "IsAssociate": bool(person["is_associate"]),
        "PrivatePhones": elements(value=person["private_phone"], description="Private"),
        "Faxes": [],
        "MobilePhones": elements(value=person["mobile_phone"], description="Mobile"),
        "OfficePhones": elements(value=person["office_phone"], description="Direct"),
        "OtherPhones": [],
        "Position": {
            "Id": person["position_id"],
            "Value": person["position"],
            "Tooltip": person["position"],
            "TableRight": None,
            "FieldProperties": {},
        }
        if person["position"]
        else None,
        "UpdatedBy": updated_by,
        "Contact": contact_summary(contact=contact) if contact else None,
        "Country": None,
        "Interests": [],
        "PersonNumber": person["person_number"],
        "FullName": full_name(first=first, middle=middle, last=last),
        "NoMailing": False,
        "UsePersonAddress": False,
        "Retired": bool(person["retired"]),
        "Urls": [],
        "FormalName": full_name(first=person["mrmrs"], middle="", last=last),
        "Address": None,
        "Post3": "",
        "Post2": "",
        "Post1": "",
        "Kanalname": "",
        "Kanafname": "",
        "CorrespondingAssociate": None,
        "Category": None,
        "Business": None,
        "Associate": owner,
        "Salutation": "",
        "ActiveInterests": 0,
        "SupportAssociate": None,
        "TicketPriority": None,
        "CustomerLanguage": None,
        "DbiAgentId": 0,
        "DbiKey": "",
        "DbiLastModified": NO_DATE,
        "DbiLastSyncronized": NO_DATE,
        "SentInfo": 0,
        "ShowContactTickets": 0,
        "UserInfo": None,
        "ChatEmails": [],
        "InternetPhones": [],
        "Source": 0,
        "ActiveErpLinks": 0,
        "ShipmentTypes": [],
        "Consents": [],
        "BounceEmails": [],
        "ActiveStatusMonitorId": 0,
        "CreatedByFormId": 0,
        "UtmParameters": None,
        "LeadstatusId": 0,
        "Leadstatus": "",
        "UserDefinedFields": {},
        "ExtraFields": {},
        "CustomFields": {},
        "TableRight": FULL_TABLE_RIGHT,
        "FieldProperties": {},
        "_Links": {
            "Self": f"{api_base}v1/Person/{person_id}",
            "Archive": f"{api_base}v1/Person",
        },
    }


def persons_of_contact(*, database: Database, tenant: str, contact_id: int) -> list[sqlite3.Row]:
    return database.query(
        "SELECT * FROM person WHERE tenant = ? AND contact_id = ? ORDER BY person_id",
        (tenant, contact_id),
    )


def contact_entity(
    *, database: Database, tenant: str, contact: sqlite3.Row, api_base: str
) -> dict[str, Any]:
    """``ContactEntityWithLinks`` for ``GET Contact/{id}``."""
    contact_id = contact["contact_id"]
    owner = associate_carrier(
        database=database, tenant=tenant, associate_id=contact["associate_id"]
    )
    persons = persons_of_contact(database=database, tenant=tenant, contact_id=contact_id)
    return {
        "ContactId": contact_id,
        "Name": contact["name"],
        "Department": contact["department"],
        "OrgNr": contact["orgnr"],
        "Number1": "",
        "Number2": "",
        "UpdatedDate": contact["updated"],
        "CreatedDate": contact["created"],
        "Emails": elements(value=contact["email"], description=""),
        "Interests": [],
        "Urls": elements(value=contact["url"], description=""),
        "Phones": elements(value=contact["phone"], description="Phone"),
        "Faxes": [],
        "Description": "",
        "UpdatedBy": owner,
        "CreatedBy": owner,
        "Associate": owner,
        "Business": None,
        "Category": None,
        "Country": None,
        "Persons": [flat_person(person=person, contact=contact) for person in persons],
        "NoMailing": False,
        "Kananame": "",
        "Xstop": False,
        "ActiveInterests": 0,
        "GroupId": 1,
        "ActiveStatusMonitorId": 0,
        "SupportAssociate": None,
        "TicketPriority": None,
        "CustomerLanguage": None,
        "Deleted": int(contact["deleted"]),
        "DbiAgentId": 0,
        "DbiLastSyncronized": NO_DATE,
        "DbiKey": "",
        "DbiLastModified": NO_DATE,
        "SupportPerson": None,
        "Address": company_address(contact=contact),
        "Source": 0,
        "ActiveErpLinks": 0,
        "BounceEmails": [],
        "Domains": [contact["email"].split("@")[1]] if "@" in contact["email"] else [],
        "UtmParameters": None,
        "UserDefinedFields": {},
        "ExtraFields": {},
        "CustomFields": {},
        "TableRight": FULL_TABLE_RIGHT,
        "FieldProperties": {},
        "_Links": {
            "Self": f"{api_base}v1/Contact/{contact_id}",
            "Archive": f"{api_base}v1/Contact",
        },
    }


def static_member_count(*, database: Database, tenant: str, selection_id: int) -> int:
    return int(
        database.scalar(
            "SELECT COUNT(*) FROM selection_member WHERE tenant = ? AND selection_id = ?",
            (tenant, selection_id),
        )
    )


def selection_entity(
    *, database: Database, tenant: str, selection: sqlite3.Row, api_base: str
) -> dict[str, Any]:
    """``SelectionEntityWithLinks`` for ``GET Selection/{id}``."""
    selection_id = selection["selection_id"]
    owner = associate_carrier(
        database=database, tenant=tenant, associate_id=selection["associate_id"]
    )
    static = selection["selection_type"] == "Static"
    changed_by = associate_carrier(
        database=database, tenant=tenant, associate_id=selection["last_membership_change_by"]
    )
    return {
        "Description": selection["description"],
        "Postit": "",
        "Associate": owner,
        "CreatedBy": owner,
        "UpdatedBy": owner,
        "SelectionCategory": None,
        "GroupIdx": 1,
        "IncludePerson": 1,
        "MemberCount": (
            static_member_count(database=database, tenant=tenant, selection_id=selection_id)
            if static
            else -1
        ),
        "Name": selection["name"],
        "PostitTextId": 0,
        "CreatedDate": selection["created"],
        "SelectionId": selection_id,
        "SoundEx": "",
        "Source": 0,
        "TextId": 0,
        "UpdatedDate": selection["updated"],
        "UpdatedCount": 0,
        "Visibility": 0,
        "SelectionType": selection["selection_type"],
        "CompanyUnique": False,
        "TargetTableNumber": selection["target_table_number"],
        "TargetTableName": selection["target_table_name"],
        "Completed": False,
        "LeftSelectionId": selection["left_selection_id"],
        "RightSelectionId": selection["right_selection_id"],
        "SelectionUnionType": selection["union_type"],
        "MainProviderName": main_provider_name(selection=selection),
        "ShadowProviderName": "",
        "ChartKey": "",
        "LastLoaded": selection["updated"],
        "LastLoadedBy": selection["associate_id"],
        "LastLoadedByAssociate": owner,
        "LastMembershipChange": selection["last_membership_change"],
        "LastMembershipChangeBy": selection["last_membership_change_by"],
        "LastMembershipChangeByAssociate": changed_by,
        "MainHeading": selection["name"],
        "MemberTabHeading": "",
        "MailingsProviderName": "",
        "DashboardTileDefinitionId": 0,
        "VisibleFor": [
            {
                "VisibleId": 0,
                "Visibility": "All",
                "DisplayValue": "All",
                "TableRight": None,
                "FieldProperties": {},
            }
        ],
        "TableRight": FULL_TABLE_RIGHT,
        "FieldProperties": {},
        "_Links": {
            "Self": f"{api_base}v1/Selection/{selection_id}",
            "Members": f"{api_base}v1/Selection/{selection_id}/Members",
        },
    }


def main_provider_name(*, selection: sqlite3.Row) -> str:
    table = selection["target_table_name"]
    kind = selection["selection_type"]
    if table in {"contact", "person"}:
        return {
            "Static": "ContactPersonStaticSelectionV2",
            "Dynamic": "ContactPersonDynamicSelectionV2",
        }.get(kind, "ContactPersonCombinedSelectionV2")
    return f"{table.capitalize()}{kind}Selection"


APPOINTMENT_TYPES = {1: "inDiary", 2: "inChecklist", 6: "BookingForDiary", 7: "BookingForChecklist"}


def appointment_entity(
    *, database: Database, tenant: str, appointment: sqlite3.Row, api_base: str
) -> dict[str, Any]:
    """``AppointmentEntityWithLinks`` for ``GET Appointment/{id}``, participants included."""
    appointment_id = appointment["appointment_id"]
    owner = associate_carrier(
        database=database, tenant=tenant, associate_id=appointment["associate_id"]
    )
    contact = load_contact(database=database, tenant=tenant, contact_id=appointment["contact_id"])
    person = load_person(database=database, tenant=tenant, person_id=appointment["person_id"])
    invited = load_person(
        database=database, tenant=tenant, person_id=appointment["invited_person_id"]
    )
    mother_id = appointment["mother_id"]
    booking_rows = (
        database.query(
            "SELECT * FROM appointment WHERE tenant = ? AND mother_id = ? ORDER BY appointment_id",
            (tenant, mother_id),
        )
        if mother_id
        else []
    )
    participants = [
        participant_info(database=database, tenant=tenant, row=row) for row in booking_rows
    ]
    status = appointment["raw_status"]
    mother_row = next((row for row in booking_rows if row["appointment_id"] == mother_id), None)
    mother_associate = (
        associate_carrier(database=database, tenant=tenant, associate_id=mother_row["associate_id"])
        if mother_row is not None
        else None
    )
    return {
        "Associate": owner,
        "Contact": contact_summary(contact=contact) if contact else None,
        "CreatedBy": mother_associate or owner,
        "UpdatedBy": mother_associate or owner,
        "CreatedDate": appointment["created"],
        "AppointmentId": appointment_id,
        "Description": appointment["description"],
        "Title": appointment["title"],
        "Agenda": "",
        "InternalNotes": "",
        "StartDate": appointment["start_date"],
        "EndDate": appointment["end_date"],
        "InvitedPerson": (
            flat_person(
                person=invited,
                contact=load_contact(
                    database=database, tenant=tenant, contact_id=invited["contact_id"]
                ),
            )
            if invited
            else None
        ),
        "Person": flat_person(person=person, contact=contact) if person else None,
        "MotherId": mother_id,
        "Priority": None,
        "Private": "Public",
        "Project": None,
        "Type": APPOINTMENT_TYPES.get(appointment["raw_type"], "Unknown"),
        "UpdatedDate": appointment["updated"],
        "Completed": "Completed" if status == 3 else "NotStarted",
        "ActiveLinks": 0,
        "Links": [],
        "AlarmLeadTime": "00:00:00",
        "HasAlarm": False,
        "ColorIndex": 0,
        "IsFree": False,
        "IsAlldayEvent": False,
        "LagTime": "00:00:00",
        "LeadTime": "00:00:00",
        "Location": appointment["location"],
        "RejectCounter": 0,
        "RejectReason": "",
        "Recurrence": None,
        "Participants": participants,
        "AssignmentStatus": "None",
        "InvitationStatus": appointment["invitation_status"],
        "BookingType": appointment["booking_type"],
        "ActiveDate": appointment["start_date"],
        "HasConflict": False,
        "AssignedBy": None,
        "MotherAssociate": mother_associate,
        "Task": None,
        "PreferredTZLocation": 0,
        "PreferredTZLocationData": None,
        "Sale": None,
        "SuggestedAppointmentId": 0,
        "IsMileStone": False,
        "CautionWarning": "OK",
        "OwnedExternally": "None",
        "JoinVideomeetUrl": "",
        "CentralserviceVideomeetId": "",
        "UserDefinedFields": {},
        "ExtraFields": {},
        "CustomFields": {},
        "PublishEventDate": NO_DATE,
        "PublishTo": NO_DATE,
        "PublishFrom": NO_DATE,
        "IsPublished": False,
        "VisibleFor": [],
        "TableRight": FULL_TABLE_RIGHT,
        "FieldProperties": {},
        "_Links": {
            "Self": f"{api_base}v1/Appointment/{appointment_id}",
            "Participants": f"{api_base}v1/Appointment/{appointment_id}/Participants",
        },
    }


def participant_info(*, database: Database, tenant: str, row: sqlite3.Row) -> dict[str, Any]:
    """``ParticipantInfo``: an associate (own diary row) or an external person."""
    associate_id = row["associate_id"]
    if associate_id:
        associate = associate_row(database=database, tenant=tenant, associate_id=associate_id)
        person_id = associate["person_id"] if associate else 0
        contact_id = associate["contact_id"] if associate else 0
        email = associate["email"] if associate else ""
    else:
        person = load_person(database=database, tenant=tenant, person_id=row["invited_person_id"])
        person_id = row["invited_person_id"]
        contact_id = person["contact_id"] if person else 0
        email = person["email"] if person else ""
    return {
        "AssociateId": associate_id,
        "PersonId": person_id,
        "ContactId": contact_id,
        "EmailId": 0,
        "SendEmail": False,
        "InvitationStatus": row["invitation_status"],
        "EmailAddress": email,
        "Description": "",
        "ExternallyOwnedType": "Unknown",
        "ExternallyOwnedStatus": "Unknown",
    }


def error_body(*, error_type: str, message: str) -> dict[str, Any]:
    """SuperOffice's REST error JSON."""
    return {
        "Error": True,
        "ErrorType": error_type,
        "ErrorMessage": message,
        "ErrorSource": "SuperOffice.Services.Implementation",
    }
