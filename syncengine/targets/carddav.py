"""CardDAV (RFC 6352): our contacts as vCards in one address book collection.

Every card we write has a deterministic UID and href (`{collection}/{uid}.vcf`) and our
mark `X-SUPEROFFICE-PERSONID`. Creates use `If-None-Match: *`, so a retried create can
never make a second copy; updates and deletes use `If-Match`, and a card whose etag moved
(edited in the mailbox) is re-read and overwritten only when it still carries our mark.
The listing that drift healing compares with is one PROPFIND (Depth 1, etags only); cards
are read back with addressbook-multiget only where the listing shows a difference.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urljoin, urlsplit

# Only the type: parsing goes through defusedxml.
from xml.etree.ElementTree import Element

import requests
import vobject
from defusedxml import ElementTree

from syncengine.rendering import ContactCard
from syncengine.targets.base import (
    ContactExists,
    ContactGone,
    OwnContact,
    Target,
    TargetError,
    WrittenContact,
)

if TYPE_CHECKING:
    from profiles.models import TargetAccount

DAV = "DAV:"
CARDDAV = "urn:ietf:params:xml:ns:carddav"
MARK = "X-SUPEROFFICE-PERSONID"
PRODID = "-//Synchronizer//SuperOffice persons//EN"
VCARD_CONTENT_TYPE = "text/vcard; charset=utf-8"
XML_CONTENT_TYPE = "application/xml; charset=utf-8"
DEFAULT_TIMEOUT_SECONDS = 30.0
# A server that asks us to wait longer than this is busy: the next run (≤ 15 min) retries.
RETRY_AFTER_CAP_SECONDS = 5.0
MULTIGET_BATCH_SIZE = 100
CREDENTIALS_REJECTED = "The mailbox rejected the user name or app password"

_TEL_TYPES = {"cell": "CELL", "home": "HOME", "work": "WORK"}


def clark(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}"


# --- WebDAV XML --------------------------------------------------------------------------


@dataclass(frozen=True)
class DavResponse:
    """One `DAV:response` of a multistatus: its href, status and the properties found."""

    href: str
    status: int
    props: dict[str, Element] = field(default_factory=dict)

    def text(self, namespace: str, name: str) -> str:
        element = self.props.get(clark(namespace, name))
        return (element.text or "") if element is not None else ""

    def child_hrefs(self, namespace: str, name: str) -> list[str]:
        """The `DAV:href` values inside a property (current-user-principal, home sets)."""
        element = self.props.get(clark(namespace, name))
        if element is None:
            return []
        return [(h.text or "").strip() for h in element.iter(clark(DAV, "href")) if h.text]

    def has_resourcetype(self, namespace: str, name: str) -> bool:
        element = self.props.get(clark(DAV, "resourcetype"))
        return element is not None and element.find(clark(namespace, name)) is not None


def _status_code(status_line: str) -> int:
    """`HTTP/1.1 404 Not Found` → 404."""
    parts = status_line.split()
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def multistatus_parse(body: bytes) -> list[DavResponse]:
    """The responses of a 207 Multi-Status body (defusedxml: a server's XML is untrusted)."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as error:
        raise ValueError(f"The server answered with XML we cannot read: {error}") from error
    if root.tag != clark(DAV, "multistatus"):
        raise ValueError("The server did not answer with a WebDAV multistatus.")
    responses: list[DavResponse] = []
    for node in root.iter(clark(DAV, "response")):
        href = (node.findtext(clark(DAV, "href")) or "").strip()
        props: dict[str, Element] = {}
        status = _status_code(node.findtext(clark(DAV, "status")) or "")
        for propstat in node.iter(clark(DAV, "propstat")):
            if _status_code(propstat.findtext(clark(DAV, "status")) or "") != 200:
                continue
            status = status or 200
            prop = propstat.find(clark(DAV, "prop"))
            if prop is not None:
                props.update({child.tag: child for child in prop})
        responses.append(DavResponse(href=href, status=status, props=props))
    return responses


def propfind_body(*props: tuple[str, str]) -> bytes:
    names = "".join(
        f"<{'C' if namespace == CARDDAV else 'D'}:{name}/>" for namespace, name in props
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<D:propfind xmlns:D="DAV:" xmlns:C="{CARDDAV}"><D:prop>{names}</D:prop></D:propfind>'
    ).encode()


def _xml_text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --- vCard -------------------------------------------------------------------------------


def vcard_render(*, card: ContactCard, version: str = "3.0") -> str:
    """The card as vCard 3.0 (the CardDAV baseline) or 4.0. Empty fields are left out,
    except 3.0's N, which RFC 2426 requires on every card."""
    v4 = version == "4.0"
    vcard = vobject.vCard()
    if v4:
        # vobject writes 3.0 by default; an explicit VERSION is kept as given.
        vcard.add("version").value = "4.0"
    vcard.add("prodid").value = PRODID
    vcard.add("uid").value = card.uid
    vcard.add("fn").value = card.display_name
    name_parts = (card.last_name, card.first_name, card.middle_name, card.salutation)
    if not v4 or any(part.strip() for part in name_parts):
        vcard.add("n").value = vobject.vcard.Name(
            family=card.last_name.strip(),
            given=card.first_name.strip(),
            additional=card.middle_name.strip(),
            prefix=card.salutation.strip(),
        )
    if card.organization.strip() or card.department.strip():
        org = [card.organization.strip()]
        if card.department.strip():
            org.append(card.department.strip())
        vcard.add("org").value = org
    if card.job_title.strip():
        vcard.add("title").value = card.job_title.strip()
    for address in card.emails:
        if address.strip():
            line = vcard.add("email")
            line.value = address.strip()
            if not v4:
                line.type_param = "INTERNET"
    for phone in card.phones:
        if not phone.number.strip():
            continue
        line = vcard.add("tel")
        line.value = phone.number.strip()
        kind = _TEL_TYPES.get(phone.kind, "VOICE")
        if v4:
            line.type_param = kind.lower()
            if phone.preferred:
                line.pref_param = "1"
        else:
            line.type_paramlist = [kind, "PREF"] if phone.preferred else [kind]
    if card.business_address is not None:
        business = card.business_address
        line = vcard.add("adr")
        # Street lines joined by newlines, escaped as \n (RFC 6350 §6.3.1, RFC 2426 §3.2.1).
        line.value = vobject.vcard.Address(
            street=business.street,
            city=business.city,
            region=business.region,
            code=business.zip_code,
            country=business.country,
        )
        line.type_param = "work" if v4 else "WORK"
    if card.birthday is not None:
        # 4.0 dates are basic format (RFC 6350 §4.3.1); 3.0 readers expect the extended one.
        vcard.add("bday").value = card.birthday.strftime("%Y%m%d" if v4 else "%Y-%m-%d")
    categories = [c for c in card.categories if c.strip()]
    if categories:
        vcard.add("categories").value = categories
    vcard.add(MARK.lower()).value = str(card.person_id)
    text: str = vcard.serialize()
    return text


_UNFOLD = re.compile(r"\r?\n[ \t]")
_PROPERTY_LINE = re.compile(r"^(?:[A-Za-z0-9-]+\.)?([A-Za-z0-9-]+)(?:;[^:]*)?:(.*)$")


@dataclass(frozen=True)
class Mark:
    uid: str
    person_id: int


def vcard_mark(text: str) -> Mark | None:
    """Our mark on a stored vCard, or None when the card is not ours.

    A line scan rather than a full parse: listing a big address book reads every card,
    and a malformed card someone else wrote must not stop us from finding ours.
    """
    uid = ""
    person_id: int | None = None
    for line in _UNFOLD.sub("", text).splitlines():
        match = _PROPERTY_LINE.match(line)
        if match is None:
            continue
        name, value = match.group(1).upper(), match.group(2).strip()
        if name == "UID":
            uid = value
        elif name == MARK and value.isdigit():
            person_id = int(value)
    if person_id is None or not uid:
        return None
    return Mark(uid=uid, person_id=person_id)


def _is_ours(text: str, *, uid: str) -> bool:
    mark = vcard_mark(text)
    return mark is not None and mark.uid == uid


# --- HTTP --------------------------------------------------------------------------------


def _retry_after_seconds(response: requests.Response) -> float:
    """Seconds a 429/503 asks us to wait (RFC 9110: delay-seconds or an HTTP date)."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return 1.0
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 1.0
    return max(0.0, (when - datetime.now(tz=UTC)).total_seconds())


def dav_session(*, username: str, password: str) -> requests.Session:
    """A keep-alive session with Basic auth. Credentials go out as UTF-8: requests would
    otherwise encode them as Latin-1 and mangle non-ASCII app passwords."""
    session = requests.Session()
    session.auth = requests.auth.HTTPBasicAuth(username.encode(), password.encode())
    session.headers["User-Agent"] = "Synchronizer (CardDAV)"
    return session


@dataclass(frozen=True)
class _Stored:
    text: str
    etag: str


class CardDAVTarget(Target):
    """One user's address book collection, over one keep-alive HTTP session."""

    def __init__(
        self,
        *,
        collection_url: str,
        username: str,
        password: str,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self.collection_url = (
            collection_url if collection_url.endswith("/") else collection_url + "/"
        )
        self.timeout = timeout
        self.session = dav_session(username=username, password=password)
        self._version: str | None = None

    @classmethod
    def from_account(
        cls, *, target_account: TargetAccount, timeout: float = DEFAULT_TIMEOUT_SECONDS
    ) -> CardDAVTarget:
        if not target_account.collection_url:
            raise TargetError(
                "The mailbox credentials have not been verified yet, so no address book is known.",
                permanent=True,
            )
        return cls(
            collection_url=target_account.collection_url,
            username=target_account.username,
            password=target_account.secret,
            timeout=timeout,
        )

    # -- Target --------------------------------------------------------------------------

    def create(self, *, card: ContactCard) -> WrittenContact:
        ref = self.ref_for(card.uid)
        body = vcard_render(card=card, version=self.vcard_version).encode()
        response = self._request(
            "PUT",
            ref,
            headers={"If-None-Match": "*", "Content-Type": VCARD_CONTENT_TYPE},
            body=body,
            doing=f"creating {card.display_name}",
        )
        if response.ok:
            return WrittenContact(ref=ref, etag=self._etag_after_write(ref, response))
        if response.status_code == 412:
            raise self._existing(ref=ref, uid=card.uid)
        if response.status_code == 409:
            # no-uid-conflict: a card with our UID is at another href (RFC 6352 §6.3.2.1).
            raise self._existing(ref=self._href_of_uid(card.uid) or ref, uid=card.uid)
        if response.status_code == 404:
            raise self._collection_gone()
        raise self._unexpected(response, doing=f"creating {card.display_name}")

    def update(self, *, ref: str, etag: str, card: ContactCard) -> WrittenContact:
        body = vcard_render(card=card, version=self.vcard_version).encode()
        doing = f"updating {card.display_name}"
        for attempt in range(2):
            response = self._request(
                "PUT",
                ref,
                headers={"If-Match": etag, "Content-Type": VCARD_CONTENT_TYPE},
                body=body,
                doing=doing,
            )
            if response.ok:
                return WrittenContact(ref=ref, etag=self._etag_after_write(ref, response))
            if response.status_code == 404:
                raise ContactGone(f"{card.display_name} is no longer in the address book.")
            if response.status_code not in (409, 412) or attempt:
                break
            # Edited in the mailbox (or our etag is stale): CRM wins, but only on our card.
            stored = self._get(ref)
            if stored is None:
                raise ContactGone(f"{card.display_name} is no longer in the address book.")
            if not _is_ours(stored.text, uid=card.uid):
                raise TargetError(
                    f"The contact at {ref} no longer carries Synchronizer's mark, "
                    "so it was left untouched."
                )
            etag = stored.etag
        raise self._unexpected(response, doing=doing)

    def delete(self, *, ref: str, etag: str, uid: str) -> None:
        doing = f"deleting {uid}"
        for attempt in range(2):
            response = self._request("DELETE", ref, headers={"If-Match": etag}, doing=doing)
            if response.ok:
                return
            if response.status_code == 404:
                raise ContactGone(f"{uid} is no longer in the address book.")
            if response.status_code not in (409, 412) or attempt:
                break
            stored = self._get(ref)
            if stored is None:
                raise ContactGone(f"{uid} is no longer in the address book.")
            if not _is_ours(stored.text, uid=uid):
                # Our card was replaced by someone else's: ours is gone, theirs stays.
                raise ContactGone(f"The contact at {ref} is no longer ours; it was left untouched.")
            etag = stored.etag
        raise self._unexpected(response, doing=doing)

    def list_own(self) -> list[OwnContact]:
        """Cards carrying our mark: one addressbook-query REPORT, or, where the server
        cannot filter, a PROPFIND listing read back with addressbook-multiget batches."""
        response = self._request(
            "REPORT",
            self.collection_url,
            headers={"Depth": "1", "Content-Type": XML_CONTENT_TYPE},
            body=_ADDRESSBOOK_QUERY,
            doing="listing the address book",
        )
        if response.status_code == 404:
            raise self._collection_gone()
        if response.status_code == 207:
            entries: Iterator[DavResponse] = iter(self._parse(response))
        elif response.status_code in (400, 405, 415, 422, 501):
            entries = self._multiget_all()
        else:
            raise self._unexpected(response, doing="listing the address book")
        return [own for entry in entries if entry.status == 200 and (own := self._own_of(entry))]

    def listing(self) -> dict[str, str]:
        """Every card's href and etag: one PROPFIND (Depth 1), no card bodies. Only the
        two properties needed: asking for more (the vCard versions) would add a refusal
        per card to the answer, a third more bytes on every housekeeping run."""
        response = self._request(
            "PROPFIND",
            self.collection_url,
            headers={"Depth": "1", "Content-Type": XML_CONTENT_TYPE},
            body=propfind_body((DAV, "resourcetype"), (DAV, "getetag")),
            doing="listing the address book",
        )
        if response.status_code == 404:
            raise self._collection_gone()
        if response.status_code != 207:
            raise self._unexpected(response, doing="listing the address book")
        collection = self._path(self.collection_url)
        listed: dict[str, str] = {}
        for entry in self._parse(response):
            path = self._path(entry.href)
            if path == collection:
                if not entry.has_resourcetype(CARDDAV, "addressbook"):
                    raise self._not_an_addressbook()
            elif entry.status == 200 and not entry.has_resourcetype(DAV, "collection"):
                listed[path] = entry.text(DAV, "getetag").strip()
        return listed

    def marks(self, refs: Collection[str]) -> dict[str, OwnContact | None]:
        """Our mark on each card at `refs`, read with addressbook-multiget batches."""
        hrefs = sorted(refs)
        found: dict[str, OwnContact | None] = {}
        for start in range(0, len(hrefs), MULTIGET_BATCH_SIZE):
            for entry in self._multiget(hrefs[start : start + MULTIGET_BATCH_SIZE]):
                if entry.status == 200:
                    found[self._path(entry.href)] = self._own_of(entry)
        return found

    def _own_of(self, entry: DavResponse) -> OwnContact | None:
        """The card in a REPORT/PROPFIND answer as ours, if it carries our mark."""
        mark = vcard_mark(entry.text(CARDDAV, "address-data"))
        if mark is None:
            return None
        return OwnContact(
            uid=mark.uid,
            person_id=mark.person_id,
            ref=self._path(entry.href),
            etag=entry.text(DAV, "getetag").strip(),
        )

    def uid_at(self, ref: str) -> str | None:
        path, collection = self._path(ref), self._path(self.collection_url)
        name = path.removeprefix(collection)
        if name == path or "/" in name or not name.endswith(".vcf"):
            return None
        uid = unquote(name.removesuffix(".vcf"))
        return uid if self.ref_for(uid) == path else None

    def close(self) -> None:
        self.session.close()

    # -- the collection --------------------------------------------------------------------

    @property
    def vcard_version(self) -> str:
        """ "4.0" when the collection advertises it in supported-address-data, else "3.0".
        Read once, at the first write; that request also proves the book is there."""
        if self._version is None:
            self._version = self._read_collection()
        return self._version

    def ref_for(self, uid: str) -> str:
        """Our deterministic href for a UID, as a server path (what DAV:href holds)."""
        return self._path(self.collection_url) + quote(uid, safe="") + ".vcf"

    def _read_collection(self) -> str:
        response = self._request(
            "PROPFIND",
            self.collection_url,
            headers={"Depth": "0", "Content-Type": XML_CONTENT_TYPE},
            body=propfind_body((DAV, "resourcetype"), (CARDDAV, "supported-address-data")),
            doing="opening the address book",
        )
        if response.status_code == 404:
            raise self._collection_gone()
        if response.status_code != 207:
            raise self._unexpected(response, doing="opening the address book")
        entries = self._parse(response)
        if not entries:
            raise self._not_an_addressbook()
        return self._collection_version(entries[0])

    def _collection_version(self, collection: DavResponse) -> str:
        if not collection.has_resourcetype(CARDDAV, "addressbook"):
            raise self._not_an_addressbook()
        supported = collection.props.get(clark(CARDDAV, "supported-address-data"))
        if supported is not None:
            for data_type in supported.iter(clark(CARDDAV, "address-data-type")):
                if (
                    data_type.get("version") == "4.0"
                    and data_type.get("content-type", "text/vcard").lower() == "text/vcard"
                ):
                    return "4.0"
        return "3.0"

    def _not_an_addressbook(self) -> TargetError:
        return TargetError(
            f"{self.collection_url} is not an address book; verify the mailbox "
            "credentials again to find it.",
            permanent=True,
        )

    # -- reads -----------------------------------------------------------------------------

    def _get(self, ref: str) -> _Stored | None:
        response = self._request("GET", ref, doing=f"reading {ref}")
        if response.status_code == 404:
            return None
        if not response.ok:
            raise self._unexpected(response, doing=f"reading {ref}")
        etag = response.headers.get("ETag") or self._etag_of(ref)
        return _Stored(text=response.content.decode("utf-8", errors="replace"), etag=etag)

    def _etag_of(self, ref: str) -> str:
        response = self._request(
            "PROPFIND",
            ref,
            headers={"Depth": "0", "Content-Type": XML_CONTENT_TYPE},
            body=propfind_body((DAV, "getetag")),
            doing=f"reading the version of {ref}",
        )
        if response.status_code != 207:
            raise self._unexpected(response, doing=f"reading the version of {ref}")
        entries = self._parse(response)
        return entries[0].text(DAV, "getetag") if entries else ""

    def _etag_after_write(self, ref: str, response: requests.Response) -> str:
        # RFC 6352 §6.3.2.3: a server that changed the card on the way in sends no ETag.
        return response.headers.get("ETag") or self._etag_of(ref)

    def _href_of_uid(self, uid: str) -> str | None:
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            f'<C:addressbook-query xmlns:D="DAV:" xmlns:C="{CARDDAV}">'
            "<D:prop><D:getetag/></D:prop><C:filter>"
            '<C:prop-filter name="UID"><C:text-match collation="i;octet" match-type="equals">'
            f"{_xml_text(uid)}</C:text-match></C:prop-filter></C:filter></C:addressbook-query>"
        ).encode()
        response = self._request(
            "REPORT",
            self.collection_url,
            headers={"Depth": "1", "Content-Type": XML_CONTENT_TYPE},
            body=body,
            doing=f"looking up {uid}",
        )
        if response.status_code == 404:
            raise self._collection_gone()
        if response.status_code != 207:
            return None
        hrefs = [self._path(e.href) for e in self._parse(response) if e.status == 200]
        return hrefs[0] if hrefs else None

    def _existing(self, *, ref: str, uid: str) -> TargetError:
        """What a refused create found at `ref`: ours to adopt, or someone else's card."""
        stored = self._get(ref)
        if stored is None:
            return TargetError(
                f"The address book refused {uid} but holds no such card; the next run tries again."
            )
        if not _is_ours(stored.text, uid=uid):
            # One contact's failure, not the mailbox's: the run goes on with the others.
            return TargetError(
                f"A contact that Synchronizer did not create is at {ref}; it was left "
                "untouched. Remove it from the address book to let this person sync."
            )
        return ContactExists(WrittenContact(ref=ref, etag=stored.etag))

    def _multiget_all(self) -> Iterator[DavResponse]:
        hrefs = sorted(self.listing())
        for start in range(0, len(hrefs), MULTIGET_BATCH_SIZE):
            yield from self._multiget(hrefs[start : start + MULTIGET_BATCH_SIZE])

    def _multiget(self, hrefs: list[str]) -> list[DavResponse]:
        listed = "".join(f"<D:href>{_xml_text(h)}</D:href>" for h in hrefs)
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            f'<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="{CARDDAV}">'
            f"<D:prop><D:getetag/><C:address-data/></D:prop>{listed}</C:addressbook-multiget>"
        ).encode()
        response = self._request(
            "REPORT",
            self.collection_url,
            headers={"Depth": "1", "Content-Type": XML_CONTENT_TYPE},
            body=body,
            doing="reading the address book",
        )
        if response.status_code != 207:
            raise self._unexpected(response, doing="reading the address book")
        return self._parse(response)

    # -- HTTP ------------------------------------------------------------------------------

    def _path(self, href: str) -> str:
        return urlsplit(urljoin(self.collection_url, href)).path

    def _parse(self, response: requests.Response) -> list[DavResponse]:
        try:
            return multistatus_parse(response.content)
        except ValueError as error:
            raise TargetError(f"{error} ({response.request.method} {response.url})") from error

    def _request(
        self,
        method: str,
        ref: str,
        *,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        doing: str,
    ) -> requests.Response:
        """One request; 401/403 are permanent, 429/5xx and network errors are not, and a
        429/503 with a short Retry-After is retried once."""
        url = urljoin(self.collection_url, ref)
        for attempt in range(2):
            try:
                response = self.session.request(
                    method,
                    url,
                    headers=headers,
                    data=body,
                    timeout=self.timeout,
                    allow_redirects=False,
                )
            except requests.RequestException as error:
                raise TargetError(
                    f"The mailbox server could not be reached while {doing}: {error}"
                ) from error
            if response.status_code in (429, 503) and not attempt:
                wait = _retry_after_seconds(response)
                if wait <= RETRY_AFTER_CAP_SECONDS:
                    time.sleep(wait)
                    continue
            break
        if response.status_code in (401, 403):
            raise TargetError(
                f"{CREDENTIALS_REJECTED} (HTTP {response.status_code}).", permanent=True
            )
        if response.status_code == 429 or response.status_code >= 500:
            raise TargetError(
                f"The mailbox server is busy or failing (HTTP {response.status_code}) while "
                f"{doing}; the next run tries again."
            )
        return response

    def _collection_gone(self) -> TargetError:
        return TargetError(
            f"The address book was not found at {self.collection_url}; verify the mailbox "
            "credentials again to find it.",
            permanent=True,
        )

    def _unexpected(self, response: requests.Response, *, doing: str) -> TargetError:
        detail = response.text.strip()[:200]
        return TargetError(
            f"The mailbox server answered HTTP {response.status_code} while {doing}"
            + (f": {detail}" if detail else ".")
        )


_ADDRESSBOOK_QUERY = (
    '<?xml version="1.0" encoding="utf-8"?>'
    f'<C:addressbook-query xmlns:D="DAV:" xmlns:C="{CARDDAV}">'
    "<D:prop><D:getetag/><C:address-data/></D:prop>"
    f'<C:filter><C:prop-filter name="{MARK}"/></C:filter></C:addressbook-query>'
).encode()
