"""Microsoft 365 seen from the portals: an administrator connects the organisation
(admin consent, confirmed by their sign-in to it) or each user connects their own mailbox
(delegated consent), and users are linked to the organisation's mailboxes by e-mail.

Every problem Microsoft reports reaches the person as a MicrosoftRefused with the reason
in words; nothing is stored then.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from profiles.models import (
    LinkedUser,
    MicrosoftAccess,
    MicrosoftConnection,
    SyncProfile,
    TargetAccount,
    TargetKind,
    User,
)
from profiles.services import linked_user_link
from profiles.signals import link_readiness_changed
from syncengine.superoffice.reads import AssociateInfo
from syncengine.targets.base import TargetError
from syncengine.targets.microsoft.graph import DirectoryUser, organisation_users
from syncengine.targets.microsoft.identity import (
    ConsentRefused,
    DelegatedGrant,
    MicrosoftNotConfigured,
    admin_consent_url,
    authorization_flow_finish,
    authorization_flow_start,
)

# Microsoft Entra tenant ids are GUIDs; anything else in a callback is not Microsoft's.
DIRECTORY_ID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
NOT_CONFIGURED = (
    "Microsoft 365 is not set up on this Synchronizer: its operator registers the app with "
    "Microsoft and sets MICROSOFT_CLIENT_ID and MICROSOFT_CLIENT_SECRET."
)


class MicrosoftRefused(Exception):
    """Nothing was changed; the message says why, for the person who asked."""


def _problem(error: Exception) -> MicrosoftRefused:
    """Any failure of Microsoft, or of reaching it, in words."""
    if isinstance(error, MicrosoftNotConfigured):
        return MicrosoftRefused(NOT_CONFIGURED)
    if isinstance(error, TargetError | ConsentRefused):
        return MicrosoftRefused(str(error))
    return MicrosoftRefused(f"Microsoft 365 could not be reached: {error}")


# Microsoft's errors, and failures to reach it, that the portal explains instead of failing.
MICROSOFT_ERRORS = (MicrosoftNotConfigured, TargetError, ConsentRefused, OSError)


def _ready(linked_user_ids: Iterable[int]) -> None:
    for linked_user_id in list(linked_user_ids):
        link_readiness_changed.send(sender=LinkedUser, linked_user_id=linked_user_id)


def microsoft_connection_get(*, profile: SyncProfile) -> MicrosoftConnection:
    """The profile's Microsoft 365 connection; only Microsoft 365 profiles have one."""
    if profile.target_kind != TargetKind.MICROSOFT_GRAPH:
        raise MicrosoftRefused(
            f"The profile “{profile}” writes to {profile.get_target_kind_display()}, "
            "not to Microsoft 365."
        )
    connection, _ = MicrosoftConnection.objects.get_or_create(profile=profile)
    return connection


# --- the organisation (admin consent) ---------------------------------------------------------


@dataclass(frozen=True)
class ConsentStart:
    """Where to send the administrator, and the state that must come back unchanged."""

    url: str
    state: str


def organisation_consent_start(*, profile: SyncProfile, redirect_uri: str) -> ConsentStart:
    microsoft_connection_get(profile=profile)
    state = secrets.token_urlsafe(32)
    try:
        url = admin_consent_url(redirect_uri=redirect_uri, state=state)
    except MICROSOFT_ERRORS as error:
        raise _problem(error) from error
    return ConsentStart(url=url, state=state)


def _consent_error(query: Mapping[str, str], *, who: str) -> str:
    error = query.get("error", "")
    description = " ".join(query.get("error_description", "").split())
    if error == "access_denied" or "AADSTS65004" in description:
        return f"{who} declined the permissions on Microsoft's page."
    return description or error


@dataclass(frozen=True)
class ConsentAnswer:
    """Microsoft's admin-consent answer, checked. It comes back through the browser
    unsigned, so the organisation it names is only a claim: `connected` when it is the
    organisation the profile is connected to already (consent given again), else nothing is
    stored until an administrator of `directory_id` has signed in
    (`organisation_sign_in_start`, `organisation_sign_in_finish`)."""

    connection: MicrosoftConnection
    directory_id: str
    connected: bool


