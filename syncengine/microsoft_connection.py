"""A Microsoft 365 profile's connection as the portals see it, and Microsoft's refusals in
words: every problem Microsoft reports reaches the person as a MicrosoftRefused, and
nothing is stored then.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from profiles.models import LinkedUser, MicrosoftConnection, SyncProfile, TargetKind
from profiles.signals import link_readiness_changed
from syncengine.targets.base import TargetError
from syncengine.targets.microsoft.identity import ConsentRefused, MicrosoftNotConfigured

NOT_CONFIGURED = (
    "Microsoft 365 is not set up on this Synchronizer: its operator registers the app with "
    "Microsoft and sets MICROSOFT_CLIENT_ID and MICROSOFT_CLIENT_SECRET."
)


class MicrosoftRefused(Exception):
    """Nothing was changed; the message says why, for the person who asked."""


def refusal_in_words(error: Exception) -> MicrosoftRefused:
    """Any failure of Microsoft, or of reaching it, in words."""
    if isinstance(error, MicrosoftNotConfigured):
        return MicrosoftRefused(NOT_CONFIGURED)
    if isinstance(error, TargetError | ConsentRefused):
        return MicrosoftRefused(str(error))
    return MicrosoftRefused(f"Microsoft 365 could not be reached: {error}")


# Microsoft's errors, and failures to reach it, that the portal explains instead of failing.
MICROSOFT_ERRORS = (MicrosoftNotConfigured, TargetError, ConsentRefused, OSError)


def links_ready(linked_user_ids: Iterable[int]) -> None:
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


def consent_error_in_words(query: Mapping[str, str], *, who: str) -> str:
    error = query.get("error", "")
    description = " ".join(query.get("error_description", "").split())
    if error == "access_denied" or "AADSTS65004" in description:
        return f"{who} declined the permissions on Microsoft's page."
    return description or error
