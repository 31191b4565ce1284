"""Tenant access: the one way views reach tenant-owned rows.

Every helper answers 404 to anyone outside the row's tenant, so outsiders cannot even
learn that a code exists, and 403 to members of the tenant who lack the right.
"""

from __future__ import annotations

from uuid import UUID

from django.core.exceptions import PermissionDenied
from django.http import Http404

from profiles.models import LinkedUser, SyncProfile, User


def _tenant_of(user: User) -> int:
    if not user.is_authenticated or user.tenant_id is None:
        raise Http404
    return user.tenant_id


def get_profile_for_admin(*, user: User, code: UUID, include_deleted: bool = False) -> SyncProfile:
    """A profile of the user's tenant, for a SuperOffice administrator of that tenant."""
    profiles = SyncProfile.objects.filter(tenant_id=_tenant_of(user))
    if not include_deleted:
        profiles = profiles.alive()
    profile = profiles.filter(code=code).first()
    if profile is None:
        raise Http404
    if not user.is_superoffice_admin:
        raise PermissionDenied
    return profile


def get_linked_user_for_user(
    *, user: User, code: UUID, include_deleted: bool = False
) -> LinkedUser:
    """A link of the user's tenant: their own, or any of them for an administrator."""
    links = LinkedUser.objects.select_related("profile", "tenant").filter(
        tenant_id=_tenant_of(user), profile__deleted_at__isnull=True
    )
    if not include_deleted:
        links = links.alive()
    linked_user = links.filter(code=code).first()
    if linked_user is None:
        raise Http404
    if linked_user.user_id != user.pk and not user.is_superoffice_admin:
        # Another member's link: not theirs to see, and not even to know about.
        raise Http404
    return linked_user
