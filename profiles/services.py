"""Changing profiles and links."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from profiles.models import (
    LinkedUser,
    MicrosoftConnection,
    SyncProfile,
    TargetAccount,
    TargetKind,
    Tenant,
)
from profiles.signals import link_readiness_changed


def _readiness_may_have_changed(linked_user: LinkedUser) -> None:
    link_readiness_changed.send(sender=LinkedUser, linked_user_id=linked_user.pk)


@transaction.atomic
def profile_create(
    *, tenant: Tenant, name: str, target_kind: str = TargetKind.CARDDAV, carddav_url: str = ""
) -> SyncProfile:
    profile = SyncProfile(
        tenant=tenant, name=name.strip(), target_kind=target_kind, carddav_url=carddav_url
    )
    profile.full_clean()
    profile.save()
    if target_kind == TargetKind.MICROSOFT_GRAPH:
        MicrosoftConnection.objects.create(profile=profile)
    return profile


def _synced_users(profile: SyncProfile) -> int:
    """How many of the profile's users (deleted links too: an undelete resumes them) have
    contacts written or a mailbox connected."""
    return (
        LinkedUser.objects.filter(profile=profile)
        .filter(Q(person_mappings__isnull=False) | Q(target_account__verified_at__isnull=False))
        .distinct()
        .count()
    )


@transaction.atomic
def profile_update(
    *, profile: SyncProfile, name: str, carddav_url: str, target_kind: str
) -> SyncProfile:
    """Save a profile's name, server and mailbox system.

    The system changes only while no user has synced: every contact written so far would
    stay in the mailboxes with nobody to update or remove it."""
    old_kind = profile.target_kind
    if target_kind != old_kind:
        synced = _synced_users(profile)
        if synced:
            raise ValidationError(
                f"The mailbox system stays {profile.get_target_kind_display()}: "
                f"{synced} of this profile's users have a connected mailbox or contacts "
                "synced into it. Changing the system would orphan every contact "
                "Synchronizer wrote there: they would stay in the mailboxes and never be "
                "updated or removed again. Create another profile for the other system "
                "instead."
            )
    profile.name = name.strip()
    profile.carddav_url = carddav_url
    profile.target_kind = target_kind
    profile.full_clean()
    profile.save(update_fields=["name", "carddav_url", "target_kind", "updated_at"])
    if target_kind != old_kind:
        # Untested credentials of the old system mean nothing to the new one.
        TargetAccount.objects.filter(linked_user__profile=profile).delete()
        if target_kind == TargetKind.MICROSOFT_GRAPH:
            MicrosoftConnection.objects.get_or_create(profile=profile)
    return profile


def profile_delete(*, profile: SyncProfile) -> None:
    """Hide the profile; its links stop running but keep their state for an undelete."""
    profile.soft_delete()


def profile_undelete(*, profile: SyncProfile) -> None:
    profile.undelete()


def profile_delete_permanently(*, profile: SyncProfile) -> None:
    """Remove a soft-deleted profile for good, with its links, preferences and history.
    Contacts already written stay in the mailboxes."""
    if not profile.is_deleted:
        raise ValidationError(
            "Delete the profile first; only a deleted profile can be removed for good."
        )
    profile.delete()


def linked_user_link(
    *, profile: SyncProfile, associate_id: int, email: str, full_name: str = ""
) -> LinkedUser:
    """Link an associate of the profile's tenant to the profile."""
    if profile.is_deleted:
        raise ValidationError("This profile is deleted; undelete it before linking users.")
    existing = (
        LinkedUser.objects.alive()
        .filter(tenant_id=profile.tenant_id, associate_id=associate_id)
        .select_related("profile")
        .first()
    )
    if existing is not None:
        raise ValidationError(f"{existing} is already linked to the profile “{existing.profile}”.")
    user = profile.tenant.users.filter(associate_id=associate_id).first()
    linked_user = LinkedUser(
        tenant=profile.tenant,
        profile=profile,
        user=user,
        associate_id=associate_id,
        email=email,
        full_name=full_name,
    )
    linked_user.full_clean()
    linked_user.save()
    _readiness_may_have_changed(linked_user)
    return linked_user


def linked_user_delete(*, linked_user: LinkedUser) -> None:
    linked_user.soft_delete()


@transaction.atomic
def linked_user_undelete(*, linked_user: LinkedUser) -> None:
    """Restore a deleted link with its mappings intact, so nothing is written twice."""
    clash = (
        LinkedUser.objects.alive()
        .filter(tenant_id=linked_user.tenant_id, associate_id=linked_user.associate_id)
        .exclude(pk=linked_user.pk)
        .select_related("profile")
        .first()
    )
    if clash is not None:
        raise ValidationError(
            f"{linked_user} cannot be restored: they are linked to the profile "
            f"“{clash.profile}” now. Delete that link first."
        )
    linked_user.undelete()
    _readiness_may_have_changed(linked_user)


def linked_user_set_enabled(*, linked_user: LinkedUser, enabled: bool) -> None:
    """Disable (a leaver, a pause) or enable again; disabled links never run."""
    linked_user.is_enabled = enabled
    linked_user.save(update_fields=["is_enabled"])
    if enabled:
        _readiness_may_have_changed(linked_user)
