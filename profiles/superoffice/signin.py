"""What a SuperOffice sign-in records: the tenant, the user's role, their tokens, their links."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from profiles.models import LinkedUser, SuperOfficeToken, Tenant, User
from profiles.signals import link_readiness_changed
from profiles.superoffice.claims import SuperOfficeIdentity
from profiles.superoffice.environments import superoffice_environment_name

# SuperOffice documents both one hour and 20 minutes; trust expires_in, else assume the shorter.
FALLBACK_TOKEN_LIFETIME = timedelta(minutes=20)


class TenantNotSetUp(Exception):
    """Nobody with administrator rights has signed in for this tenant yet."""


def tenant_for_sign_in(*, identity: SuperOfficeIdentity) -> Tenant:
    """The tenant of the identity, created or refreshed from the claims.

    Only a SuperOffice administrator can bring a new tenant in: everyone else's company
    has to be set up by an administrator first.
    """
    tenant = Tenant.objects.filter(context_identifier=identity.context_identifier).first()
    if tenant is None and not identity.is_administrator:
        raise TenantNotSetUp(identity.context_identifier)
    if tenant is None:
        tenant = Tenant(context_identifier=identity.context_identifier)
    tenant.name = identity.company_name or tenant.name
    tenant.webapi_url = identity.webapi_url or tenant.webapi_url
    tenant.environment = superoffice_environment_name()
    tenant.save()
    return tenant


def user_apply_identity(*, user: User, identity: SuperOfficeIdentity, tenant: Tenant) -> None:
    """Fill an (unsaved or saved) user from the claims of this sign-in."""
    user.tenant = tenant
    user.associate_id = identity.associate_id
    user.is_superoffice_admin = identity.is_administrator
    user.email = identity.email or user.email
    if not user.username:
        user.username = identity.username


@transaction.atomic
def sign_in_record(
    *,
    user: User,
    identity: SuperOfficeIdentity,
    access_token: str,
    refresh_token: str,
    expires_at: datetime | None,
) -> None:
    """Store what a completed sign-in brings: role, encrypted tokens, and waiting links."""
    tenant = tenant_for_sign_in(identity=identity)
    user_apply_identity(user=user, identity=identity, tenant=tenant)
    user.save()
    token, _ = SuperOfficeToken.objects.select_for_update().get_or_create(
        user=user, defaults={"expires_at": timezone.now()}
    )
    token.access_token = access_token
    # SuperOffice issues a refresh token only in the code flow; keep the one we have.
    token.refresh_token = refresh_token or token.refresh_token
    token.expires_at = expires_at or timezone.now() + FALLBACK_TOKEN_LIFETIME
    token.refresh_failed_at = None
    token.refresh_error = ""
    token.save()
    # Links an admin made before this associate ever signed in.
    LinkedUser.objects.filter(
        tenant=tenant, associate_id=identity.associate_id, user__isnull=True
    ).update(user=user)
    for linked_user_id in LinkedUser.objects.alive().filter(user=user).values_list("pk", flat=True):
        link_readiness_changed.send(sender=LinkedUser, linked_user_id=linked_user_id)
