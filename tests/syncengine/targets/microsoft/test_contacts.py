"""A card as a Graph contact: every field, emptied fields cleared, our mark."""

from __future__ import annotations

from sandbox.microsoft.testing import MicrosoftControl
from syncengine.rendering import Phone, PostalAddress
from syncengine.targets.microsoft.contacts import (
    MARK_PROPERTY_ID,
    contact_json,
    create_json,
    etag_of,
    mark_of,
    person_id_of,
)
from syncengine.targets.microsoft.target import GraphTarget
from tests.syncengine.targets.microsoft.conftest import CardFactory, MailboxReader, Organisation

ADDRESS = PostalAddress(
    street="Karl Johans gate 1\n3. etasje", zip_code="0154", city="Oslo", region="", country=""
)


def test_every_field_is_mapped(make_card: CardFactory) -> None:
    body = contact_json(card=make_card(42, business_address=ADDRESS))

    assert body == {
        "givenName": "Person",
        "middleName": "Q",
        "surname": "42",
        "displayName": "Person 42",
        "companyName": "Fabrikam",
        "jobTitle": "Buyer",
        "department": "Purchasing",
        "title": "Dr.",
        "emailAddresses": [{"address": "p42@fabrikam.example", "name": "Person 42"}],
        "businessPhones": ["+47 22 00 00 01"],
        "homePhones": [],
        "mobilePhone": "+47 900 00 001",
        "birthday": "1980-05-17T00:00:00Z",
        "businessAddress": {
            "street": "Karl Johans gate 1\n3. etasje",
            "city": "Oslo",
            "state": "",
            "postalCode": "0154",
            "countryOrRegion": "",
        },
        "categories": ["SuperOffice Person"],
    }


def test_fields_emptied_in_the_crm_are_cleared(make_card: CardFactory) -> None:
    card = make_card(
        42, job_title="", department="", salutation="", emails=(), phones=(), birthday=None
    )
    body = contact_json(card=card)

    for name in ("jobTitle", "department", "title", "mobilePhone", "birthday", "businessAddress"):
        assert name in body
        assert body[name] is None
    for name in ("emailAddresses", "businessPhones", "homePhones"):
        assert body[name] == []


def test_the_preferred_phone_comes_first_in_its_list(make_card: CardFactory) -> None:
    phones = (
        Phone(number="+1 home", kind="home", preferred=False),
        Phone(number="+2 work", kind="work", preferred=False),
        Phone(number="+3 home", kind="home", preferred=True),
    )
    body = contact_json(card=make_card(1, phones=phones))

    assert body["homePhones"] == ["+3 home", "+1 home"]
    assert body["businessPhones"] == ["+2 work"]
    assert body["mobilePhone"] is None


def test_a_create_carries_the_mark_and_leaves_out_empty_fields(make_card: CardFactory) -> None:
    body = create_json(card=make_card(42, job_title=""))

    assert body["singleValueExtendedProperties"] == [
        {"id": MARK_PROPERTY_ID, "value": "superoffice-cust100-person-42"}
    ]
    assert "jobTitle" not in body
    assert body["categories"] == ["SuperOffice Person"]
    assert "businessAddress" not in body
    with_address = create_json(card=make_card(42, business_address=ADDRESS))
    assert with_address["businessAddress"]["postalCode"] == "0154"


def test_the_mark_and_the_version_are_read_back() -> None:
    contact = {
        "id": "A",
        "changeKey": "ck",
        "singleValueExtendedProperties": [
            {"id": MARK_PROPERTY_ID, "value": "superoffice-cust100-person-42"}
        ],
    }
    assert mark_of(contact) == "superoffice-cust100-person-42"
    assert mark_of({"id": "B"}) is None
    assert etag_of(contact) == 'W/"ck"'
    assert etag_of({"@odata.etag": 'W/"x"', "changeKey": "ck"}) == 'W/"x"'
    assert person_id_of("superoffice-cust100-person-42") == 42
    assert person_id_of("someone-else-7") is None


def test_the_business_address_is_written_moved_and_cleared(
    target: GraphTarget,
    make_card: CardFactory,
    mailbox: MailboxReader,
    microsoft: MicrosoftControl,
    organisation: Organisation,
) -> None:
    written = target.create(card=make_card(1, business_address=ADDRESS))
    assert mailbox()[written.ref]["businessAddress"] == {
        "street": "Karl Johans gate 1\n3. etasje",
        "city": "Oslo",
        "state": "",
        "postalCode": "0154",
        "countryOrRegion": "",
    }

    moved = PostalAddress(street="Bryggen 12", zip_code="5003", city="Bergen", region="")
    updated = target.update(
        ref=written.ref, etag=written.etag, card=make_card(1, business_address=moved)
    )
    stored = mailbox()[written.ref]["businessAddress"]
    assert (stored["street"], stored["postalCode"], stored["city"]) == (
        "Bryggen 12",
        "5003",
        "Bergen",
    )

    # An address typed in Outlook is overwritten too, and cleared when the CRM has none.
    microsoft.contact_edit(
        user=organisation.mailbox,
        contact_id=written.ref,
        businessAddress={"street": "Typed in Outlook", "city": "Trondheim"},
    )
    target.update(ref=written.ref, etag=updated.etag, card=make_card(1, business_address=None))
    assert not mailbox()[written.ref]["businessAddress"]
