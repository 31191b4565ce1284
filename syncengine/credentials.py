"""Linking users and their mailbox credentials: credentials are tested against the
mailbox before anything is stored.

A linked user's first run waits for credentials that work (DESIGN §5), so a successful
save tells the engine that the link may now be ready.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from profiles.models import LinkedUser, SyncProfile, TargetAccount, TargetKind
from profiles.services import linked_user_link
from profiles.signals import link_readiness_changed
from syncengine.superoffice.reads import AssociateInfo
from syncengine.targets.carddav_discovery import (
    CardDAVDiscoveryError,
    carddav_addressbook_discover,
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
    them (with the address book found) only when they work. An empty password keeps the
    stored one, so a user can change only their user name."""
    server_url = _server_url(linked_user.profile)
    account = TargetAccount.objects.filter(linked_user=linked_user).first()
    if account is None:
        account = TargetAccount(linked_user=linked_user)
    if not password and not account.secret:
        raise CredentialsNotSaved("Type the app password of the mailbox.")
    previous_book = account.collection_url
    account.username = username.strip()
    account.secret = password or account.secret
    try:
        carddav_credentials_verify(target_account=account, server_url=server_url)
    except CardDAVDiscoveryError as error:
        raise CredentialsNotSaved(f"{error} Nothing was saved.") from error
    if previous_book and account.collection_url != previous_book:
        _moved_to_another_address_book(linked_user)
    _ready(linked_user)
    return account


def _moved_to_another_address_book(linked_user: LinkedUser) -> None:
    """What we wrote lives in the old book: forget it, and fill the new book in full.

    The run rebuilds its state from our marks in the new book, so nothing is written
    twice there; the old book is left as it is (never ours to empty uninvited)."""
    from syncengine.models import PersonMapping, RunKind
    from syncengine.orchestration import sync_run_request

    with transaction.atomic():
        PersonMapping.objects.filter(linked_user=linked_user).delete()
        sync_run_request(linked_user_id=linked_user.pk, kind=RunKind.HOUSEKEEPING)


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
        collection_url = carddav_addressbook_discover(
            server_url=_server_url(profile), username=username, password=password
        )
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
            collection_url=collection_url,
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
