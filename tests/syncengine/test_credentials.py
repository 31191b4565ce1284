"""Mailbox credentials and the address book they pin (syncengine/credentials.py), against
a real Radicale: testing credentials again never switches the book; moving to another
book is explicit and takes out only what we wrote."""

from __future__ import annotations

from dataclasses import replace

import pytest

from profiles.models import LinkedUser, TargetAccount
from syncengine.credentials import (
    AddressBookNotMoved,
    CredentialsNotSaved,
    target_addressbook_move,
    target_addressbooks_list,
    target_credentials_save,
)
from syncengine.locks import run_lock
from syncengine.models import PersonMapping, RunKind, RunStatus, SyncRun
from syncengine.rendering import contact_uid
from syncengine.targets.base import TargetError
from syncengine.targets.carddav import CardDAVTarget, vcard_render
from syncengine.targets.carddav_discovery import carddav_addressbooks_list
from tests.plugins.radicale import AddressBook, RadicaleHelper
from tests.syncengine.cards import card

FOREIGN_CARD = (
    "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:typed-by-hand\r\nFN:Typed by hand\r\n"
    "N:Hand;Typed;;;\r\nEND:VCARD\r\n"
)


@pytest.fixture
def on_radicale(ingrid_link: LinkedUser, radicale: RadicaleHelper) -> LinkedUser:
    profile = ingrid_link.profile
    profile.carddav_url = radicale.url
    profile.save()
    return ingrid_link


def pinned(linked_user: LinkedUser, radicale: RadicaleHelper, name: str = "first") -> AddressBook:
    """A mailbox with one book, saved as the user's credentials (so it is pinned); their
    first run is as if done."""
    username, password = radicale.new_user("pinned")
    url = radicale.new_addressbook(username, password, name=name)
    target_credentials_save(linked_user=linked_user, username=username, password=password)
    SyncRun.objects.filter(linked_user=linked_user).update(status=RunStatus.SUCCEEDED)
    return AddressBook(url=url, username=username, password=password)


def pinned_behind_another(
    linked_user: LinkedUser, radicale: RadicaleHelper
) -> tuple[AddressBook, str]:
    """A pinned book, and another book of the same mailbox that the server lists before
    it. The server lists in its own order: the book it lists first is taken away while
    the other is pinned, then made again under the same name."""
    username, password = radicale.new_user("pinned")
    books = [radicale.new_addressbook(username, password, name=name) for name in ("one", "two")]
    first = carddav_addressbooks_list(
        server_url=radicale.url, username=username, password=password
    )[0].url
    (later,) = (url for url in books if url != first)
    AddressBook(url=first, username=username, password=password).remove(first)
    target_credentials_save(linked_user=linked_user, username=username, password=password)
    SyncRun.objects.filter(linked_user=linked_user).update(status=RunStatus.SUCCEEDED)
    radicale.new_addressbook(username, password, name="one" if first == books[0] else "two")
    assert (
        carddav_addressbooks_list(server_url=radicale.url, username=username, password=password)[
            0
        ].url
        == first
    )
    return AddressBook(url=later, username=username, password=password), first


def queued_kinds(linked_user: LinkedUser) -> list[str]:
    return list(
        SyncRun.objects.filter(linked_user=linked_user, status=RunStatus.QUEUED).values_list(
            "kind", flat=True
        )
    )


# --- testing credentials again ----------------------------------------------------------------


def test_retesting_with_a_second_book_present_keeps_the_pinned_book(
    on_radicale: LinkedUser, radicale: RadicaleHelper
) -> None:
    book, _ = pinned_behind_another(on_radicale, radicale)
    PersonMapping.objects.create(linked_user=on_radicale, person_id=7, target_uid="u7")

    account = target_credentials_save(
        linked_user=on_radicale, username=book.username, password=book.password
    )

    assert account.collection_url == book.url
    assert TargetAccount.objects.get(linked_user=on_radicale).collection_url == book.url
    assert PersonMapping.objects.filter(linked_user=on_radicale).count() == 1
    assert queued_kinds(on_radicale) == []


