"""Tenant access to held preference changes, by the rule of their profile: 404 to anyone
outside the change's tenant, 403 to members who are not its administrators."""

from __future__ import annotations

from uuid import UUID

from django.http import Http404

from preferences.models import PendingPreferenceChange
from profiles.access import get_profile_for_admin
from profiles.models import User


def get_pending_change_for_admin(*, user: User, code: UUID) -> PendingPreferenceChange:
    if not user.is_authenticated or user.tenant_id is None:
        raise Http404
    pending = (
        PendingPreferenceChange.objects.select_related("profile", "proposed_by", "decided_by")
        .filter(code=code, profile__tenant_id=user.tenant_id)
        .first()
    )
    if pending is None:
        raise Http404
    # The profile's own rule: a deleted profile is gone, members are refused.
    get_profile_for_admin(user=user, code=pending.profile.code)
    return pending
