"""Whether a linked user's runs can happen yet, and if not, why in words."""

from __future__ import annotations

from profiles.models import LinkedUser, SuperOfficeToken, TargetAccount


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
    verified_at = (
        TargetAccount.objects.filter(linked_user=linked_user)
        .values_list("verified_at", flat=True)
        .first()
    )
    if verified_at is None:
        reasons.append("Waiting for mailbox credentials that have been tested.")
    return reasons
