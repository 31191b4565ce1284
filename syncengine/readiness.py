"""Whether a linked user's runs can happen yet, and if not, why in words."""

from __future__ import annotations

from profiles.models import (
    LinkedUser,
    MicrosoftAccess,
    MicrosoftConnection,
    SuperOfficeToken,
    TargetAccount,
    TargetKind,
)


def link_waiting_for(linked_user: LinkedUser) -> list[str]:
    """Why the user's runs cannot happen yet, in words; empty when they can."""
    reasons: list[str] = []
    if linked_user.deleted_at is not None or linked_user.profile.deleted_at is not None:
        reasons.append("The link is deleted.")
    elif not linked_user.is_enabled:
        reasons.append("The link is disabled.")
    # Only the token's state: its secrets need not be decrypted to tell.
    token_state = (
        SuperOfficeToken.objects.filter(user_id=linked_user.user_id)
        .values_list("refresh_failed_at", "refresh_error")
        .first()
        if linked_user.user_id
        else None
    )
    if token_state is None:
        reasons.append("Waiting for sign-in: the user has not signed in with SuperOffice yet.")
    elif token_state[0] is not None:
        reasons.append(f"Waiting for sign-in: {token_state[1]}")
    if linked_user.profile.target_kind == TargetKind.MICROSOFT_GRAPH:
        reasons.extend(_microsoft_waiting_for(linked_user))
        return reasons
    verified_at = (
        TargetAccount.objects.filter(linked_user=linked_user)
        .values_list("verified_at", flat=True)
        .first()
    )
    if verified_at is None:
        reasons.append("Waiting for mailbox credentials that have been tested.")
    return reasons


def _microsoft_waiting_for(linked_user: LinkedUser) -> list[str]:
    connection = MicrosoftConnection.objects.filter(profile_id=linked_user.profile_id).first()
    account = (
        TargetAccount.objects.filter(linked_user=linked_user)
        .values("verified_at", "remote_user_id", "failure")
        .first()
    )
    delegated = connection is not None and connection.access == MicrosoftAccess.DELEGATED
    if delegated:
        has_grant = TargetAccount.objects.filter(linked_user=linked_user).exclude(secret="")
        if account is not None and account["failure"]:
            return [
                f"Microsoft 365 stopped accepting the mailbox's connection: "
                f"{account['failure']} The user connects again with “Connect Microsoft 365”."
            ]
        if account is None or account["verified_at"] is None or not has_grant.exists():
            return [
                "Waiting for the user to connect their Microsoft 365 mailbox "
                "(“Connect Microsoft 365” on their page)."
            ]
        return []
    if connection is not None and connection.failure:
        return [
            f"Microsoft 365 stopped accepting the organisation's connection: "
            f"{connection.failure} An administrator connects it again on the profile page."
        ]
    if connection is None or not connection.is_connected:
        return [
            "Waiting for a Microsoft 365 administrator to connect the organisation "
            "on the profile page."
        ]
    if account is None or not account["remote_user_id"] or account["verified_at"] is None:
        return ["Waiting for a mailbox: no Microsoft 365 mailbox of the organisation is linked."]
    if account["failure"]:
        return [f"Microsoft 365 refused the mailbox: {account['failure']}"]
    return []
