"""Tenant access to held preference changes, by the rule of profiles.access: 404 to
anyone outside the change's tenant, 403 to members who are not its administrators."""

from __future__ import annotations

from uuid import UUID

from django.core.exceptions import PermissionDenied
from django.http import Http404

from preferences.models import PendingPreferenceChange
from profiles.models import User


def get_pending_change_for_admin(*, user: User, code: UUID) -> PendingPreferenceChange:
    if not user.is_authenticated or user.tenant_id is None:
        raise Http404
    pending = (
        PendingPreferenceChange.objects.select_related("profile", "proposed_by", "decided_by")
        .filter(code=code, profile__tenant_id=user.tenant_id, profile__deleted_at__isnull=True)
        .first()
    )
    if pending is None:
        raise Http404
    if not user.is_superoffice_admin:
        raise PermissionDenied
    return pending