def _not_connected(reason: str) -> MicrosoftRefused:
    return MicrosoftRefused(f"Microsoft 365 was not connected: {reason} Nothing was changed.")


def _switch_refused(
    profile: SyncProfile, connection: MicrosoftConnection, directory_id: str
) -> None:
    """A profile whose mailboxes are linked stays in their organisation."""
    if not connection.directory_id or connection.directory_id == directory_id:
        return
    in_use = TargetAccount.objects.filter(linked_user__profile=profile).exclude(remote_user_id="")
    if in_use.exists():
        raise MicrosoftRefused(
            f"This profile's mailboxes are in the Microsoft 365 organisation "
            f"{connection.directory_id}, but consent was given for {directory_id}. "
            "Nothing was changed: sign in to Microsoft as an administrator of "
            "the profile's own organisation, or create another profile."
        )


def organisation_consent_finish(
    *, profile: SyncProfile, user: User, query: Mapping[str, str], expected_state: str
) -> ConsentAnswer:
    """Check Microsoft's admin-consent answer. Consent given again for the organisation the
    profile is connected to is stored at once (who, when; a lost consent is cleared); any
    other organisation is stored only after its administrator's sign-in confirms it."""
    connection = microsoft_connection_get(profile=profile)
    if not expected_state or not secrets.compare_digest(query.get("state", ""), expected_state):
        raise MicrosoftRefused(
            "Microsoft's answer does not belong to a connection started here (its state "
            "differs), so nothing was changed. Start again with “Connect Microsoft 365 "
            "organisation”."
        )
    if query.get("error"):
        raise _not_connected(_consent_error(query, who="the administrator"))
    directory_id = query.get("tenant", "")
    if query.get("admin_consent", "").lower() != "true" or not DIRECTORY_ID.match(directory_id):
        raise MicrosoftRefused(
            "Microsoft's answer says neither that consent was given nor for which "
            "organisation, so nothing was changed. Start again."
        )
    directory_id = directory_id.lower()
    _switch_refused(profile, connection, directory_id)
    if connection.directory_id != directory_id:
        return ConsentAnswer(connection=connection, directory_id=directory_id, connected=False)
    connection = _organisation_store(profile=profile, user=user, directory_id=directory_id)
    return ConsentAnswer(connection=connection, directory_id=directory_id, connected=True)


# What the confirming sign-in asks for: only who signed in, and in which organisation.
SIGN_IN_SCOPES = ("User.Read",)


def organisation_sign_in_start(
    *, profile: SyncProfile, directory_id: str, redirect_uri: str
) -> dict[str, Any]:
    """The administrator's sign-in in the organisation that consented: the flow to keep in
    the session; its auth_uri is where the administrator goes."""
    microsoft_connection_get(profile=profile)
    if not DIRECTORY_ID.match(directory_id):
        raise _not_connected("the organisation that consented is not known.")
    try:
        return authorization_flow_start(
            redirect_uri=redirect_uri,
            login_hint="",
            scopes=SIGN_IN_SCOPES,
            directory=directory_id.lower(),
        )
    except MICROSOFT_ERRORS as error:
        raise _not_connected(
            f"the organisation {directory_id} could not be confirmed: {_problem(error)}"
        ) from error


