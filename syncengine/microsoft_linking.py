"""Linking SuperOffice associates to the Microsoft 365 organisation's mailboxes by e-mail,
one by one or all that match; with delegated access, by e-mail alone (each user then
connects their own mailbox).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from profiles.models import (
    LinkedUser,
    MicrosoftAccess,
    MicrosoftConnection,
    SyncProfile,
    TargetAccount,
)
from profiles.services import linked_user_link
from syncengine.microsoft_connection import (
    MICROSOFT_ERRORS,
    MicrosoftRefused,
    links_ready,
    microsoft_connection_get,
    refusal_in_words,
)
from syncengine.superoffice.reads import AssociateInfo
from syncengine.targets.microsoft.directory import DirectoryUser, organisation_users


def _mailbox_index(users: Iterable[DirectoryUser]) -> dict[str, DirectoryUser]:
    """Mailboxes by address, case-insensitive; a mailbox's own address wins over another
    user's sign-in name."""
    index: dict[str, DirectoryUser] = {}
    for user in users:
        if user.user_principal_name:
            index.setdefault(user.user_principal_name.casefold(), user)
    for user in users:
        if user.mail:
            index[user.mail.casefold()] = user
    return index


def _organisation_mailboxes(connection: MicrosoftConnection) -> dict[str, DirectoryUser]:
    if not connection.is_connected:
        raise MicrosoftRefused(
            "The Microsoft 365 organisation is not connected: an administrator connects it "
            "first, on the profile page."
        )
    try:
        return _mailbox_index(organisation_users(directory_id=connection.directory_id))
    except MICROSOFT_ERRORS as error:
        raise MicrosoftRefused(
            f"The organisation's mailboxes could not be listed: {refusal_in_words(error)}"
        ) from error


@dataclass(frozen=True)
class MailboxMatch:
    """A SuperOffice user not linked yet, and the organisation's mailbox with their e-mail."""

    associate: AssociateInfo
    mailbox: DirectoryUser | None


def _linked_associates(profile: SyncProfile) -> set[int]:
    return set(
        LinkedUser.objects.alive()
        .filter(tenant_id=profile.tenant_id)
        .values_list("associate_id", flat=True)
    )


def _taken_mailboxes(profile: SyncProfile) -> set[str]:
    return set(
        TargetAccount.objects.filter(
            linked_user__tenant_id=profile.tenant_id, linked_user__deleted_at__isnull=True
        )
        .exclude(remote_user_id="")
        .values_list("remote_user_id", flat=True)
    )


def mailbox_matches_list(
    *, profile: SyncProfile, associates: Iterable[AssociateInfo]
) -> list[MailboxMatch]:
    """Every active SuperOffice user not linked yet, with their mailbox in the organisation
    (or None). With delegated access nobody's mailbox is known before they connect it."""
    connection = microsoft_connection_get(profile=profile)
    mailboxes = (
        {}
        if connection.access == MicrosoftAccess.DELEGATED
        else _organisation_mailboxes(connection)
    )
    linked = _linked_associates(profile)
    return [
        MailboxMatch(associate=associate, mailbox=mailboxes.get(associate.email.casefold()))
        for associate in associates
        if associate.can_be_linked and associate.associate_id not in linked
    ]


def _link_to_mailbox(
    profile: SyncProfile, associate: AssociateInfo, mailbox: DirectoryUser
) -> LinkedUser:
    linked_user = linked_user_link(
        profile=profile,
        associate_id=associate.associate_id,
        email=associate.email,
        full_name=associate.full_name,
    )
    account = TargetAccount(
        linked_user=linked_user,
        username=mailbox.mail or mailbox.user_principal_name,
        remote_user_id=mailbox.id,
        verified_at=timezone.now(),
    )
    account.full_clean()
    account.save()
    links_ready([linked_user.pk])
    return linked_user


