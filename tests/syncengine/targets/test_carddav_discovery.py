"""Finding the address book on a real Radicale, and storing verified credentials."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
import requests
from defusedxml import ElementTree

from devservers.radicale import free_port
from profiles.models import LinkedUser, TargetAccount
from syncengine.targets.carddav import CardDAVTarget
from syncengine.targets.carddav_discovery import (
    AddressBookUnreachable,
    CardDAVDiscoveryError,
    CredentialsRejected,
    NoAddressBook,
    NoCardDAVServer,
    carddav_addressbook_check,
    carddav_addressbook_create,
    carddav_addressbook_exists,
    carddav_addressbooks_list,
    carddav_credentials_verify,
)
from tests.plugins.radicale import AddressBook, RadicaleHelper
from tests.syncengine.cards import card


@pytest.fixture
def book(radicale: RadicaleHelper) -> AddressBook:
    return radicale.new_mailbox()


def home_of(book: AddressBook) -> str:
    return book.url.rstrip("/").rsplit("/", 1)[0] + "/"


@pytest.mark.parametrize("where", ["root", "root-without-slash", "principal", "addressbook"])
def test_the_address_book_is_found_from_the_server_url(
    radicale: RadicaleHelper, book: AddressBook, where: str
) -> None:
    server_url = {
        "root": radicale.url,
        "root-without-slash": radicale.url.rstrip("/"),
        "principal": home_of(book),
        "addressbook": book.url,
    }[where]

    found = carddav_addressbooks_list(
        server_url=server_url, username=book.username, password=book.password
    )[0].url

    assert found == book.url


def test_the_found_address_book_is_writable(radicale: RadicaleHelper, book: AddressBook) -> None:
    found = carddav_addressbooks_list(
        server_url=radicale.url, username=book.username, password=book.password
    )[0].url
    target = CardDAVTarget(collection_url=found, username=book.username, password=book.password)

    written = target.create(card=card(1))

    assert list(book.cards()) == [written.ref]


def _listed(home: str, username: str, password: str) -> list[str]:
    response = requests.request(
        "PROPFIND", home, headers={"Depth": "1"}, auth=(username, password), timeout=10
    )
    return [
        href.text or ""
        for href in ElementTree.fromstring(response.content).findall("{DAV:}response/{DAV:}href")
    ]


def test_a_calendar_in_the_home_is_skipped(radicale: RadicaleHelper) -> None:
    username, password = radicale.new_user()
    home = urljoin(radicale.url, f"{username}/")
    only = radicale.new_addressbook(username, password, "work")
    # A calendar in the same home (CalDAV and CardDAV on one server) must not be picked;
    # the server lists in its own order, so add calendars until one is listed first.
    for number in range(20):
        calendar = requests.request(
            "MKCALENDAR",
            urljoin(home, f"calendar-{number}/"),
            auth=(username, password),
            timeout=10,
        )
        assert calendar.status_code == 201
        listed = _listed(home, username, password)
        if "calendar" in listed[1]:
            break
    assert "calendar" in listed[1], listed

    found = carddav_addressbooks_list(
        server_url=radicale.url, username=username, password=password
    )[0].url

    assert found == only


def test_a_wrong_password_is_named(radicale: RadicaleHelper, book: AddressBook) -> None:
    with pytest.raises(CredentialsRejected) as raised:
        carddav_addressbooks_list(
            server_url=radicale.url, username=book.username, password="not-the-password"
        )

    assert "rejected the user name" in str(raised.value)
    assert book.username in str(raised.value)


def test_a_user_without_an_address_book_is_told_to_create_one(radicale: RadicaleHelper) -> None:
    username, password = radicale.new_user()

    with pytest.raises(NoAddressBook) as raised:
        carddav_addressbooks_list(server_url=radicale.url, username=username, password=password)

    assert "No address book was found" in str(raised.value)


def test_nothing_listening_is_no_carddav_server() -> None:
    with pytest.raises(NoCardDAVServer) as raised:
        carddav_addressbooks_list(
            server_url=f"http://127.0.0.1:{free_port()}/", username="u", password="p", timeout=2
        )

    assert "Nothing answered" in str(raised.value)


@pytest.fixture
def plain_website(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "index.html").write_text("<h1>Welcome</h1>")

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(tmp_path), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_a_web_server_that_is_no_carddav_server_is_named(plain_website: str) -> None:
    with pytest.raises(NoCardDAVServer) as raised:
        carddav_addressbooks_list(server_url=plain_website, username="u", password="p")

    assert f"No CardDAV server was found at {plain_website}" in str(raised.value)


def test_creating_an_address_book_twice_is_refused(radicale: RadicaleHelper) -> None:
    username, password = radicale.new_user()
    home = urljoin(radicale.url, f"{username}/")
    carddav_addressbook_create(home_url=home, username=username, password=password, name="a")

    with pytest.raises(CardDAVDiscoveryError):
        carddav_addressbook_create(home_url=home, username=username, password=password, name="a")


# --- listing and checking one book ----------------------------------------------------------


def test_every_address_book_of_the_mailbox_is_listed_with_its_name(
    radicale: RadicaleHelper, book: AddressBook
) -> None:
    work = radicale.new_addressbook(book.username, book.password, name="Work & friends")

    books = carddav_addressbooks_list(
        server_url=radicale.url, username=book.username, password=book.password
    )

    assert sorted((b.url, b.name) for b in books) == sorted(
        [(book.url, "contacts"), (work, "Work & friends")]
    )


def test_a_book_given_as_server_url_is_the_only_one_listed(
    radicale: RadicaleHelper, book: AddressBook
) -> None:
    radicale.new_addressbook(book.username, book.password, name="other")

    (only,) = carddav_addressbooks_list(
        server_url=book.url, username=book.username, password=book.password
    )

    assert (only.url, only.name) == (book.url, "contacts")


def test_the_check_finds_a_book_the_credentials_reach(
    radicale: RadicaleHelper, book: AddressBook
) -> None:
    found = carddav_addressbook_check(
        server_url=radicale.url,
        collection_url=book.url,
        username=book.username,
        password=book.password,
    )

    assert (found.url, found.name, found.label) == (
        book.url,
        "contacts",
        f"“contacts” ({book.url})",
    )


def test_the_check_names_a_book_that_is_gone(radicale: RadicaleHelper, book: AddressBook) -> None:
    book.remove(book.url)

    with pytest.raises(AddressBookUnreachable) as raised:
        carddav_addressbook_check(
            server_url=radicale.url,
            collection_url=book.url,
            username=book.username,
            password=book.password,
            name="My contacts",
        )

    assert str(raised.value) == (
        f"The address book “My contacts” ({book.url}) no longer exists on the server."
    )


def test_the_check_names_a_book_of_another_mailbox(
    radicale: RadicaleHelper, book: AddressBook
) -> None:
    other = radicale.new_mailbox("other")

    with pytest.raises(AddressBookUnreachable) as raised:
        carddav_addressbook_check(
            server_url=radicale.url,
            collection_url=book.url,
            username=other.username,
            password=other.password,
        )

    assert str(raised.value) == (
        f"The user name {other.username!r} cannot reach the address book “contacts” ({book.url})."
    )


def test_the_check_tells_a_wrong_password_apart(
    radicale: RadicaleHelper, book: AddressBook
) -> None:
    with pytest.raises(CredentialsRejected):
        carddav_addressbook_check(
            server_url=radicale.url,
            collection_url=book.url,
            username=book.username,
            password="not-the-password",
        )


def test_the_check_sends_no_password_to_a_book_on_another_server(
    radicale: RadicaleHelper, book: AddressBook
) -> None:
    elsewhere = f"http://127.0.0.1:{free_port()}/someone/contacts/"

    with pytest.raises(AddressBookUnreachable, match="is not on the profile's CardDAV server"):
        carddav_addressbook_check(
            server_url=radicale.url,
            collection_url=elsewhere,
            username=book.username,
            password=book.password,
        )


def test_exists_tells_gone_from_there(radicale: RadicaleHelper, book: AddressBook) -> None:
    def exists() -> bool:
        return carddav_addressbook_exists(
            collection_url=book.url, username=book.username, password=book.password
        )

    assert exists()
    book.remove(book.url)
    assert not exists()


def test_exists_does_not_guess_when_nothing_answers() -> None:
    with pytest.raises(CardDAVDiscoveryError):
        carddav_addressbook_exists(
            collection_url=f"http://127.0.0.1:{free_port()}/u/contacts/",
            username="u",
            password="p",
            timeout=2,
        )


# --- verify ----------------------------------------------------------------------------------


def test_verify_stores_the_address_book_and_time_on_success(
    radicale: RadicaleHelper, book: AddressBook, alice_link: LinkedUser
) -> None:
    account = TargetAccount(linked_user=alice_link, username=book.username, secret=book.password)
    before = datetime.now(tz=UTC)

    found = carddav_credentials_verify(target_account=account, server_url=radicale.url)

    stored = TargetAccount.objects.get(linked_user=alice_link)
    assert found == stored.collection_url == book.url
    assert stored.collection_name == "contacts"
    assert stored.verified_at is not None
    assert stored.verified_at >= before
    assert (stored.username, stored.secret) == (book.username, book.password)


def test_verify_changes_nothing_when_the_credentials_fail(
    radicale: RadicaleHelper, book: AddressBook, alice_link: LinkedUser
) -> None:
    account = TargetAccount.objects.create(
        linked_user=alice_link, username=book.username, secret=book.password
    )
    carddav_credentials_verify(target_account=account, server_url=radicale.url)
    verified = TargetAccount.objects.get(pk=account.pk)

    account.secret = "a-mistyped-password"
    with pytest.raises(CredentialsRejected):
        carddav_credentials_verify(target_account=account, server_url=radicale.url)

    stored = TargetAccount.objects.get(pk=account.pk)
    assert stored.secret == book.password
    assert (stored.collection_url, stored.verified_at) == (
        verified.collection_url,
        verified.verified_at,
    )


def test_verify_tests_a_pinned_book_and_never_switches(
    radicale: RadicaleHelper, book: AddressBook, alice_link: LinkedUser
) -> None:
    account = TargetAccount.objects.create(
        linked_user=alice_link, username=book.username, secret=book.password
    )
    carddav_credentials_verify(target_account=account, server_url=radicale.url)
    other = radicale.new_mailbox("other")

    account.username, account.secret = other.username, other.password
    with pytest.raises(AddressBookUnreachable):
        carddav_credentials_verify(target_account=account, server_url=radicale.url)

    stored = TargetAccount.objects.get(pk=account.pk)
    assert (stored.username, stored.collection_url) == (book.username, book.url)


def test_verify_stores_nothing_for_a_new_account_that_fails(
    radicale: RadicaleHelper, alice_link: LinkedUser
) -> None:
    username, password = radicale.new_user()
    account = TargetAccount(linked_user=alice_link, username=username, secret=password)

    with pytest.raises(NoAddressBook):
        carddav_credentials_verify(target_account=account, server_url=radicale.url)

    assert not TargetAccount.objects.filter(linked_user=alice_link).exists()
    assert account.collection_url == ""
    assert account.verified_at is None


def test_credentials_never_follow_a_redirect_to_another_host() -> None:
    elsewhere_requests: list[str] = []

    class Elsewhere(BaseHTTPRequestHandler):
        def do_PROPFIND(self) -> None:
            elsewhere_requests.append(self.headers.get("Authorization", ""))
            self.send_response(207)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    other = ThreadingHTTPServer(("127.0.0.1", 0), Elsewhere)
    other_url = f"http://localhost:{other.server_address[1]}/dav/"

    class Redirecting(BaseHTTPRequestHandler):
        def do_PROPFIND(self) -> None:
            self.send_response(302)
            self.send_header("Location", other_url)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
    for running in (other, server):
        threading.Thread(target=running.serve_forever, daemon=True).start()
    try:
        with pytest.raises(NoCardDAVServer, match="sent us on to"):
            carddav_addressbooks_list(
                server_url=f"http://127.0.0.1:{server.server_address[1]}/",
                username="u",
                password="secret",
                timeout=5,
            )
    finally:
        for running in (other, server):
            running.shutdown()
            running.server_close()

    assert elsewhere_requests == []
