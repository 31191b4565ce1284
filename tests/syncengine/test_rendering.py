from __future__ import annotations

from dataclasses import replace
from datetime import date

from preferences.selectors import EffectivePreferences
from syncengine.rendering import CATEGORY, PostalAddress, contact_uid, render_person
from syncengine.superoffice.records import Address, PersonRecord

PERSON = PersonRecord(
    person_id=42,
    first_name="Åse",
    middle_name="",
    last_name="Ødegård",
    job_title="Innkjøpssjef",
    salutation="Mrs",
    company_id=7,
    company_name="Fjord Fisk AS",
    department="Innkjøp",
    emails=("ase@fjordfisk.example", " ase@fjordfisk.example "),
    office_phones=("+47 22 00 00 00",),
    mobile_phones=("+47 900 00 000",),
    private_phones=(),
    birth_date=date(1980, 2, 29),
    retired=False,
    updated_at=None,
    address=Address(
        street_lines=("Bryggen 12", " 3. etasje "), zip_code="5003", city="Bergen", region=""
    ),
)
ALL_ON = EffectivePreferences(
    static_selections=(),
    sync_favourite_company_contacts=False,
    sync_favourite_contacts=False,
    sync_job_title=True,
    sync_title=True,
    sync_department=True,
    personal_phone_as_primary=True,
    sync_birthdays=True,
)


def test_every_field_with_every_choice_on() -> None:
    card = render_person(person=PERSON, context_identifier="Cust10001", preferences=ALL_ON)

    assert card.uid == "superoffice-cust10001-person-42"
    assert card.display_name == "Åse Ødegård"
    assert (card.salutation, card.job_title, card.department) == ("Mrs", "Innkjøpssjef", "Innkjøp")
    assert card.organization == "Fjord Fisk AS"
    assert card.emails == ("ase@fjordfisk.example",)
    assert [(p.number, p.kind, p.preferred) for p in card.phones] == [
        ("+47 900 00 000", "cell", True),
        ("+47 22 00 00 00", "work", False),
    ]
    assert card.birthday == date(1980, 2, 29)
    assert card.business_address == PostalAddress(
        street="Bryggen 12\n3. etasje", zip_code="5003", city="Bergen", region="", country=""
    )
    assert card.categories == (CATEGORY,)


def test_field_choices_off_leave_the_fields_out_and_change_the_hash() -> None:
    all_off = replace(
        ALL_ON,
        sync_job_title=False,
        sync_title=False,
        sync_department=False,
        personal_phone_as_primary=False,
        sync_birthdays=False,
    )

    on = render_person(person=PERSON, context_identifier="Cust10001", preferences=ALL_ON)
    off = render_person(person=PERSON, context_identifier="Cust10001", preferences=all_off)

    assert (off.salutation, off.job_title, off.department, off.birthday) == ("", "", "", None)
    assert off.phones[0].kind == "work"
    assert off.phones[0].preferred
    assert on.content_hash != off.content_hash


def test_missing_fields_still_give_a_usable_card() -> None:
    bare = replace(
        PERSON, first_name="", last_name="", emails=(), office_phones=(), mobile_phones=()
    )

    card = render_person(person=bare, context_identifier="Cust10001", preferences=ALL_ON)

    assert card.display_name == "Fjord Fisk AS"
    assert card.phones == ()
    nameless = replace(bare, company_name="")
    assert (
        render_person(person=nameless, context_identifier="C", preferences=ALL_ON).display_name
        == "SuperOffice person 42"
    )


def test_the_hash_is_stable_and_follows_content() -> None:
    first = render_person(person=PERSON, context_identifier="Cust10001", preferences=ALL_ON)
    again = render_person(person=PERSON, context_identifier="Cust10001", preferences=ALL_ON)
    moved = render_person(
        person=replace(PERSON, company_name="Havbruk AS"),
        context_identifier="Cust10001",
        preferences=ALL_ON,
    )

    assert first.content_hash == again.content_hash
    assert first.content_hash != moved.content_hash


def test_a_company_without_a_street_address_gives_a_card_without_one() -> None:
    card = render_person(
        person=replace(PERSON, address=None), context_identifier="Cust10001", preferences=ALL_ON
    )
    blank = render_person(
        person=replace(
            PERSON, address=Address(street_lines=(" ",), zip_code="", city="", region="")
        ),
        context_identifier="Cust10001",
        preferences=ALL_ON,
    )

    assert card.business_address is None
    assert blank.business_address is None


def test_the_business_address_is_part_of_the_hash() -> None:
    first = render_person(person=PERSON, context_identifier="Cust10001", preferences=ALL_ON)
    moved = render_person(
        person=replace(
            PERSON,
            address=Address(
                street_lines=("Bryggen 14",), zip_code="5003", city="Bergen", region=""
            ),
        ),
        context_identifier="Cust10001",
        preferences=ALL_ON,
    )
    removed = render_person(
        person=replace(PERSON, address=None), context_identifier="Cust10001", preferences=ALL_ON
    )

    assert len({first.content_hash, moved.content_hash, removed.content_hash}) == 3


def test_uids_differ_between_tenants() -> None:
    assert contact_uid(context_identifier="Cust1", person_id=1) != contact_uid(
        context_identifier="Cust2", person_id=1
    )


def test_a_uid_names_its_person_only_for_its_tenant() -> None:
    from syncengine.rendering import contact_person_id, contact_uid

    uid = contact_uid(context_identifier="Cust10001", person_id=42)

    assert contact_person_id(uid=uid, context_identifier="Cust10001") == 42
    assert contact_person_id(uid=uid, context_identifier="Cust20002") is None
    assert contact_person_id(uid=uid + "x", context_identifier="Cust10001") is None
    assert contact_person_id(uid=uid.replace("42", "042"), context_identifier="Cust10001") is None
    assert contact_person_id(uid="handwritten", context_identifier="Cust10001") is None
