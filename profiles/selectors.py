"""Reading tenants, profiles and links, always within one tenant."""

from __future__ import annotations

from profiles.models import LinkedUser, SoftDeleteQuerySet, SyncProfile, Tenant, User


def profiles_for_tenant(
    *, tenant: Tenant, include_deleted: bool = False
) -> SoftDeleteQuerySet[SyncProfile]:
    profiles = SyncProfile.objects.filter(tenant=tenant)
    return profiles if include_deleted else profiles.alive()


def linked_users_for_profile(
    *, profile: SyncProfile, include_deleted: bool = False
) -> SoftDeleteQuerySet[LinkedUser]:
    links = LinkedUser.objects.filter(tenant_id=profile.tenant_id, profile=profile)
    return links if include_deleted else links.alive()


def linked_users_for_tenant(*, tenant: Tenant) -> SoftDeleteQuerySet[LinkedUser]:
    """Every live link of the tenant, in live profiles (the admin's Status page)."""
    return (
        LinkedUser.objects.alive()
        .filter(tenant=tenant, profile__deleted_at__isnull=True)
        .select_related("profile", "user")
    )


def links_for_user(*, user: User) -> SoftDeleteQuerySet[LinkedUser]:
    """The user's own live links (normally one), in live profiles."""
    if user.tenant_id is None:
        return LinkedUser.objects.none()
    return (
        LinkedUser.objects.alive()
        .filter(tenant_id=user.tenant_id, user=user, profile__deleted_at__isnull=True)
        .select_related("profile")
    )