def test_the_first_save_pins_the_book_with_its_name(
    on_radicale: LinkedUser, radicale: RadicaleHelper
) -> None:
    book = pinned(on_radicale, radicale, name="work")

    account = TargetAccount.objects.get(linked_user=on_radicale)
    assert (account.collection_url, account.collection_name) == (book.url, "work")
    assert account.collection_label == f"“work” ({book.url})"


def test_a_new_password_is_tested_against_the_pinned_book(
    on_radicale: LinkedUser, radicale: RadicaleHelper
) -> None:
    book, _ = pinned_behind_another(on_radicale, radicale)
    radicale.process.add_user(book.username, "a-new-app-password")

    account = target_credentials_save(
        linked_user=on_radicale, username=book.username, password="a-new-app-password"
    )

    assert (account.collection_url, account.secret) == (book.url, "a-new-app-password")


def test_credentials_that_cannot_reach_the_pinned_book_are_refused(
    on_radicale: LinkedUser, radicale: RadicaleHelper
) -> None:
    book = pinned(on_radicale, radicale)
    PersonMapping.objects.create(linked_user=on_radicale, person_id=7, target_uid="u7")
    before = TargetAccount.objects.get(linked_user=on_radicale)
    other = radicale.new_mailbox("elsewhere")

    with pytest.raises(CredentialsNotSaved) as refused:
        target_credentials_save(
            linked_user=on_radicale, username=other.username, password=other.password
        )

    message = str(refused.value)
    assert f"cannot reach the address book “first” ({book.url})" in message
    assert "Nothing was saved" in message
    assert "Move to another address book" in message
    after = TargetAccount.objects.get(linked_user=on_radicale)
    assert (after.username, after.secret, after.collection_url, after.verified_at) == (
        before.username,
        before.secret,
        before.collection_url,
        before.verified_at,
    )
    assert PersonMapping.objects.filter(linked_user=on_radicale).count() == 1
    assert queued_kinds(on_radicale) == []


def test_a_pinned_book_that_is_gone_refuses_the_save(
    on_radicale: LinkedUser, radicale: RadicaleHelper
) -> None:
    book = pinned(on_radicale, radicale)
    radicale.new_addressbook(book.username, book.password, name="second")
    book.remove(book.url)

    with pytest.raises(CredentialsNotSaved) as refused:
        target_credentials_save(linked_user=on_radicale, username=book.username, password="")

    assert f"The address book “first” ({book.url}) no longer exists" in str(refused.value)
    assert TargetAccount.objects.get(linked_user=on_radicale).collection_url == book.url


def test_a_wrong_password_is_named_as_such(
    on_radicale: LinkedUser, radicale: RadicaleHelper
) -> None:
    book = pinned(on_radicale, radicale)

    with pytest.raises(CredentialsNotSaved, match="rejected the user name"):
        target_credentials_save(linked_user=on_radicale, username=book.username, password="nope")

    assert TargetAccount.objects.get(linked_user=on_radicale).secret == book.password


def test_saving_the_same_address_book_again_keeps_the_state(
    on_radicale: LinkedUser, radicale: RadicaleHelper
) -> None:
    book = pinned(on_radicale, radicale)
    PersonMapping.objects.create(linked_user=on_radicale, person_id=7, target_uid="u7")

    target_credentials_save(linked_user=on_radicale, username=book.username, password="")

    assert PersonMapping.objects.filter(linked_user=on_radicale).count() == 1
    assert TargetAccount.objects.get(linked_user=on_radicale).secret == book.password


# --- moving to another address book -----------------------------------------------------------