def organisation_sign_in_finish(
    *,
    profile: SyncProfile,
    user: User,
    directory_id: str,
    flow: Mapping[str, Any],
    query: Mapping[str, str],
) -> MicrosoftConnection:
    """Store the organisation once the administrator's sign-in confirms it: the id_token's
    directory (which MSAL got from Microsoft's token endpoint, not from the browser) must be
    the one the consent answer named."""
    connection = microsoft_connection_get(profile=profile)
    directory_id = directory_id.lower()
    if query.get("error"):
        reason = (
            "the administrator cancelled the sign-in that confirms the organisation."
            if query.get("error") == "access_denied"
            else _consent_error(query, who="the administrator")
        )
        raise _not_connected(reason)
    try:
        grant: DelegatedGrant = authorization_flow_finish(
            flow=dict(flow), query=query, directory=directory_id, require_refresh_token=False
        )
    except MICROSOFT_ERRORS as error:
        raise _not_connected(str(_problem(error))) from error
    if grant.directory_id.lower() != directory_id:
        raise _not_connected(
            f"{grant.username or 'the account signed in'} belongs to the Microsoft 365 "
            f"organisation {grant.directory_id}, but consent was given for {directory_id}. "
            "Sign in as an administrator of the organisation that gave consent."
        )
    _switch_refused(profile, connection, directory_id)
    return _organisation_store(profile=profile, user=user, directory_id=directory_id)


def _organisation_store(
    *, profile: SyncProfile, user: User, directory_id: str
) -> MicrosoftConnection:
    """The organisation confirmed: its id, who consented and when. Mailboxes linked already
    (by e-mail) are matched and become ready."""
    elsewhere = (
        MicrosoftConnection.objects.filter(
            directory_id=directory_id, profile__deleted_at__isnull=True
        )
        .exclude(profile__tenant_id=profile.tenant_id)
        .exists()
    )
    if elsewhere:
        raise _not_connected(
            f"the Microsoft 365 organisation {directory_id} is connected elsewhere already, "
            "to a profile of another SuperOffice customer, so it cannot be connected here."
        )
    with transaction.atomic():
        connection = MicrosoftConnection.objects.select_for_update().get(profile=profile)
        connection.directory_id = directory_id
        connection.consented_at = timezone.now()
        connection.consented_by = user
        connection.failure = ""
        connection.failed_at = None
        connection.full_clean()
        connection.save()
        if connection.access == MicrosoftAccess.APPLICATION:
            # The mailboxes refused us for want of the consent given now.
            TargetAccount.objects.filter(linked_user__profile=profile).exclude(failure="").update(
                failure="", failed_at=None
            )
        _ready(LinkedUser.objects.filter(profile=profile).values_list("pk", flat=True))
    if connection.access == MicrosoftAccess.APPLICATION:
        mailboxes_match_linked(profile=profile)
    return connection


def organisation_folder_rename(*, profile: SyncProfile, folder_name: str) -> MicrosoftConnection:
    """The folder name changes only while no mailbox has its folder yet: the engine keeps
    each mailbox's folder by its id, so a new name would not move contacts written already."""
    connection = microsoft_connection_get(profile=profile)
    if folder_name == connection.folder_name:
        return connection
    with_folder = (
        TargetAccount.objects.filter(linked_user__profile=profile).exclude(folder_id="").count()
    )
    if with_folder:
        raise MicrosoftRefused(
            f"The contact folder stays “{connection.folder_name}”: {with_folder} mailboxes "
            "have it already and their contacts are in it. Users can rename the folder in "
            "Outlook; Synchronizer keeps finding it."
        )
    connection.folder_name = folder_name
    connection.full_clean()
    connection.save(update_fields=["folder_name", "updated_at"])
    return connection


def organisation_access_set(*, profile: SyncProfile, access: str) -> MicrosoftConnection:
    """Application access (the organisation's consent) or delegated (each user's own)."""
    connection = microsoft_connection_get(profile=profile)
    if access not in MicrosoftAccess.values:
        raise MicrosoftRefused("Choose how Synchronizer reaches the mailboxes.")
    if access == connection.access:
        return connection
    with transaction.atomic():
        connection.access = access
        connection.save(update_fields=["access", "updated_at"])
        _ready(LinkedUser.objects.filter(profile=profile).values_list("pk", flat=True))
    if access == MicrosoftAccess.APPLICATION and connection.is_connected:
        mailboxes_match_linked(profile=profile)
    return connection


# --- matching SuperOffice users to mailboxes ------------------------------------------------


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
            f"The organisation's mailboxes could not be listed: {_problem(error)}"
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
    _ready([linked_user.pk])
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
        _ready(matched)
    return len(matched)


