"""Finding a user's address book on a CardDAV server (RFC 6764 §6, RFC 6352 §7).

From a server URL: `/.well-known/carddav` (redirects followed) or the URL itself →
`DAV:current-user-principal` → `CARDDAV:addressbook-home-set` → the address books in the
home. The first one is pinned at the first verification; later verifications test the
credentials against that book only (`carddav_addressbook_check`), so a second book never
takes its place silently. We create none in production: a mailbox without an address book
is an error its owner can fix; `carddav_addressbook_create` exists for tests and the
demo's seeding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urljoin, urlsplit

import requests
from django.utils import timezone

from syncengine.targets.carddav import (
    CARDDAV,
    DAV,
    DEFAULT_TIMEOUT_SECONDS,
    XML_CONTENT_TYPE,
    DavResponse,
    dav_session,
    multistatus_parse,
    propfind_body,
)

if TYPE_CHECKING:
    from profiles.models import TargetAccount

MAX_REDIRECTS = 5


class CardDAVDiscoveryError(Exception):
    """The address book could not be found; the message is fit for the person who typed
    the server URL and credentials."""


class CredentialsRejected(CardDAVDiscoveryError):
    pass


class NoCardDAVServer(CardDAVDiscoveryError):
    pass


class NoAddressBook(CardDAVDiscoveryError):
    pass


class AddressBookUnreachable(CardDAVDiscoveryError):
    """The pinned address book is gone, or these credentials do not reach it."""


@dataclass(frozen=True)
class AddressBook:
    """An address book on the server: its URL and the name the server shows for it."""

    url: str
    name: str

    @property
    def label(self) -> str:
        return f"“{self.name}” ({self.url})"


# TargetAccount.collection_name holds this many characters.
NAME_LENGTH = 200


def _name_of(url: str, displayname: str) -> str:
    name = displayname.strip() or unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])
    return name[:NAME_LENGTH]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class _Discovery:
    def __init__(self, *, username: str, password: str, timeout: float, server_url: str) -> None:
        self.username = username
        self.timeout = timeout
        self.session = dav_session(username=username, password=password)
        # The app password goes only to the server the admin named.
        self.origin = _origin(server_url)
        # The status of the last answer that was not a redirect (404 tells "gone").
        self.last_status = 0

    def _same_server(self, url: str) -> str:
        if _origin(url) != self.origin:
            raise NoCardDAVServer(
                f"The server at {self.origin} sent us on to {_origin(url)}; so that the app "
                "password only ever goes where you meant it to, enter that address as the "
                "CardDAV server URL instead."
            )
        return url

    def propfind(
        self, url: str, *props: tuple[str, str], depth: str = "0"
    ) -> tuple[str, list[DavResponse]] | None:
        """PROPFIND with redirects followed by hand: requests would turn a 302'd PROPFIND
        into a GET. Returns the final URL and its responses, or None when what answered
        is no WebDAV server."""
        for _ in range(MAX_REDIRECTS + 1):
            self._same_server(url)
            try:
                response = self.session.request(
                    "PROPFIND",
                    url,
                    headers={"Depth": depth, "Content-Type": XML_CONTENT_TYPE},
                    data=propfind_body(*props),
                    timeout=self.timeout,
                    allow_redirects=False,
                )
            except requests.RequestException as error:
                raise NoCardDAVServer(
                    f"Nothing answered at {url}; check the server URL. ({error})"
                ) from error
            if response.is_redirect and response.headers.get("Location"):
                url = urljoin(url, response.headers["Location"])
                continue
            self.last_status = response.status_code
            if response.status_code in (401, 403):
                raise CredentialsRejected(
                    f"The server at {url} rejected the user name {self.username!r} or its "
                    "app password."
                )
            if response.status_code != 207:
                return None
            try:
                return url, multistatus_parse(response.content)
            except ValueError:
                return None
        return None

    def principal(self, *, server_url: str) -> tuple[str, bool]:
        """The principal's URL, or (True) the URL of an address book given as server URL."""
        parts = urlsplit(server_url)
        well_known = f"{parts.scheme}://{parts.netloc}/.well-known/carddav"
        # RFC 6764 bootstraps from the host; a URL with a path of its own is more specific
        # (and may be the address book itself, pasted from the mailbox's settings).
        has_path = parts.path.strip("/") != ""
        for url in (server_url, well_known) if has_path else (well_known, server_url):
            found = self.propfind(url, (DAV, "resourcetype"), (DAV, "current-user-principal"))
            if found is None or not found[1]:
                continue
            base, (response, *_) = found
            if response.has_resourcetype(CARDDAV, "addressbook"):
                return base, True
            hrefs = response.child_hrefs(DAV, "current-user-principal")
            if hrefs:
                return urljoin(base, hrefs[0]), False
        raise NoCardDAVServer(f"No CardDAV server was found at {server_url}; check the server URL.")

    def home(self, *, principal_url: str) -> str:
        found = self.propfind(principal_url, (CARDDAV, "addressbook-home-set"))
        if found is not None:
            base, responses = found
            for response in responses:
                hrefs = response.child_hrefs(CARDDAV, "addressbook-home-set")
                if hrefs:
                    return urljoin(base, hrefs[0])
        raise NoAddressBook(
            f"The server has no address book home for {self.username!r}; is CardDAV enabled "
            "for this mailbox?"
        )

    def addressbooks(self, *, home_url: str, server_url: str) -> list[AddressBook]:
        """Every address book in the home, in the server's order (calendars skipped)."""
        found = self.propfind(home_url, (DAV, "resourcetype"), (DAV, "displayname"), depth="1")
        books: list[AddressBook] = []
        if found is not None:
            base, responses = found
            for response in responses:
                url = urljoin(base, response.href)
                if url.rstrip("/") != base.rstrip("/") and response.has_resourcetype(
                    CARDDAV, "addressbook"
                ):
                    self._same_server(url)
                    books.append(
                        AddressBook(url=url, name=_name_of(url, response.text(DAV, "displayname")))
                    )
        if not books:
            raise NoAddressBook(
                f"No address book was found for {self.username!r} on {server_url}; create "
                "one in the mailbox first."
            )
        return books

    def book(self, *, url: str) -> AddressBook | None:
        """The address book at `url`, or None when nothing (or no address book) is there."""
        found = self.propfind(url, (DAV, "resourcetype"), (DAV, "displayname"))
        if found is None or not found[1]:
            return None
        base, (response, *_) = found
        if not response.has_resourcetype(CARDDAV, "addressbook"):
            return None
        return AddressBook(url=url, name=_name_of(base, response.text(DAV, "displayname")))


