"""Connecting a profile to a Microsoft 365 organisation: an administrator's consent,
confirmed by their sign-in to that organisation (Microsoft's consent answer is not signed,
so the directory is taken from the sign-in); the contact folder and the access mode.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from profiles.models import (
    LinkedUser,
    MicrosoftAccess,
    MicrosoftConnection,
    SyncProfile,
    TargetAccount,
    User,
)
from syncengine.microsoft_connection import (
    MICROSOFT_ERRORS,
    MicrosoftRefused,
    consent_error_in_words,
    links_ready,
    microsoft_connection_get,
    refusal_in_words,
)
from syncengine.microsoft_linking import mailboxes_match_linked
from syncengine.targets.microsoft.identity import (
    DelegatedGrant,
    admin_consent_url,
    authorization_flow_finish,
    authorization_flow_start,
)

# Microsoft Entra tenant ids are GUIDs; anything else in a callback is not Microsoft's.
DIRECTORY_ID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


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
        raise refusal_in_words(error) from error
    return ConsentStart(url=url, state=state)


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
        raise _not_connected(consent_error_in_words(query, who="the administrator"))
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
            f"the organisation {directory_id} could not be confirmed: {refusal_in_words(error)}"
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
            else consent_error_in_words(query, who="the administrator")
        )
        raise _not_connected(reason)
    try:
        grant: DelegatedGrant = authorization_flow_finish(
            flow=dict(flow), query=query, directory=directory_id, require_refresh_token=False
        )
    except MICROSOFT_ERRORS as error:
        raise _not_connected(str(refusal_in_words(error))) from error
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
        links_ready(LinkedUser.objects.filter(profile=profile).values_list("pk", flat=True))
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
        links_ready(LinkedUser.objects.filter(profile=profile).values_list("pk", flat=True))
    if access == MicrosoftAccess.APPLICATION and connection.is_connected:
        mailboxes_match_linked(profile=profile)
    return connection