def ours(linked_user: LinkedUser, book: AddressBook, *person_ids: int) -> list[str]:
    """Cards we wrote for the user (this tenant's UID and our mark), with mapping rows."""
    target = CardDAVTarget(collection_url=book.url, username=book.username, password=book.password)
    refs = []
    for person_id in person_ids:
        uid = contact_uid(
            context_identifier=linked_user.tenant.context_identifier, person_id=person_id
        )
        written = target.create(card=replace(card(person_id), uid=uid))
        PersonMapping.objects.create(
            linked_user=linked_user,
            person_id=person_id,
            target_uid=uid,
            target_ref=written.ref,
            etag=written.etag,
            content_hash="h",
        )
        refs.append(written.ref)
    target.close()
    return refs


def test_the_books_the_credentials_reach_are_listed(
    on_radicale: LinkedUser, radicale: RadicaleHelper
) -> None:
    book = pinned(on_radicale, radicale)
    second = radicale.new_addressbook(book.username, book.password, name="second")

    books = target_addressbooks_list(linked_user=on_radicale)

    assert sorted((b.url, b.name) for b in books) == sorted(
        [(book.url, "first"), (second, "second")]
    )


def test_moving_removes_only_our_cards_and_refills_the_new_book(
    on_radicale: LinkedUser, radicale: RadicaleHelper
) -> None:
    book = pinned(on_radicale, radicale)
    ours(on_radicale, book, 1, 2)
    book.put("by-hand.vcf", FOREIGN_CARD)
    other_tenant = replace(card(3), uid=contact_uid(context_identifier="Cust99999", person_id=3))
    book.put("other-tenant.vcf", vcard_render(card=other_tenant))
    kept = {
        ref: text
        for ref, text in book.cards().items()
        if ref.endswith(("by-hand.vcf", "other-tenant.vcf"))
    }
    second = radicale.new_addressbook(book.username, book.password, name="second")

    moved = target_addressbook_move(linked_user=on_radicale, collection_url=second)

    assert book.cards() == kept
    assert (moved.removed, moved.left, moved.old_gone, moved.run_queued) == (2, 1, False, True)
    assert moved.message == (
        f"Synchronizer now writes into “second” ({second}). 2 contacts Synchronizer had "
        f"written were removed from “first” ({book.url}). 1 contacts carrying "
        "Synchronizer's mark that were not written for this mailbox were left there. "
        "A full sync is filling the new address book."
    )
    account = TargetAccount.objects.get(linked_user=on_radicale)
    assert (account.collection_url, account.collection_name) == (second, "second")
    assert not PersonMapping.objects.filter(linked_user=on_radicale).exists()
    assert queued_kinds(on_radicale) == [RunKind.HOUSEKEEPING]


def test_moving_from_a_book_that_is_gone_cleans_up(
    on_radicale: LinkedUser, radicale: RadicaleHelper
) -> None:
    book = pinned(on_radicale, radicale)
    PersonMapping.objects.create(linked_user=on_radicale, person_id=7, target_uid="u7")
    second = radicale.new_addressbook(book.username, book.password, name="second")
    book.remove(book.url)

    moved = target_addressbook_move(linked_user=on_radicale, collection_url=second)

    assert moved.old_gone
    assert f"The address book “first” ({book.url}) no longer exists" in moved.message
    assert TargetAccount.objects.get(linked_user=on_radicale).collection_url == second
    assert not PersonMapping.objects.filter(linked_user=on_radicale).exists()
    assert queued_kinds(on_radicale) == [RunKind.HOUSEKEEPING]


def test_a_book_the_credentials_do_not_reach_is_refused(
    on_radicale: LinkedUser, radicale: RadicaleHelper
) -> None:
    book = pinned(on_radicale, radicale)
    ours(on_radicale, book, 1)
    elsewhere = radicale.new_mailbox("elsewhere")

    with pytest.raises(AddressBookNotMoved, match="cannot reach the address book"):
        target_addressbook_move(linked_user=on_radicale, collection_url=elsewhere.url)

    assert len(book.cards()) == 1
    assert TargetAccount.objects.get(linked_user=on_radicale).collection_url == book.url
    assert PersonMapping.objects.filter(linked_user=on_radicale).count() == 1


