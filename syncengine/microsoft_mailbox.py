"""A user's own mailbox with delegated access: they sign in to Microsoft 365 once, and
their refresh token (kept encrypted, rotated on every use) reaches the mailbox later.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from profiles.models import LinkedUser, MicrosoftAccess, TargetAccount
from syncengine.microsoft_connection import (
    MICROSOFT_ERRORS,
    MicrosoftRefused,
    consent_error_in_words,
    links_ready,
    microsoft_connection_get,
    refusal_in_words,
)
from syncengine.targets.microsoft.identity import (
    DelegatedGrant,
    authorization_flow_finish,
    authorization_flow_start,
)


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
        raise refusal_in_words(error) from error


def mailbox_connect_finish(
    *, linked_user: LinkedUser, flow: Mapping[str, Any], query: Mapping[str, str]
) -> TargetAccount:
    """Store the user's delegated grant: their refresh token (encrypted), which mailbox it
    is, and that it works."""
    connection = microsoft_connection_get(profile=linked_user.profile)
    if query.get("error"):
        raise MicrosoftRefused(
            f"Your mailbox was not connected: {consent_error_in_words(query, who='you')} "
            "Nothing was changed."
        )
    try:
        grant: DelegatedGrant = authorization_flow_finish(flow=dict(flow), query=query)
    except MICROSOFT_ERRORS as error:
        raise MicrosoftRefused(
            f"Your mailbox was not connected: {refusal_in_words(error)} Nothing was changed."
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
        links_ready([linked_user.pk])
    return account