# --- a user's own mailbox (delegated consent) ----------------------------------------------------


def mailbox_connect_start(*, linked_user: LinkedUser, redirect_uri: str) -> dict[str, Any]:
    """The sign-in flow to keep in the session; its auth_uri is where the user goes."""
    connection = microsoft_connection_get(profile=linked_user.profile)
    if connection.access != MicrosoftAccess.DELEGATED:
        raise MicrosoftRefused(
            "The organisation's administrator connects every mailbox of this profile; "
            "there is nothing for you to connect."
        )
    account = TargetAccount.objects.filter(linked_user=linked_user).first()
    login_hint = (account.username if account else "") or linked_user.email
    try:
        return authorization_flow_start(redirect_uri=redirect_uri, login_hint=login_hint)
    except MICROSOFT_ERRORS as error:
        raise _problem(error) from error


def mailbox_connect_finish(
    *, linked_user: LinkedUser, flow: Mapping[str, Any], query: Mapping[str, str]
) -> TargetAccount:
    """Store the user's delegated grant: their refresh token (encrypted), which mailbox it
    is, and that it works."""
    connection = microsoft_connection_get(profile=linked_user.profile)
    if query.get("error"):
        raise MicrosoftRefused(
            f"Your mailbox was not connected: {_consent_error(query, who='you')} "
            "Nothing was changed."
        )
    try:
        grant: DelegatedGrant = authorization_flow_finish(flow=dict(flow), query=query)
    except MICROSOFT_ERRORS as error:
        raise MicrosoftRefused(
            f"Your mailbox was not connected: {_problem(error)} Nothing was changed."
        ) from error
    if connection.directory_id and grant.directory_id.lower() != connection.directory_id:
        raise MicrosoftRefused(
            f"{grant.username} belongs to another Microsoft 365 organisation than this "
            "profile's; nothing was changed. Sign in with your work account."
        )
    clash = (
        TargetAccount.objects.filter(
            linked_user__tenant_id=linked_user.tenant_id,
            linked_user__deleted_at__isnull=True,
            remote_user_id=grant.user_object_id,
        )
        .exclude(linked_user=linked_user)
        .select_related("linked_user")
        .first()
    )
    if clash is not None:
        raise MicrosoftRefused(
            f"The mailbox {grant.username} is connected for {clash.linked_user} already; "
            "nothing was changed."
        )
    with transaction.atomic():
        account, _ = TargetAccount.objects.select_for_update().get_or_create(
            linked_user=linked_user
        )
        switched = account.remote_user_id and account.remote_user_id != grant.user_object_id
        if switched and (account.folder_id or linked_user.person_mappings.exists()):
            raise MicrosoftRefused(
                f"You signed in as {grant.username}, but Synchronizer writes into the "
                f"mailbox {account.username}. Nothing was changed: sign in as "
                f"{account.username}."
            )
        account.username = grant.username
        account.remote_user_id = grant.user_object_id
        account.secret = grant.refresh_token
        account.verified_at = timezone.now()
        account.failure = ""
        account.failed_at = None
        account.full_clean()
        account.save()
        _ready([linked_user.pk])
    return account


# --- in words, for the pages ------------------------------------------------------------------


def organisation_state_words(connection: MicrosoftConnection) -> str:
    """The organisation's connection in one sentence."""
    if connection.access == MicrosoftAccess.DELEGATED:
        return "Each user connects their own mailbox with “Connect Microsoft 365” on their page."
    if connection.failure:
        return (
            f"Microsoft 365 stopped accepting the organisation's connection: "
            f"{connection.failure} Connect it again."
        )
    if not connection.is_connected:
        return "Not connected yet: a Microsoft 365 administrator connects the organisation."
    by = connection.consented_by.get_full_name() if connection.consented_by else ""
    when = timezone.localtime(connection.consented_at).strftime("%-d %b %Y %H:%M")
    return f"Connected on {when}" + (f" by {by}." if by else ".")
