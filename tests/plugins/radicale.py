"""Pytest fixtures for a real Radicale CardDAV server (register with ``pytest_plugins``).

- ``radicale_server`` (session): one ``python -m radicale`` process for the whole session,
  on a free port with a temporary data directory (devservers.radicale.RadicaleProcess).
- ``radicale`` (function): a ``RadicaleHelper`` to make fresh users and address books, so
  tests never see each other's cards, and to read or write cards the way a mailbox user
  would, bypassing the code under test.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import pytest
import requests
from defusedxml import ElementTree

from devservers.radicale import RadicaleProcess

_users = itertools.count(1)


@dataclass
class AddressBook:
    """One address book, driven over raw HTTP as its owner (for arrange and assert)."""

    url: str
    username: str
    password: str

    def _call(self, method: str, ref: str, **kwargs: Any) -> requests.Response:
        return requests.request(
            method,
            urljoin(self.url, ref),
            auth=(self.username, self.password),
            timeout=10,
            **kwargs,
        )

    def cards(self) -> dict[str, str]:
        """Every card in the book, by server path."""
        response = self._call(
            "PROPFIND",
            self.url,
            headers={"Depth": "1"},
            data=b'<?xml version="1.0"?><propfind xmlns="DAV:"><prop><getetag/></prop></propfind>',
        )
        assert response.status_code == 207, response.text
        root = ElementTree.fromstring(response.content)
        hrefs = [
            (node.text or "")
            for node in root.iter("{DAV:}href")
            if (node.text or "").endswith(".vcf")
        ]
        return {href: self.read(href)[0] for href in hrefs}

    def read(self, ref: str) -> tuple[str, str]:
        """The card's text and etag; fails the test when it is not there."""
        response = self._call("GET", ref)
        assert response.status_code == 200, f"{ref}: HTTP {response.status_code}"
        return response.content.decode(), response.headers["ETag"]

    def exists(self, ref: str) -> bool:
        return self._call("GET", ref).status_code == 200

    def put(self, name: str, text: str, *, etag: str | None = None) -> str:
        """Write a card as the mailbox's user would; returns the new etag."""
        headers = {"Content-Type": "text/vcard; charset=utf-8"}
        if etag is not None:
            headers["If-Match"] = etag
        response = self._call("PUT", name, data=text.encode(), headers=headers)
        assert response.status_code in (201, 204), response.text
        return response.headers["ETag"]

    def remove(self, ref: str) -> None:
        response = self._call("DELETE", ref)
        assert response.status_code in (200, 204), response.text


@dataclass
class RadicaleHelper:
    process: RadicaleProcess

    @property
    def url(self) -> str:
        return self.process.url

    def new_user(self, name: str = "user") -> tuple[str, str]:
        """A user nobody else has used in this session, with a random password."""
        username = f"{name}{next(_users)}-{secrets.token_hex(3)}"
        password = secrets.token_urlsafe(12)
        self.process.add_user(username, password)
        return username, password

    def new_addressbook(self, username: str, password: str, name: str = "contacts") -> str:
        # Imported here: a plugin given with `-p` loads before Django is set up, and the
        # syncengine package imports models.
        from syncengine.targets.carddav_discovery import carddav_addressbook_create

        return carddav_addressbook_create(
            home_url=urljoin(self.url, f"{username}/"),
            username=username,
            password=password,
            name=name,
        )

    def new_mailbox(self, name: str = "user") -> AddressBook:
        """A fresh user with one fresh address book."""
        username, password = self.new_user(name)
        return AddressBook(
            url=self.new_addressbook(username, password), username=username, password=password
        )


@pytest.fixture(scope="session")
def radicale_server() -> Iterator[RadicaleProcess]:
    with RadicaleProcess() as process:
        yield process


@pytest.fixture
def radicale(radicale_server: RadicaleProcess) -> RadicaleHelper:
    return RadicaleHelper(process=radicale_server)
