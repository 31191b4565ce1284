"""Edit credentials keeps the pinned address book, and *Move to another address book*
(syncengine/views.py `credentials`, `credentials_move`), against a real Radicale: the
owner and their administrator may move, another member and another tenant get 404."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from django.test import Client

from profiles.models import LinkedUser, SyncProfile, TargetAccount, User
from syncengine.credentials import target_credentials_save
from syncengine.models import PersonMapping, RunKind, RunStatus, SyncRun
from syncengine.rendering import contact_uid
from syncengine.targets.carddav import CardDAVTarget
from tests.plugins.radicale import AddressBook, RadicaleHelper
from tests.portals.conftest import make_ready
from tests.portals.pages import messages_of
from tests.syncengine.cards import card

Login = Callable[[User], Client]

FOREIGN_CARD = (
    "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:typed-by-hand\r\nFN:Typed by hand\r\n"
    "N:Hand;Typed;;;\r\nEND:VCARD\r\n"
)


@pytest.fixture
def on_radicale(acme_profile: SyncProfile, radicale: RadicaleHelper) -> SyncProfile:
    acme_profile.carddav_url = radicale.url
    acme_profile.save()
    return acme_profile


@pytest.fixture
def bobs_book(
    bob_link: LinkedUser, on_radicale: SyncProfile, radicale: RadicaleHelper
) -> AddressBook:
    """Bob's mailbox with the book "first" pinned, one card of ours in it beside one typed
    by hand, and a second book "second"."""
    make_ready(bob_link)
    TargetAccount.objects.filter(linked_user=bob_link).delete()
    book = radicale.new_mailbox("bob")
    target_credentials_save(linked_user=bob_link, username=book.username, password=book.password)
    uid = contact_uid(context_identifier=bob_link.tenant.context_identifier, person_id=5)
    target = CardDAVTarget(collection_url=book.url, username=book.username, password=book.password)
    written = target.create(card=replace(card(5), uid=uid))
    target.close()
    PersonMapping.objects.create(
        linked_user=bob_link, person_id=5, target_uid=uid, target_ref=written.ref, etag=written.etag
    )
    book.put("by-hand.vcf", FOREIGN_CARD)
    radicale.new_addressbook(book.username, book.password, name="second")
    return book


def second_of(book: AddressBook) -> str:
    return book.url.replace("/contacts/", "/second/")


class TestCredentialsPage:
    def url(self, linked_user: LinkedUser) -> str:
        return f"/links/{linked_user.code}/credentials/"

    def test_it_names_the_pinned_book_and_offers_the_move(
        self, login: Login, bob: User, bob_link: LinkedUser, bobs_book: AddressBook
    ) -> None:
        response = login(bob).get(self.url(bob_link))

        content = response.content.decode()
        assert f"“contacts” ({bobs_book.url})" in content
        assert f"/links/{bob_link.code}/credentials/move/" in content

    def test_credentials_of_another_mailbox_are_refused_naming_the_book(
        self,
        login: Login,
        bob: User,
        bob_link: LinkedUser,
        bobs_book: AddressBook,
        radicale: RadicaleHelper,
    ) -> None:
        other = radicale.new_mailbox("other")

        response = login(bob).post(
            self.url(bob_link), {"username": other.username, "password": other.password}
        )

        assert response.status_code == 200
        errors = " ".join(response.context["form"].non_field_errors())
        assert f"cannot reach the address book “contacts” ({bobs_book.url})" in errors
        account = TargetAccount.objects.get(linked_user=bob_link)
        assert (account.username, account.collection_url) == (bobs_book.username, bobs_book.url)


class TestMove:
    def url(self, linked_user: LinkedUser) -> str:
        return f"/links/{linked_user.code}/credentials/move/"

    def test_it_lists_the_other_books_the_credentials_reach(
        self, login: Login, bob: User, bob_link: LinkedUser, bobs_book: AddressBook
    ) -> None:
        response = login(bob).get(self.url(bob_link))

        assert response.status_code == 200
        assert response.context["form"].fields["collection_url"].choices == [
            (second_of(bobs_book), f"“second” ({second_of(bobs_book)})")
        ]

    def test_it_moves_and_removes_only_our_cards(
        self, login: Login, bob: User, bob_link: LinkedUser, bobs_book: AddressBook
    ) -> None:
        response = login(bob).post(
            self.url(bob_link), {"collection_url": second_of(bobs_book)}, follow=True
        )

        assert response.redirect_chain[-1][0] == f"/links/{bob_link.code}/credentials/"
        assert messages_of(response) == [
            f"Synchronizer now writes into “second” ({second_of(bobs_book)}). 1 contacts "
            f"Synchronizer had written were removed from “contacts” ({bobs_book.url}). "
            "A full sync is filling the new address book."
        ]
        assert list(bobs_book.cards().values()) == [FOREIGN_CARD]
        assert TargetAccount.objects.get(linked_user=bob_link).collection_url == second_of(
            bobs_book
        )
        assert not PersonMapping.objects.filter(linked_user=bob_link).exists()
        assert SyncRun.objects.get(linked_user=bob_link, status=RunStatus.QUEUED).kind == (
            RunKind.HOUSEKEEPING
        )

    def test_it_works_for_the_administrator(
        self, login: Login, alice: User, bob_link: LinkedUser, bobs_book: AddressBook
    ) -> None:
        response = login(alice).post(self.url(bob_link), {"collection_url": second_of(bobs_book)})

        assert response.status_code == 302
        assert TargetAccount.objects.get(linked_user=bob_link).collection_url == second_of(
            bobs_book
        )

    def test_a_book_not_listed_is_refused(
        self,
        login: Login,
        bob: User,
        bob_link: LinkedUser,
        bobs_book: AddressBook,
        radicale: RadicaleHelper,
    ) -> None:
        elsewhere = radicale.new_mailbox("elsewhere")

        response = login(bob).post(self.url(bob_link), {"collection_url": elsewhere.url})

        assert response.status_code == 200
        assert "collection_url" in response.context["form"].errors
        assert TargetAccount.objects.get(linked_user=bob_link).collection_url == bobs_book.url
        assert len(bobs_book.cards()) == 2

    def test_a_refused_move_is_said_in_words(
        self, login: Login, bob: User, bob_link: LinkedUser, bobs_book: AddressBook
    ) -> None:
        from syncengine.locks import run_lock

        with run_lock(linked_user_id=bob_link.pk, owner="a-running-run"):
            response = login(bob).post(self.url(bob_link), {"collection_url": second_of(bobs_book)})

        assert response.status_code == 200
        assert "A sync of this mailbox is running" in " ".join(
            response.context["form"].non_field_errors()
        )
        assert TargetAccount.objects.get(linked_user=bob_link).collection_url == bobs_book.url

    def test_without_credentials_it_says_what_to_do(
        self, login: Login, bob: User, bob_link: LinkedUser, on_radicale: SyncProfile
    ) -> None:
        response = login(bob).get(self.url(bob_link))

        assert response.status_code == 200
        assert "test and save the mailbox credentials first" in response.context["problem"]

    def test_another_member_gets_404(
        self, login: Login, bob: User, alice_link: LinkedUser, bob_link: LinkedUser
    ) -> None:
        make_ready(alice_link)

        assert login(bob).get(self.url(alice_link)).status_code == 404
        assert login(bob).post(self.url(alice_link), {"collection_url": "x"}).status_code == 404

    def test_another_tenant_gets_404(
        self, login: Login, charlie: User, bob_link: LinkedUser, bobs_book: AddressBook
    ) -> None:
        response = login(charlie).post(self.url(bob_link), {"collection_url": second_of(bobs_book)})

        assert response.status_code == 404
        assert login(charlie).get(self.url(bob_link)).status_code == 404
        assert TargetAccount.objects.get(linked_user=bob_link).collection_url == bobs_book.url

    def test_it_requires_login(self, client: Client, bob_link: LinkedUser) -> None:
        response = client.get(self.url(bob_link))

        assert response.status_code == 302
        assert "login" in response["Location"]