def test_a_book_that_cannot_be_read_keeps_the_user_where_they_are(
    on_radicale: LinkedUser, radicale: RadicaleHelper, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = pinned(on_radicale, radicale)
    ours(on_radicale, book, 1)
    second = radicale.new_addressbook(book.username, book.password, name="second")

    def busy(self: CardDAVTarget) -> list[object]:
        raise TargetError("The mailbox server is busy or failing (HTTP 503).")

    monkeypatch.setattr(CardDAVTarget, "list_own", busy)

    with pytest.raises(AddressBookNotMoved) as refused:
        target_addressbook_move(linked_user=on_radicale, collection_url=second)

    assert str(refused.value) == (
        f"The address book “first” ({book.url}) could not be emptied: The mailbox server "
        "is busy or failing (HTTP 503). Nothing was changed."
    )
    assert len(book.cards()) == 1
    assert TargetAccount.objects.get(linked_user=on_radicale).collection_url == book.url
    assert PersonMapping.objects.filter(linked_user=on_radicale).count() == 1


def test_a_move_stopped_half_way_switches_nothing_and_puts_the_cards_back(
    on_radicale: LinkedUser, radicale: RadicaleHelper, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = pinned(on_radicale, radicale)
    ours(on_radicale, book, 1, 2)
    second = radicale.new_addressbook(book.username, book.password, name="second")
    real_delete = CardDAVTarget.delete
    deletes: list[str] = []

    def fails_second_time(self: CardDAVTarget, *, ref: str, etag: str, uid: str) -> None:
        deletes.append(uid)
        if len(deletes) == 2:
            raise TargetError("The mailbox server is busy or failing (HTTP 503).")
        real_delete(self, ref=ref, etag=etag, uid=uid)

    monkeypatch.setattr(CardDAVTarget, "delete", fails_second_time)

    with pytest.raises(AddressBookNotMoved) as refused:
        target_addressbook_move(linked_user=on_radicale, collection_url=second)

    assert str(refused.value).startswith(f"1 of 2 contacts were removed from “first” ({book.url})")
    assert "Nothing was switched" in str(refused.value)
    assert TargetAccount.objects.get(linked_user=on_radicale).collection_url == book.url
    # No mapping row claims a card that is gone; the card left is adopted by that run.
    assert not PersonMapping.objects.filter(linked_user=on_radicale).exists()
    (left,) = book.cards().values()
    assert f"UID:{deletes[1]}" in left
    assert queued_kinds(on_radicale) == [RunKind.HOUSEKEEPING]


def test_a_running_sync_blocks_the_move(on_radicale: LinkedUser, radicale: RadicaleHelper) -> None:
    book = pinned(on_radicale, radicale)
    ours(on_radicale, book, 1)
    second = radicale.new_addressbook(book.username, book.password, name="second")

    with (
        run_lock(linked_user_id=on_radicale.pk, owner="a-running-run"),
        pytest.raises(AddressBookNotMoved, match="A sync of this mailbox is running"),
    ):
        target_addressbook_move(linked_user=on_radicale, collection_url=second)

    assert len(book.cards()) == 1
    assert TargetAccount.objects.get(linked_user=on_radicale).collection_url == book.url


def test_moving_to_the_book_in_use_is_refused(
    on_radicale: LinkedUser, radicale: RadicaleHelper
) -> None:
    book = pinned(on_radicale, radicale)

    with pytest.raises(AddressBookNotMoved, match="writes into “first”"):
        target_addressbook_move(linked_user=on_radicale, collection_url=book.url)


def test_nothing_to_move_before_the_first_save(on_radicale: LinkedUser) -> None:
    with pytest.raises(AddressBookNotMoved, match="test and save the mailbox credentials"):
        target_addressbooks_list(linked_user=on_radicale)
