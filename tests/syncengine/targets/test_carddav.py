"""CardDAVTarget against a real Radicale process; error paths Radicale cannot produce
(429, 5xx, vCard 4.0) against a small scripted HTTP server."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urljoin

import pytest
import vobject

from devservers.radicale import free_port
from syncengine.rendering import CATEGORY, ContactCard, Phone, PostalAddress
from syncengine.targets import carddav
from syncengine.targets.base import ContactExists, ContactGone, OwnContact, TargetError
from syncengine.targets.carddav import CardDAVTarget, vcard_mark, vcard_render
from tests.plugins.radicale import AddressBook, RadicaleHelper

ADDRESS = PostalAddress(
    street="Karl Johans gate 1\n3. etasje", zip_code="0154", city="Oslo", region="", country=""
)


def full_card(person_id: int = 7, **changes: Any) -> ContactCard:
    card = ContactCard(
        uid=f"superoffice-cust10001-person-{person_id}",
        person_id=person_id,
        display_name="Dr. Kari Anne Nordmann",
        first_name="Kari",
        middle_name="Anne",
        last_name="Nordmann",
        salutation="Dr.",
        job_title="Head of Sales",
        organization="Acme AS",
        department="Sales",
        emails=("kari@acme.example", "kari.private@example.com"),
        phones=(
            Phone(number="+47 900 00 001", kind="cell", preferred=True),
            Phone(number="+47 22 00 00 02", kind="home", preferred=False),
            Phone(number="+47 22 00 00 03", kind="work", preferred=False),
        ),
        birthday=date(1980, 5, 17),
        business_address=ADDRESS,
    )
    return dataclasses.replace(card, **changes)


def bare_card(person_id: int) -> ContactCard:
    return full_card(
        person_id,
        display_name="kari@acme.example",
        first_name="",
        middle_name="",
        last_name="",
        salutation="",
        job_title="",
        organization="",
        department="",
        emails=(),
        phones=(),
        birthday=None,
        business_address=None,
    )


def foreign_vcard(uid: str, name: str = "Someone Else") -> str:
    return f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{name}\r\nN:;{name};;;\r\nEND:VCARD\r\n"


@pytest.fixture
def book(radicale: RadicaleHelper) -> AddressBook:
    return radicale.new_mailbox()


@pytest.fixture
def target(book: AddressBook) -> Iterator[CardDAVTarget]:
    target = CardDAVTarget(collection_url=book.url, username=book.username, password=book.password)
    yield target
    target.close()


# --- vCard content --------------------------------------------------------------------------


def test_a_created_card_carries_every_field(target: CardDAVTarget, book: AddressBook) -> None:
    card = full_card()

    written = target.create(card=card)

    text, etag = book.read(written.ref)
    assert written.ref == target.ref_for(card.uid)
    assert written.ref.endswith(f"/{card.uid}.vcf")
    assert written.etag == etag
    stored = vobject.readOne(text)
    assert stored.version.value == "3.0"
    assert stored.uid.value == card.uid
    assert stored.fn.value == "Dr. Kari Anne Nordmann"
    name = stored.n.value
    assert (name.family, name.given, name.additional, name.prefix) == (
        "Nordmann",
        "Kari",
        "Anne",
        "Dr.",
    )
    assert stored.org.value == ["Acme AS", "Sales"]
    assert stored.title.value == "Head of Sales"
    assert [(e.value, e.params["TYPE"]) for e in stored.email_list] == [
        ("kari@acme.example", ["INTERNET"]),
        ("kari.private@example.com", ["INTERNET"]),
    ]
    assert [(t.value, t.params["TYPE"]) for t in stored.tel_list] == [
        ("+47 900 00 001", ["CELL", "PREF"]),
        ("+47 22 00 00 02", ["HOME"]),
        ("+47 22 00 00 03", ["WORK"]),
    ]
    assert stored.bday.value == "1980-05-17"
    (address,) = stored.adr_list
    assert address.params["TYPE"] == ["WORK"]
    assert (address.value.street, address.value.code, address.value.city) == (
        "Karl Johans gate 1\n3. etasje",
        "0154",
        "Oslo",
    )
    assert address.value.region == address.value.country == address.value.box == ""
    assert stored.categories.value == [CATEGORY]
    assert stored.contents["x-superoffice-personid"][0].value == "7"
    assert vcard_mark(text) == carddav.Mark(uid=card.uid, person_id=7)


def test_missing_fields_are_left_out(target: CardDAVTarget, book: AddressBook) -> None:
    written = target.create(card=bare_card(8))

    text, _ = book.read(written.ref)
    stored = vobject.readOne(text)
    for absent in ("org", "title", "email", "tel", "bday", "adr"):
        assert absent not in stored.contents, absent
    assert not any(line.endswith(":") for line in text.splitlines())
    # vCard 3.0 requires N on every card (RFC 2426), so an unnamed person has empty parts.
    assert stored.n.value.family == stored.n.value.given == ""
    assert stored.fn.value == "kari@acme.example"
    assert vcard_mark(text) == carddav.Mark(uid=bare_card(8).uid, person_id=8)


def test_an_organization_without_department_is_one_component() -> None:
    text = vcard_render(card=full_card(department="", categories=()))

    stored = vobject.readOne(text)
    assert stored.org.value == ["Acme AS"]
    assert "categories" not in stored.contents


@pytest.mark.parametrize(
    ("first", "last", "organization", "title"),
    [
        ("太郎", "山田", "株式会社アクメ", "営業部長" * 12),
        ("Анна", "Иванова", "ООО «Акме»", "Руководитель отдела продаж и развития бизнеса"),
        ("Γιώργος", "Παπαδόπουλος", "Άκμε Α.Ε.", "Διευθυντής Πωλήσεων"),
        ("Øystein", "Ærlighetsen-Åsgård", "Blåbær & Søn AS", "Daglig leder; eier, gründer"),
    ],
)
def test_unicode_names_round_trip(
    target: CardDAVTarget,
    book: AddressBook,
    first: str,
    last: str,
    organization: str,
    title: str,
) -> None:
    card = full_card(
        display_name=f"{first} {last}",
        first_name=first,
        middle_name="",
        last_name=last,
        organization=organization,
        job_title=title,
    )

    written = target.create(card=card)

    text, _ = book.read(written.ref)
    stored = vobject.readOne(text)
    assert stored.fn.value == f"{first} {last}"
    assert (stored.n.value.given, stored.n.value.family) == (first, last)
    assert stored.org.value == [organization, "Sales"]
    assert stored.title.value == title
    assert [(c.person_id, c.uid) for c in target.list_own()] == [(7, card.uid)]


def test_vcard_4_uses_its_own_parameters_and_date_format() -> None:
    text = vcard_render(card=full_card(), version="4.0")

    stored = vobject.readOne(text)
    assert stored.version.value == "4.0"
    assert stored.bday.value == "19800517"
    assert [t.params for t in stored.tel_list][:2] == [
        {"TYPE": ["cell"], "PREF": ["1"]},
        {"TYPE": ["home"]},
    ]
    assert all("TYPE" not in e.params for e in stored.email_list)
    assert stored.adr.params == {"TYPE": ["work"]}
    assert stored.adr.value.street == "Karl Johans gate 1\n3. etasje"
    assert "n" not in vobject.readOne(vcard_render(card=bare_card(8), version="4.0")).contents


# --- create / update / delete -----------------------------------------------------------------


def test_radicale_is_written_in_vcard_3(target: CardDAVTarget) -> None:
    assert target.vcard_version == "3.0"


def test_update_replaces_our_card_and_returns_the_new_etag(
    target: CardDAVTarget, book: AddressBook
) -> None:
    written = target.create(card=full_card())

    updated = target.update(
        ref=written.ref, etag=written.etag, card=full_card(job_title="Chief Executive")
    )

    text, etag = book.read(written.ref)
    assert updated.ref == written.ref
    assert updated.etag == etag != written.etag
    assert vobject.readOne(text).title.value == "Chief Executive"
    assert len(book.cards()) == 1


def test_a_moved_or_removed_business_address_is_rewritten(
    target: CardDAVTarget, book: AddressBook
) -> None:
    written = target.create(card=full_card())
    moved = dataclasses.replace(ADDRESS, street="Dronningens gate 5", zip_code="0152")

    updated = target.update(
        ref=written.ref, etag=written.etag, card=full_card(business_address=moved)
    )
    assert vobject.readOne(book.read(written.ref)[0]).adr.value.street == "Dronningens gate 5"
    target.update(ref=written.ref, etag=updated.etag, card=full_card(business_address=None))

    text, _ = book.read(written.ref)
    assert "adr" not in vobject.readOne(text).contents
    assert [(c.person_id, c.uid) for c in target.list_own()] == [(7, full_card().uid)]


def test_a_second_create_of_the_same_uid_raises_contact_exists(
    target: CardDAVTarget, book: AddressBook
) -> None:
    written = target.create(card=full_card())

    with pytest.raises(ContactExists) as raised:
        target.create(card=full_card(job_title="Changed"))

    assert raised.value.existing == written
    assert list(book.cards()) == [written.ref]
    assert vobject.readOne(book.read(written.ref)[0]).title.value == "Head of Sales"


def test_a_card_of_ours_under_another_href_is_adopted(
    target: CardDAVTarget, book: AddressBook
) -> None:
    # A client that re-uploaded our card under its own name: the server refuses a second
    # card with the same UID (409 no-uid-conflict), and the create adopts the moved one.
    card = full_card()
    etag = book.put("moved-by-a-client.vcf", vcard_render(card=card))

    with pytest.raises(ContactExists) as raised:
        target.create(card=card)

    assert raised.value.existing.ref.endswith("/moved-by-a-client.vcf")
    assert raised.value.existing.etag == etag
    assert len(book.cards()) == 1


def test_an_edit_in_the_mailbox_is_overwritten_by_update(
    target: CardDAVTarget, book: AddressBook
) -> None:
    written = target.create(card=full_card())
    edited = book.read(written.ref)[0].replace("FN:Dr. Kari Anne Nordmann", "FN:Kari (edited)")
    edited_etag = book.put(written.ref, edited, etag=written.etag)

    updated = target.update(
        ref=written.ref, etag=written.etag, card=full_card(job_title="Chief Executive")
    )

    text, etag = book.read(written.ref)
    stored = vobject.readOne(text)
    assert stored.fn.value == "Dr. Kari Anne Nordmann"
    assert stored.title.value == "Chief Executive"
    assert updated.etag == etag not in (written.etag, edited_etag)


def test_a_foreign_card_at_our_href_is_never_touched(
    target: CardDAVTarget, book: AddressBook
) -> None:
    card = full_card()
    ref = target.ref_for(card.uid)
    foreign = foreign_vcard(card.uid)
    etag = book.put(ref, foreign)

    with pytest.raises(TargetError) as on_create:
        target.create(card=card)
    with pytest.raises(TargetError) as on_update:
        target.update(ref=ref, etag='"stale"', card=card)
    with pytest.raises(ContactGone):
        target.delete(ref=ref, etag='"stale"', uid=card.uid)

    assert not isinstance(on_create.value, ContactExists)
    assert not on_create.value.permanent  # this contact fails; the run goes on
    assert "did not create" in str(on_create.value)
    assert not on_update.value.permanent
    assert book.read(ref) == (foreign, etag)
    assert target.list_own() == []


def test_delete_removes_our_card_and_a_second_delete_says_gone(
    target: CardDAVTarget, book: AddressBook
) -> None:
    card = full_card()
    written = target.create(card=card)

    target.delete(ref=written.ref, etag=written.etag, uid=card.uid)

    assert not book.exists(written.ref)
    with pytest.raises(ContactGone):
        target.delete(ref=written.ref, etag=written.etag, uid=card.uid)


def test_delete_after_an_edit_in_the_mailbox_still_deletes_our_card(
    target: CardDAVTarget, book: AddressBook
) -> None:
    card = full_card()
    written = target.create(card=card)
    book.put(written.ref, book.read(written.ref)[0].replace("Head of Sales", "Boss"))

    target.delete(ref=written.ref, etag=written.etag, uid=card.uid)

    assert book.cards() == {}


def test_update_of_a_card_deleted_in_the_mailbox_raises_contact_gone(
    target: CardDAVTarget, book: AddressBook
) -> None:
    written = target.create(card=full_card())
    book.remove(written.ref)

    with pytest.raises(ContactGone):
        target.update(ref=written.ref, etag=written.etag, card=full_card())

    assert book.cards() == {}


# --- list_own --------------------------------------------------------------------------------


def test_list_own_returns_only_our_cards(target: CardDAVTarget, book: AddressBook) -> None:
    written = {pid: target.create(card=full_card(pid)) for pid in (3, 4, 5)}
    book.put("someone-else.vcf", foreign_vcard("someone-else"))

    own = target.list_own()

    assert sorted((c.person_id, c.uid, c.ref, c.etag) for c in own) == [
        (pid, full_card(pid).uid, w.ref, w.etag) for pid, w in sorted(written.items())
    ]
    assert len(book.cards()) == 4


def test_the_multiget_listing_reads_every_card_in_batches(
    target: CardDAVTarget, book: AddressBook, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fallback for servers whose addressbook-query cannot filter on our mark.
    monkeypatch.setattr(carddav, "MULTIGET_BATCH_SIZE", 2)
    written = {pid: target.create(card=full_card(pid)) for pid in (3, 4, 5)}
    book.put("someone-else.vcf", foreign_vcard("someone-else"))

    entries = list(target._multiget_all())

    marks = {e.href: vcard_mark(e.text(carddav.CARDDAV, "address-data")) for e in entries}
    assert len(entries) == 4
    assert {w.ref: pid for pid, w in written.items()} == {
        href: mark.person_id for href, mark in marks.items() if mark is not None
    }


# --- errors ----------------------------------------------------------------------------------


def test_a_wrong_password_is_a_permanent_error(book: AddressBook) -> None:
    target = CardDAVTarget(collection_url=book.url, username=book.username, password="wrong")

    with pytest.raises(TargetError) as raised:
        target.create(card=full_card())

    assert raised.value.permanent
    assert "rejected the user name or app password" in str(raised.value)
    assert book.cards() == {}


def test_a_missing_address_book_is_a_permanent_error(book: AddressBook) -> None:
    target = CardDAVTarget(
        collection_url=book.url.rstrip("/") + "-gone/",
        username=book.username,
        password=book.password,
    )

    with pytest.raises(TargetError) as raised:
        target.list_own()

    assert raised.value.permanent
    assert "address book was not found" in str(raised.value)


def test_a_collection_that_is_no_address_book_is_a_permanent_error(book: AddressBook) -> None:
    home = book.url.rstrip("/").rsplit("/", 1)[0] + "/"
    target = CardDAVTarget(collection_url=home, username=book.username, password=book.password)

    with pytest.raises(TargetError) as raised:
        target.create(card=full_card())

    assert raised.value.permanent
    assert "not an address book" in str(raised.value)


def test_an_unreachable_server_is_a_passing_error() -> None:
    target = CardDAVTarget(
        collection_url=f"http://127.0.0.1:{free_port()}/u/book/",
        username="u",
        password="p",
        timeout=2,
    )

    with pytest.raises(TargetError) as raised:
        target.create(card=full_card())

    assert not raised.value.permanent
    assert "could not be reached" in str(raised.value)


# A scripted server for what Radicale never answers: each request pops the next
# (status, headers, body); the collection PROPFIND is answered from `supported`.

_COLLECTION = (
    '<?xml version="1.0"?><multistatus xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">'
    "<response><href>/book/</href><propstat><prop>"
    "<resourcetype><collection/><C:addressbook/></resourcetype>"
    "<C:supported-address-data>{types}</C:supported-address-data>"
    "</prop><status>HTTP/1.1 200 OK</status></propstat></response></multistatus>"
)


class Scripted:
    def __init__(self) -> None:
        self.answers: list[tuple[int, dict[str, str], bytes]] = []
        self.requests: list[tuple[str, str, bytes]] = []
        self.supported = '<C:address-data-type content-type="text/vcard" version="3.0"/>'


@pytest.fixture
def scripted() -> Iterator[tuple[Scripted, str]]:
    script = Scripted()

    class Handler(BaseHTTPRequestHandler):
        def answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            script.requests.append((self.command, self.path, body))
            if self.command == "PROPFIND":
                status, headers = 207, {"Content-Type": "application/xml"}
                payload = _COLLECTION.format(types=script.supported).encode()
            else:
                status, headers, payload = script.answers.pop(0)
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_PROPFIND = do_PUT = do_GET = do_DELETE = do_REPORT = answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield script, f"http://127.0.0.1:{server.server_address[1]}/book/"
    server.shutdown()
    server.server_close()


def test_a_429_with_a_short_retry_after_is_retried_once(scripted: tuple[Scripted, str]) -> None:
    script, url = scripted
    script.answers = [(429, {"Retry-After": "1"}, b""), (201, {"ETag": '"v1"'}, b"")]
    target = CardDAVTarget(collection_url=url, username="u", password="p")

    started = time.monotonic()
    written = target.create(card=full_card())

    assert time.monotonic() - started >= 1
    assert written.etag == '"v1"'
    assert [method for method, _, _ in script.requests] == ["PROPFIND", "PUT", "PUT"]


@pytest.mark.parametrize(
    "answers",
    [
        [(429, {"Retry-After": "120"}, b"")],
        [(503, {"Retry-After": "0"}, b""), (503, {"Retry-After": "0"}, b"")],
        [(500, {}, b"boom")],
    ],
    ids=["long-retry-after", "503-twice", "500"],
)
def test_busy_or_failing_servers_are_passing_errors(
    scripted: tuple[Scripted, str], answers: list[tuple[int, dict[str, str], bytes]]
) -> None:
    script, url = scripted
    script.answers = list(answers)
    target = CardDAVTarget(collection_url=url, username="u", password="p")

    started = time.monotonic()
    with pytest.raises(TargetError) as raised:
        target.create(card=full_card())

    assert not raised.value.permanent
    assert "busy or failing" in str(raised.value)
    assert time.monotonic() - started < 5  # a long Retry-After waits for the next run
    assert script.answers == []


def test_a_missing_etag_is_read_back_and_vcard_4_is_used_when_advertised(
    scripted: tuple[Scripted, str],
) -> None:
    script, url = scripted
    script.supported = (
        '<C:address-data-type content-type="text/vcard" version="3.0"/>'
        '<C:address-data-type content-type="text/vcard" version="4.0"/>'
    )
    script.answers = [(201, {}, b"")]
    target = CardDAVTarget(collection_url=url, username="u", password="p")

    target.create(card=full_card())

    assert target.vcard_version == "4.0"
    methods = [method for method, _, _ in script.requests]
    assert methods == ["PROPFIND", "PUT", "PROPFIND"]
    put_body = script.requests[1][2].decode()
    assert "VERSION:4.0" in put_body
    assert b"getetag" in script.requests[2][2]


# --- listing and marks (drift healing) -------------------------------------------------------


def _sent(target: CardDAVTarget) -> list[tuple[str, str]]:
    sent: list[tuple[str, str]] = []
    target.session.hooks["response"].append(
        lambda response, *args, **kwargs: sent.append(
            (response.request.method, response.request.headers.get("Depth", ""))
        )
    )
    return sent


def test_the_listing_is_one_propfind_with_every_card_and_its_etag(
    book: AddressBook,
) -> None:
    writer = CardDAVTarget(collection_url=book.url, username=book.username, password=book.password)
    written = {pid: writer.create(card=full_card(pid)) for pid in (3, 4)}
    foreign_etag = book.put("someone-else.vcf", foreign_vcard("someone-else"))
    target = CardDAVTarget(collection_url=book.url, username=book.username, password=book.password)
    sent = _sent(target)

    listed = target.listing()

    assert sent == [("PROPFIND", "1")]
    foreign_ref = writer._path(urljoin(book.url, "someone-else.vcf"))
    assert listed == {written[3].ref: written[3].etag, written[4].ref: written[4].etag} | {
        foreign_ref: foreign_etag
    }


def test_marks_read_only_the_cards_asked_for(target: CardDAVTarget, book: AddressBook) -> None:
    ours = target.create(card=full_card(3))
    rewritten = target.create(card=full_card(4))
    text, etag = book.read(rewritten.ref)
    unmarked = "".join(line for line in text.splitlines(True) if "PERSONID" not in line)
    unmarked_etag = book.put(rewritten.ref, unmarked, etag=etag)
    gone = target.ref_for(full_card(5).uid)
    sent = _sent(target)

    marks = target.marks([ours.ref, rewritten.ref, gone])

    assert sent == [("REPORT", "1")]  # one addressbook-multiget
    assert marks == {
        ours.ref: OwnContact(uid=full_card(3).uid, person_id=3, ref=ours.ref, etag=ours.etag),
        rewritten.ref: None,
    }
    assert book.read(rewritten.ref)[1] == unmarked_etag


def test_our_deterministic_href_names_its_uid_and_nothing_else_does(
    target: CardDAVTarget,
) -> None:
    uid = full_card().uid

    assert target.uid_at(target.ref_for(uid)) == uid
    assert target.uid_at(target.ref_for(uid).removesuffix(".vcf") + ".ics") is None
    assert target.uid_at(target._path(target.collection_url) + "sub/" + uid + ".vcf") is None
    assert target.uid_at("/elsewhere/" + uid + ".vcf") is None


def test_a_missing_address_book_or_another_collection_cannot_be_listed(
    book: AddressBook,
) -> None:
    gone = book.url.rstrip("/") + "-gone/"
    home = book.url.rstrip("/").rsplit("/", 1)[0] + "/"

    for url in (gone, home):
        target = CardDAVTarget(collection_url=url, username=book.username, password=book.password)
        with pytest.raises(TargetError) as raised:
            target.listing()
        assert raised.value.permanent