def carddav_addressbooks_list(
    *, server_url: str, username: str, password: str, timeout: float = DEFAULT_TIMEOUT_SECONDS
) -> list[AddressBook]:
    """The address books these credentials reach on the server at `server_url`, in the
    server's order. Raises CardDAVDiscoveryError (CredentialsRejected, NoCardDAVServer,
    NoAddressBook)."""
    discovery = _Discovery(
        username=username, password=password, timeout=timeout, server_url=server_url
    )
    try:
        principal_url, is_addressbook = discovery.principal(server_url=server_url)
        if is_addressbook:
            book = discovery.book(url=principal_url)
            return [book or AddressBook(url=principal_url, name=_name_of(principal_url, ""))]
        home_url = discovery.home(principal_url=principal_url)
        return discovery.addressbooks(home_url=home_url, server_url=server_url)
    finally:
        discovery.session.close()


def carddav_addressbook_check(
    *,
    server_url: str,
    collection_url: str,
    username: str,
    password: str,
    name: str = "",
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> AddressBook:
    """The address book at `collection_url`, when it is on the profile's server, still
    exists and these credentials reach it. Raises AddressBookUnreachable naming the book
    (`name`, the one stored, is used in the message), or CredentialsRejected when the
    credentials reach nothing at all."""
    label = AddressBook(url=collection_url, name=_name_of(collection_url, name)).label
    if _origin(collection_url) != _origin(server_url):
        raise AddressBookUnreachable(
            f"The address book {label} is not on the profile's CardDAV server "
            f"{_origin(server_url)}."
        )
    discovery = _Discovery(
        username=username, password=password, timeout=timeout, server_url=server_url
    )
    try:
        try:
            book = discovery.book(url=collection_url)
        except CredentialsRejected:
            # Wrong credentials, or right ones for another mailbox: tell which.
            discovery.principal(server_url=server_url)
            raise AddressBookUnreachable(
                f"The user name {username!r} cannot reach the address book {label}."
            ) from None
        if book is None:
            gone = discovery.last_status in (404, 410)
            raise AddressBookUnreachable(
                f"The address book {label} "
                + ("no longer exists on the server." if gone else "is no longer an address book.")
            )
        return book
    finally:
        discovery.session.close()


def carddav_addressbook_exists(
    *, collection_url: str, username: str, password: str, timeout: float = DEFAULT_TIMEOUT_SECONDS
) -> bool:
    """Whether an address book is still at `collection_url` (False when the server says
    it is gone). Raises CardDAVDiscoveryError when the server cannot tell us."""
    discovery = _Discovery(
        username=username, password=password, timeout=timeout, server_url=collection_url
    )
    try:
        if discovery.book(url=collection_url) is not None:
            return True
        if discovery.last_status in (404, 410):
            return False
        raise CardDAVDiscoveryError(
            f"The server answered HTTP {discovery.last_status} for the address book "
            f"at {collection_url}."
        )
    finally:
        discovery.session.close()


def carddav_credentials_verify(*, target_account: TargetAccount, server_url: str) -> str:
    """Test the account's user name and app password and store them, with the time, only
    when they work. An account with a pinned address book is tested against that book
    (AddressBookUnreachable when it is gone or out of reach); a new one pins the first
    book found. Call it with the new credentials set but not yet saved: on failure the
    error is raised and the stored account stays as it was."""
    if target_account.collection_url:
        book = carddav_addressbook_check(
            server_url=server_url,
            collection_url=target_account.collection_url,
            username=target_account.username,
            password=target_account.secret,
            name=target_account.collection_name,
        )
    else:
        book = carddav_addressbooks_list(
            server_url=server_url,
            username=target_account.username,
            password=target_account.secret,
        )[0]
    target_account.collection_url = book.url
    target_account.collection_name = book.name
    target_account.verified_at = timezone.now()
    target_account.full_clean()
    if target_account.pk is None:
        target_account.save()
    else:
        target_account.save(
            update_fields=[
                "username",
                "secret",
                "collection_url",
                "collection_name",
                "verified_at",
                "updated_at",
            ]
        )
    return book.url


def carddav_addressbook_create(
    *,
    home_url: str,
    username: str,
    password: str,
    name: str,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> str:
    """Create an address book `name` in the home (extended MKCOL, RFC 6352 §6.3.1) and
    return its URL. For tests and the demo's seeding only: production never creates one."""
    url = urljoin(home_url if home_url.endswith("/") else home_url + "/", quote(name) + "/")
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<D:mkcol xmlns:D="DAV:" xmlns:C="{CARDDAV}"><D:set><D:prop>'
        "<D:resourcetype><D:collection/><C:addressbook/></D:resourcetype>"
        f"<D:displayname>{name.replace('&', '&amp;').replace('<', '&lt;')}</D:displayname>"
        "</D:prop></D:set></D:mkcol>"
    ).encode()
    with dav_session(username=username, password=password) as session:
        response = session.request(
            "MKCOL",
            url,
            headers={"Content-Type": XML_CONTENT_TYPE},
            data=body,
            timeout=timeout,
        )
    if response.status_code in (401, 403):
        raise CredentialsRejected(f"The server at {url} rejected the user name {username!r}.")
    if response.status_code != 201:
        raise CardDAVDiscoveryError(
            f"The address book {name!r} could not be created at {url}: "
            f"HTTP {response.status_code} {response.text[:200]}"
        )
    return url
