"""Linking users and their mailbox credentials: credentials are tested against the
mailbox before anything is stored.

A linked user's first run waits for credentials that work (DESIGN §5), so a successful
save tells the engine that the link may now be ready.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from uuid import uuid4

from django.db import transaction
from django.utils import timezone

from profiles.models import LinkedUser, SyncProfile, TargetAccount, TargetKind
from profiles.services import linked_user_link
from profiles.signals import link_readiness_changed
from syncengine.models import PersonMapping
from syncengine.rendering import contact_uid
from syncengine.superoffice.reads import AssociateInfo
from syncengine.targets.base import ContactGone, TargetError
from syncengine.targets.carddav import CardDAVTarget
from syncengine.targets.carddav_discovery import (
    AddressBook,
    AddressBookUnreachable,
    CardDAVDiscoveryError,
    carddav_addressbook_check,
    carddav_addressbook_exists,
    carddav_addressbooks_list,
    carddav_credentials_verify,
)


class CredentialsNotSaved(Exception):
    """The credentials were not stored; the message says why, for the person who typed them."""


def _server_url(profile: SyncProfile) -> str:
    if profile.target_kind != TargetKind.CARDDAV:
        raise CredentialsNotSaved(
            f"{profile.get_target_kind_display()} mailboxes cannot be connected yet."
        )
    if not profile.carddav_url:
        raise CredentialsNotSaved(
            f"The profile “{profile}” has no CardDAV server URL yet; an administrator sets "
            "it under Manage Profile."
        )
    return profile.carddav_url


def _ready(linked_user: LinkedUser) -> None:
    link_readiness_changed.send(sender=LinkedUser, linked_user_id=linked_user.pk)


def target_credentials_save(
    *, linked_user: LinkedUser, username: str, password: str
) -> TargetAccount:
    """Test the user name and app password against the profile's CardDAV server, and store
    them only when they work. The first save pins the address book found; later saves
    test against the pinned book and never switch to another (that is
    `target_addressbook_move`). An empty password keeps the stored one, so a user can
    change only their user name."""
    server_url = _server_url(linked_user.profile)
    account = TargetAccount.objects.filter(linked_user=linked_user).first()
    if account is None:
        account = TargetAccount(linked_user=linked_user)
    if not password and not account.secret:
        raise CredentialsNotSaved("Type the app password of the mailbox.")
    account.username = username.strip()
    account.secret = password or account.secret
    try:
        carddav_credentials_verify(target_account=account, server_url=server_url)
    except AddressBookUnreachable as error:
        raise CredentialsNotSaved(
            f"{error} Nothing was saved. To use another address book, choose "
            "“Move to another address book”."
        ) from error
    except CardDAVDiscoveryError as error:
        raise CredentialsNotSaved(f"{error} Nothing was saved.") from error
    _ready(linked_user)
    return account


class AddressBookNotMoved(Exception):
    """The user stays on their address book; the message says why, in words."""


@dataclass(frozen=True)
class AddressBookMoved:
    """What moving to another address book did, for the person who asked."""

    old: str
    new: str
    removed: int
    left: int
    old_gone: bool
    run_queued: bool

    @property
    def message(self) -> str:
        if self.old_gone:
            done = f"The address book {self.old} no longer exists, so nothing was removed."
        else:
            done = f"{self.removed} contacts Synchronizer had written were removed from {self.old}."
            if self.left:
                done += (
                    f" {self.left} contacts carrying Synchronizer's mark that were not "
                    "written for this mailbox were left there."
                )
        fill = (
            "A full sync is filling the new address book."
            if self.run_queued
            else "The first sync will fill the new address book."
        )
        return f"Synchronizer now writes into {self.new}. {done} {fill}"


def _pinned_account(linked_user: LinkedUser) -> TargetAccount:
    account = TargetAccount.objects.filter(linked_user=linked_user).first()
    if account is None or not account.collection_url:
        raise AddressBookNotMoved(
            "No address book is in use yet: test and save the mailbox credentials first."
        )
    return account


def target_addressbooks_list(*, linked_user: LinkedUser) -> list[AddressBook]:
    """The address books the stored credentials reach, for choosing where to move."""
    account = _pinned_account(linked_user)
    try:
        return carddav_addressbooks_list(
            server_url=_server_url(linked_user.profile),
            username=account.username,
            password=account.secret,
        )
    except (CredentialsNotSaved, CardDAVDiscoveryError) as error:
        raise AddressBookNotMoved(
            f"{error} Test and save working credentials first, then choose the address book."
        ) from error


def target_addressbook_move(*, linked_user: LinkedUser, collection_url: str) -> AddressBookMoved:
    """Move the user to another address book the stored credentials reach: take every
    contact we wrote out of the pinned book, forget what we wrote, pin the new book and
    queue a full run to fill it. A book that is gone is only forgotten.

    Under the user's run lock, so no run writes while the books change. When the old
    book cannot be emptied the user stays on it: the contacts removed so far are put
    back by a housekeeping run, and the message says so.
    """
    from syncengine.locks import LockHeld, run_lock
    from syncengine.models import RunKind
    from syncengine.orchestration import sync_run_request

    account = _pinned_account(linked_user)
    if collection_url.rstrip("/") == account.collection_url.rstrip("/"):
        raise AddressBookNotMoved(f"Synchronizer writes into {account.collection_label} already.")
    try:
        new_book = carddav_addressbook_check(
            server_url=_server_url(linked_user.profile),
            collection_url=collection_url,
            username=account.username,
            password=account.secret,
        )
    except (CredentialsNotSaved, CardDAVDiscoveryError) as error:
        raise AddressBookNotMoved(f"{error} Nothing was changed.") from error
    old = account.collection_label
    try:
        with run_lock(linked_user_id=linked_user.pk, owner=f"move-{uuid4()}"):
            removed, left, old_gone = _old_book_empty(linked_user=linked_user, account=account)
            with transaction.atomic():
                PersonMapping.objects.filter(linked_user=linked_user).delete()
                account.collection_url = new_book.url
                account.collection_name = new_book.name
                account.verified_at = timezone.now()
                account.full_clean()
                account.save(
                    update_fields=["collection_url", "collection_name", "verified_at", "updated_at"]
                )
                run = sync_run_request(linked_user_id=linked_user.pk, kind=RunKind.HOUSEKEEPING)
    except LockHeld as busy:
        raise AddressBookNotMoved(
            "A sync of this mailbox is running; try again in a minute. Nothing was changed."
        ) from busy
    _ready(linked_user)
    return AddressBookMoved(
        old=old,
        new=new_book.label,
        removed=removed,
        left=left,
        old_gone=old_gone,
        run_queued=run is not None,
    )


def _old_book_empty(*, linked_user: LinkedUser, account: TargetAccount) -> tuple[int, int, bool]:
    """Delete every contact we wrote from the pinned book: (removed, marked cards that are
    not ours and were left, whether the book was gone). Only cards with our mark and this
    tenant's UID for the person are deleted, each with one conditional DELETE."""
    from syncengine.models import RunKind
    from syncengine.orchestration import sync_run_request

    label = account.collection_label
    try:
        exists = carddav_addressbook_exists(
            collection_url=account.collection_url,
            username=account.username,
            password=account.secret,
        )
    except CardDAVDiscoveryError as error:
        raise AddressBookNotMoved(
            f"The address book {label} could not be emptied: {error} Nothing was changed."
        ) from error
    if not exists:
        return 0, 0, True
    context_identifier = linked_user.tenant.context_identifier
    target = CardDAVTarget.from_account(target_account=account)
    removed = 0
    try:
        marked = target.list_own()
        ours = [
            contact
            for contact in marked
            if contact.uid
            == contact_uid(context_identifier=context_identifier, person_id=contact.person_id)
        ]
        for contact in ours:
            # The mapping row goes first: a crash in between leaves a card of ours that no
            # row claims (the next run adopts it), never a row claiming a card not there.
            PersonMapping.objects.filter(
                linked_user=linked_user, person_id=contact.person_id
            ).delete()
            try:
                target.delete(ref=contact.ref, etag=contact.etag, uid=contact.uid)
            except ContactGone:
                continue
            removed += 1
    except TargetError as error:
        if not removed:
            raise AddressBookNotMoved(
                f"The address book {label} could not be emptied: {error} Nothing was changed."
            ) from error
        sync_run_request(linked_user_id=linked_user.pk, kind=RunKind.HOUSEKEEPING)
        raise AddressBookNotMoved(
            f"{removed} of {len(ours)} contacts were removed from {label} before the server "
            f"refused: {error} Nothing was switched: Synchronizer still writes into {label}, "
            "and a sync is putting the removed contacts back."
        ) from error
    finally:
        target.close()
    return removed, len(marked) - len(ours), False


