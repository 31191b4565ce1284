"""Tenant access: the one way views reach tenant-owned rows.

Every helper answers 404 to anyone outside the row's tenant, so outsiders cannot even
learn that a code exists, and 403 to members of the tenant who lack the right.
"""

from __future__ import annotations

from typing import TypeVar
from uuid import UUID

from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404

from profiles.models import LinkedUser, SyncProfile, Tenant, User

_Row = TypeVar("_Row", bound=Model)


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


def get_own_linked_user_for_user(*, user: User, code: UUID) -> LinkedUser:
    """The user's own link, for what only its owner may do (sign in to their own mailbox):
    the same answers as get_linked_user_for_user, and 403 to an administrator of the
    tenant, who may see another member's link but not act as them."""
    linked_user = get_linked_user_for_user(user=user, code=code)
    if linked_user.user_id != user.pk:
        raise PermissionDenied
    return linked_user


def get_tenant_for_admin(*, user: User) -> Tenant:
    """The user's tenant, for pages about the whole tenant that only its administrators see."""
    tenant_id = _tenant_of(user)
    if not user.is_superoffice_admin:
        raise PermissionDenied
    return Tenant.objects.get(pk=tenant_id)


def get_linked_user_for_admin(
    *, user: User, code: UUID, include_deleted: bool = False
) -> LinkedUser:
    """A link of the user's tenant, for a SuperOffice administrator of that tenant."""
    links = LinkedUser.objects.select_related("profile", "tenant", "user").filter(
        tenant_id=_tenant_of(user), profile__deleted_at__isnull=True
    )
    if not include_deleted:
        links = links.alive()
    linked_user = links.filter(code=code).first()
    if linked_user is None:
        raise Http404
    if not user.is_superoffice_admin:
        raise PermissionDenied
    return linked_user


def get_linked_row_for_user(*, user: User, rows: QuerySet[_Row], code: UUID) -> _Row:
    """A row that belongs to a link (a run of it, …): the same rule as the link itself.

    `rows` is any queryset of a model with a `linked_user` foreign key and a `code`.
    """
    row = (
        rows.filter(code=code, linked_user__tenant_id=_tenant_of(user))
        .select_related("linked_user")
        .first()
    )
    if row is None:
        raise Http404
    owner: LinkedUser = row.linked_user  # type: ignore[attr-defined]
    # The same answers as for the link: 404 for another member's, even for a deleted link.
    get_linked_user_for_user(user=user, code=owner.code, include_deleted=True)
    return row