def mailbox_link(
    *, profile: SyncProfile, associates: Iterable[AssociateInfo], associate_id: int
) -> LinkedUser:
    """Link one SuperOffice user to the organisation's mailbox with their e-mail; their
    first run is queued as soon as they have signed in once."""
    associate = next((a for a in associates if a.associate_id == associate_id), None)
    if associate is None or not associate.can_be_linked:
        raise MicrosoftRefused("Choose an active SuperOffice user to link.")
    if associate.associate_id in _linked_associates(profile):
        raise MicrosoftRefused(
            f"{associate.full_name or associate.email} is linked already; nobody was linked."
        )
    connection = microsoft_connection_get(profile=profile)
    if connection.access == MicrosoftAccess.DELEGATED:
        return _link_by_email(profile, associate)
    mailbox = _organisation_mailboxes(connection).get(associate.email.casefold())
    if mailbox is None:
        raise MicrosoftRefused(
            f"The Microsoft 365 organisation has no mailbox with the e-mail "
            f"{associate.email}, so {associate.full_name or associate.email} was not linked."
        )
    if mailbox.id in _taken_mailboxes(profile):
        raise MicrosoftRefused(
            f"The mailbox {mailbox.mail or mailbox.user_principal_name} is linked to another "
            "user already; nobody was linked."
        )
    try:
        with transaction.atomic():
            return _link_to_mailbox(profile, associate, mailbox)
    except ValidationError as error:
        raise MicrosoftRefused(" ".join(error.messages)) from error


def _link_by_email(profile: SyncProfile, associate: AssociateInfo) -> LinkedUser:
    """Delegated access: the link waits for the user to connect their mailbox themselves."""
    try:
        with transaction.atomic():
            linked_user = linked_user_link(
                profile=profile,
                associate_id=associate.associate_id,
                email=associate.email,
                full_name=associate.full_name,
            )
            TargetAccount.objects.create(linked_user=linked_user, username=associate.email)
            return linked_user
    except ValidationError as error:
        raise MicrosoftRefused(" ".join(error.messages)) from error


@dataclass(frozen=True)
class BulkLinked:
    linked: list[LinkedUser]
    without_mailbox: list[AssociateInfo]


def mailboxes_link_all(*, profile: SyncProfile, associates: Iterable[AssociateInfo]) -> BulkLinked:
    """Link every SuperOffice user not linked yet whose e-mail is a mailbox of the
    organisation (delegated access: every such user, by e-mail)."""
    connection = microsoft_connection_get(profile=profile)
    associates = list(associates)
    linked: list[LinkedUser] = []
    if connection.access == MicrosoftAccess.DELEGATED:
        taken = _linked_associates(profile)
        with transaction.atomic():
            for associate in associates:
                if associate.can_be_linked and associate.associate_id not in taken:
                    linked.append(_link_by_email(profile, associate))
        return BulkLinked(linked=linked, without_mailbox=[])
    matches = mailbox_matches_list(profile=profile, associates=associates)
    taken_mailboxes = _taken_mailboxes(profile)
    without: list[AssociateInfo] = []
    try:
        with transaction.atomic():
            for match in matches:
                if match.mailbox is None or match.mailbox.id in taken_mailboxes:
                    without.append(match.associate)
                    continue
                linked.append(_link_to_mailbox(profile, match.associate, match.mailbox))
                taken_mailboxes.add(match.mailbox.id)
    except ValidationError as error:
        # Linked meanwhile elsewhere, say: all or nothing, as the page showed them.
        raise MicrosoftRefused(
            f"Nobody was linked: {' '.join(error.messages)} Reload the page and try again."
        ) from error
    return BulkLinked(linked=linked, without_mailbox=without)


def mailboxes_match_linked(*, profile: SyncProfile) -> int:
    """Give users linked by e-mail before the organisation was connected their mailbox;
    returns how many were matched. Microsoft not answering leaves them for later."""
    connection = microsoft_connection_get(profile=profile)
    waiting = list(
        TargetAccount.objects.filter(
            linked_user__profile=profile, linked_user__deleted_at__isnull=True
        ).filter(remote_user_id="")
    )
    linked_now = list(
        LinkedUser.objects.alive().filter(profile=profile).filter(target_account__isnull=True)
    )
    if not waiting and not linked_now:
        return 0
    try:
        mailboxes = _organisation_mailboxes(connection)
    except MicrosoftRefused:
        return 0
    taken = _taken_mailboxes(profile)
    matched: list[int] = []
    with transaction.atomic():
        accounts = waiting + [TargetAccount(linked_user=link) for link in linked_now]
        for account in accounts:
            link = account.linked_user
            mailbox = mailboxes.get((account.username or link.email).casefold())
            if mailbox is None or mailbox.id in taken:
                continue
            account.username = mailbox.mail or mailbox.user_principal_name
            account.remote_user_id = mailbox.id
            account.verified_at = timezone.now()
            account.failure = ""
            account.failed_at = None
            account.full_clean()
            account.save()
            taken.add(mailbox.id)
            matched.append(link.pk)
        links_ready(matched)
    return len(matched)