def linked_user_link_with_credentials(
    *,
    profile: SyncProfile,
    associate_id: int,
    email: str,
    full_name: str,
    username: str,
    password: str,
) -> LinkedUser:
    """Link an associate and give them tested mailbox credentials, or do neither.

    The mailbox is asked first, outside any transaction; the link and its credentials are
    then stored together.
    """
    username = username.strip() or email
    try:
        book = carddav_addressbooks_list(
            server_url=_server_url(profile), username=username, password=password
        )[0]
    except CardDAVDiscoveryError as error:
        raise CredentialsNotSaved(f"{error} Nobody was linked.") from error
    with transaction.atomic():
        linked_user = linked_user_link(
            profile=profile, associate_id=associate_id, email=email, full_name=full_name
        )
        account = TargetAccount(
            linked_user=linked_user,
            username=username,
            secret=password,
            collection_url=book.url,
            collection_name=book.name,
            verified_at=timezone.now(),
        )
        account.full_clean()
        account.save()
        _ready(linked_user)
    return linked_user


def linked_users_link_by_domain(
    *, profile: SyncProfile, associates: Iterable[AssociateInfo], domain: str
) -> list[LinkedUser]:
    """Link every active user whose e-mail is in `domain` and who is not linked yet.

    They have no mailbox credentials yet: each enters them under Edit credentials."""
    suffix = "@" + domain.strip().lower().removeprefix("@")
    linked_ids = set(
        LinkedUser.objects.alive()
        .filter(tenant_id=profile.tenant_id)
        .values_list("associate_id", flat=True)
    )
    linked: list[LinkedUser] = []
    with transaction.atomic():
        for associate in associates:
            if (
                associate.can_be_linked
                and associate.email.lower().endswith(suffix)
                and associate.associate_id not in linked_ids
            ):
                linked.append(
                    linked_user_link(
                        profile=profile,
                        associate_id=associate.associate_id,
                        email=associate.email,
                        full_name=associate.full_name,
                    )
                )
                linked_ids.add(associate.associate_id)
    return linked
